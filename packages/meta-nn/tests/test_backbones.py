"""Few-shot backbones: shapes, submodule names, per-task BatchNorm, functional_call and vmap."""

from __future__ import annotations

import pytest
import torch
from meta_nn import MLP, ConvNet4, MiniImagenetCNN, OmniglotCNN
from torch import nn
from torch.func import functional_call, vmap

# vmap vs loop, float32 forward values
ATOL = 1e-5
RTOL = 1e-4


def test_mlp_sinusoid_structure(device):
    net = MLP([1, 40, 40, 1]).to(device)
    kinds = [type(layer) for layer in net.features] + [type(net.head)]
    assert kinds == [nn.Linear, nn.ReLU, nn.Linear, nn.ReLU, nn.Linear]
    assert net.head.in_features == 40
    assert net.head.out_features == 1
    assert net(torch.randn(10, 1, device=device)).shape == (10, 1)
    x = torch.randn(7, 1, device=device)
    expected = net.head(torch.relu(net.features[2](torch.relu(net.features[0](x)))))
    torch.testing.assert_close(net(x), expected)


def test_mlp_custom_activation_and_single_layer():
    net = MLP([3, 4, 2], activation=nn.Tanh)
    assert isinstance(net.features[1], nn.Tanh)
    linear = MLP([3, 2])
    assert len(linear.features) == 0
    assert linear(torch.zeros(2, 5, 3)).shape == (2, 5, 2)


def test_mlp_errors():
    with pytest.raises(ValueError, match=r"at least two sizes .* got \[3\]"):
        MLP([3])
    with pytest.raises(ValueError, match=r"MLP: sizes\[1\] must be a positive int, got 0"):
        MLP([3, 0, 1])
    with pytest.raises(TypeError, match=r"MLP: sizes\[0\] must be an int, got float"):
        MLP([1.5, 2])
    with pytest.raises(TypeError, match=r"sizes to be a sequence of ints, got 5"):
        MLP(5)
    with pytest.raises(TypeError, match=r"activation to be a zero-argument callable"):
        MLP([1, 2, 1], activation="relu")
    with pytest.raises(TypeError, match=r"activation\(\) to return an nn.Module, got builtin"):
        MLP([1, 2, 1], activation=lambda: torch.relu)
    message = r"MLP\(\[1, 40, 1\]\) expects input of shape \(\.\.\., 1\), got shape \(4, 2\)"
    with pytest.raises(ValueError, match=message):
        MLP([1, 40, 1])(torch.zeros(4, 2))


@pytest.mark.parametrize(
    ("factory", "shape", "feature_size"),
    [
        (lambda: OmniglotCNN(5), (6, 1, 28, 28), 64),
        (lambda: OmniglotCNN(20, hidden_size=32, layers=3), (2, 1, 28, 28), 32 * 3 * 3),
        (lambda: ConvNet4(5), (6, 1, 28, 28), 64),
        (lambda: MiniImagenetCNN(5), (3, 3, 84, 84), 32 * 5 * 5),
        (lambda: ConvNet4(4, 8, 2, in_channels=3, image_size=32), (2, 3, 32, 32), 8 * 8 * 8),
    ],
)
def test_conv_backbone_shapes(device, factory, shape, feature_size):
    net = factory().to(device)
    x = torch.randn(*shape, device=device)
    features = net.features(x)
    assert features.shape == (shape[0], feature_size)
    assert net.feature_size == feature_size
    assert isinstance(net.head, nn.Linear)
    assert net.head.in_features == feature_size
    logits = net(x)
    assert logits.shape == (shape[0], net.output_size)
    torch.testing.assert_close(logits, net.head(features))


def test_conv_backbone_structure_and_names():
    net = OmniglotCNN(5)
    assert isinstance(net, ConvNet4)
    names = [name for name, _ in net.named_parameters()]
    assert names[:4] == [
        "features.block0.conv.weight",
        "features.block0.conv.bias",
        "features.block0.norm.weight",
        "features.block0.norm.bias",
    ]
    assert names[-2:] == ["head.weight", "head.bias"]
    assert len(names) == 4 * 4 + 2
    block = net.features.block3
    assert [type(layer) for layer in block] == [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d]
    assert block.conv.kernel_size == (3, 3)
    assert block.pool.kernel_size == 2
    mini = MiniImagenetCNN(5)
    assert mini.features.block0.conv.in_channels == 3
    assert mini.features.block0.conv.out_channels == 32


@pytest.mark.parametrize("factory", [lambda: OmniglotCNN(5, 8), lambda: MiniImagenetCNN(5, 4)])
def test_batchnorm_is_per_task_without_buffers(device, factory):
    net = factory().to(device)
    assert list(net.named_buffers()) == []
    side = net.image_size
    task_a = torch.randn(5, net.in_channels, side, side, device=device)
    task_b = 3.0 * torch.randn(5, net.in_channels, side, side, device=device) + 2.0
    before = net(task_a)
    net(task_b)
    after = net(task_a)
    # same computation twice: bitwise equal on CPU; tiny slack for GPU kernel selection
    torch.testing.assert_close(after, before, atol=1e-6, rtol=0)
    # eval mode uses the batch statistics too: nothing was accumulated
    net.eval()
    torch.testing.assert_close(net(task_a), before, atol=1e-6, rtol=1e-5)
    # normalisation is per batch: first block output is a per-channel standard score
    block = net.features.block0
    normed = block.norm(block.conv(task_b))
    mean = normed.mean(dim=(0, 2, 3))
    torch.testing.assert_close(mean, block.norm.bias.detach(), atol=1e-4, rtol=0)


def _stacked_params(net: nn.Module, tasks: int, seed: int) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    stacked = {}
    for name, parameter in net.named_parameters():
        noise = 0.05 * torch.randn(tasks, *parameter.shape, generator=generator)
        stacked[name] = parameter.detach().unsqueeze(0) + noise.to(parameter.device)
    return stacked


@pytest.mark.parametrize(
    ("factory", "shape"),
    [
        (lambda: MLP([1, 40, 40, 1]), (10, 1)),
        (lambda: OmniglotCNN(5, 16), (10, 1, 28, 28)),
        (lambda: ConvNet4(5, 8, in_channels=3, image_size=32), (6, 3, 32, 32)),
        (lambda: MiniImagenetCNN(5, 8), (4, 3, 84, 84)),
    ],
)
def test_vmap_functional_call_over_tasks_equals_loop(device, factory, shape):
    torch.manual_seed(0)
    net = factory().to(device)
    tasks = 3
    params = _stacked_params(net, tasks, seed=1)
    inputs = torch.randn(tasks, *shape, device=device)
    batched = vmap(lambda p, x: functional_call(net, p, (x,)))(params, inputs)
    looped = torch.stack(
        [
            functional_call(net, {name: value[t] for name, value in params.items()}, (inputs[t],))
            for t in range(tasks)
        ]
    )
    assert batched.shape == (tasks, shape[0], looped.shape[-1])
    torch.testing.assert_close(batched, looped, atol=ATOL, rtol=RTOL)


def test_anil_style_head_only_functional_call(device):
    net = OmniglotCNN(5, 8).to(device)
    head = {f"head.{name}": torch.zeros_like(p) for name, p in net.head.named_parameters()}
    out = functional_call(net, head, (torch.randn(3, 1, 28, 28, device=device),), strict=False)
    torch.testing.assert_close(out, torch.zeros(3, 5, device=device))


def test_conv_backbone_errors():
    with pytest.raises(ValueError, match=r"OmniglotCNN: image_size=28 is too small for layers=5"):
        OmniglotCNN(5, layers=5)
    with pytest.raises(TypeError, match=r"MiniImagenetCNN: hidden_size must be an int, got str"):
        MiniImagenetCNN(5, hidden_size="32")
    with pytest.raises(ValueError, match=r"ConvNet4: output_size must be a positive int, got 0"):
        ConvNet4(0)
    with pytest.raises(
        ValueError,
        match=r"OmniglotCNN expects images of shape \(batch, 1, 28, 28\), got shape \(4, 784\)",
    ):
        OmniglotCNN(5)(torch.zeros(4, 784))
    with pytest.raises(
        ValueError, match=r"MiniImagenetCNN expects images of shape \(batch, 3, 84, 84\)"
    ):
        MiniImagenetCNN(5)(torch.zeros(2, 1, 84, 84))
    with pytest.raises(TypeError, match=r"ConvNet4 expects input to be a torch.Tensor"):
        ConvNet4(5)(None)
