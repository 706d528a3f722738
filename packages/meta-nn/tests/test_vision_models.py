"""learn2learn's vision models in meta-nn: shapes, submodule names, initialisation, DropBlock."""

from __future__ import annotations

import doctest
import importlib

import pytest
import torch
from meta_nn import (
    CNN4,
    WRN28,
    CNN4Backbone,
    DropBlock,
    OmniglotFC,
    ResNet12,
    ResNet12Backbone,
    WRN28Backbone,
)
from torch import nn


@pytest.mark.parametrize("name", ["meta_nn._cnn4", "meta_nn._resnets", "meta_nn._prototypical"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# ------------------------------------------------------------------ CNN4 family


@pytest.mark.parametrize(
    ("kwargs", "image", "features"),
    [
        ({}, (3, 84, 84), 64 * 6 * 6),  # strided convs: 84 -> 42 -> 21 -> 11 -> 6
        ({"max_pool": True}, (3, 84, 84), 64 * 5 * 5),  # pooling: 84 -> 42 -> 21 -> 10 -> 5
        ({"hidden_size": 16, "channels": 1}, (1, 28, 28), 16 * 2 * 2),  # 28 -> 14 -> 7 -> 4 -> 2
        ({"layers": 2, "max_pool": True, "max_pool_factor": 2.0}, (3, 32, 32), 64 * 2 * 2),
    ],
)
def test_cnn4_backbone_shapes(kwargs: dict[str, object], image: tuple[int, ...], features: int):
    backbone = CNN4Backbone(**kwargs)  # type: ignore[arg-type]
    assert backbone(torch.randn(2, *image)).shape == (2, features)


def test_cnn4_backbone_blocks_and_initialisation() -> None:
    torch.manual_seed(0)
    backbone = CNN4Backbone(hidden_size=8, layers=3, channels=2, max_pool=True)
    assert len(backbone) == 3
    names = list(backbone.state_dict())
    assert names[:5] == [
        "0.normalize.weight",
        "0.normalize.bias",
        "0.normalize.running_mean",
        "0.normalize.running_var",
        "0.normalize.num_batches_tracked",
    ]
    assert names[5:7] == ["0.conv.weight", "0.conv.bias"]
    block = backbone[0]
    assert block.conv.stride == (1, 1)
    assert isinstance(block.max_pool, nn.MaxPool2d)
    assert block.max_pool.kernel_size == 2
    assert torch.equal(block.conv.bias, torch.zeros(8))
    assert block.normalize.weight.min() >= 0.0
    assert block.normalize.weight.max() <= 1.0
    assert block.normalize.track_running_stats
    strided = CNN4Backbone(hidden_size=8, layers=1, channels=2)[0]
    assert strided.conv.stride == (2, 2)
    assert isinstance(strided.max_pool, nn.Identity)


def test_cnn4_is_learn2learns_mini_imagenet_net() -> None:
    model = CNN4(5)
    assert model.hidden_size == 64
    assert model.features(torch.randn(2, 3, 84, 84)).shape == (2, 1600)
    assert model(torch.randn(2, 3, 84, 84)).shape == (2, 5)
    assert model.classifier.in_features == 1600
    assert torch.equal(model.classifier.bias, torch.zeros(5))


def test_cnn4_with_two_layers_strides_by_four() -> None:
    # max_pool_factor = 4 // layers = 2: stride-4 convolutions
    model = CNN4(3, hidden_size=8, layers=2, channels=1, max_pool=False, embedding_size=8 * 2 * 2)
    assert model.features[0].conv.stride == (4, 4)
    assert model.features(torch.randn(2, 1, 28, 28)).shape == (2, 32)  # 28 -> 7 -> 2
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 3)


def test_omniglot_fc() -> None:
    torch.manual_seed(0)
    model = OmniglotFC(28 * 28, 7)
    widths = [block.linear.out_features for block in model.features[1]]
    assert widths == [256, 128, 64, 64]
    assert model(torch.randn(4, 1, 28, 28)).shape == (4, 7)
    assert model(torch.randn(4, 784)).shape == (4, 7)
    assert model.input_size == 784
    weight = model.features[1][0].linear.weight
    assert weight.abs().max() <= 0.02
    assert 0.003 < weight.std() < 0.01
    norm = model.features[1][0].normalize
    assert (norm.momentum, norm.eps, norm.track_running_stats) == (0.999, 1e-3, False)
    assert OmniglotFC(10, 2, sizes=[5])(torch.randn(3, 10)).shape == (3, 2)


# ------------------------------------------------------------------ residual nets


def test_resnet12_shapes_on_84x84_images() -> None:
    with torch.device("meta"):  # shapes only: the full-size forward is slow on a CPU
        images = torch.empty(2, 3, 84, 84)
        assert ResNet12Backbone()(images).shape == (2, 640)
        assert ResNet12Backbone(wider=False)(images).shape == (2, 512)
        assert ResNet12Backbone(avg_pool=False)(images).shape == (2, 16000)
        assert ResNet12(5)(images).shape == (2, 5)
        assert ResNet12(5, hidden_size=16000, avg_pool=False)(images).shape == (2, 5)


def test_resnet12_structure_and_initialisation() -> None:
    model = ResNet12(5, channels=1)
    names = set(model.state_dict())
    for name in (
        "features.layer1.0.conv1.weight",
        "features.layer1.0.bn3.running_var",
        "features.layer1.0.downsample.0.weight",
        "features.layer4.0.downsample.1.bias",
        "classifier.weight",
    ):
        assert name in names
    assert model.features.layer1[0].conv1.in_channels == 1
    assert [model.features.layer4[0].conv3.out_channels] == [640]
    assert torch.equal(model.features.layer2[0].bn1.weight, torch.ones(160))
    assert not model.features.layer1[0].drop_block
    assert model.features.layer3[0].drop_block
    assert model.features.layer3[0].dropblock.block_size == 5


def test_resnet12_trains_on_small_images() -> None:
    torch.manual_seed(0)
    model = ResNet12(3, avg_pool=False, dropblock_dropout=0.1)
    images = torch.randn(2, 3, 16, 16)  # 16 -> 8 -> 4 -> 2 -> 1: 640 features
    logits = model(images)
    assert logits.shape == (2, 3)
    logits.sum().backward()
    assert model.features.layer1[0].conv1.weight.grad is not None
    assert model.features.layer3[0].num_batches_tracked == 1
    model.eval()
    torch.testing.assert_close(model(images), model(images))


def test_dropblock_drops_whole_blocks_and_rescales() -> None:
    torch.manual_seed(0)
    block = DropBlock(block_size=3)
    x = torch.ones(4, 2, 9, 9)
    out = block(x, gamma=0.05)
    dropped = out == 0
    assert dropped.any()
    kept = out[~dropped]
    torch.testing.assert_close(kept, torch.full_like(kept, x.numel() / kept.numel()))
    # every dropped pixel lies in a fully dropped 3x3 square (one starting 0-2 rows/cols before)
    full = (torch.nn.functional.avg_pool2d(dropped.float(), 3, stride=1) == 1.0).float()
    covered = torch.nn.functional.max_pool2d(
        torch.nn.functional.pad(full, (2, 2, 2, 2)), 3, stride=1
    )
    assert covered.shape == dropped.shape
    assert bool((covered[dropped] == 1.0).all())
    assert torch.equal(block.eval()(x, gamma=0.5), x)
    assert torch.equal(DropBlock(3).train()(x, gamma=0.0), x)


def test_wrn28_shapes_and_size() -> None:
    with torch.device("meta"):
        model = WRN28(5)
        assert model(torch.empty(2, 3, 84, 84)).shape == (2, 5)
        assert model.features(torch.empty(1, 3, 84, 84)).shape == (1, 640)
    assert sum(p.numel() for p in model.parameters()) == 36_486_085
    assert len(model.features.layer1) == 4
    assert model.features.bn1.momentum == 0.9
    assert "features.layer2.0.shortcut.0.weight" in model.state_dict()
    with pytest.raises(ValueError, match=r"H, W >= 84 .* got shape \(2, 3, 32, 32\)"):
        WRN28Backbone()(torch.empty(2, 3, 32, 32, device="meta"))


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: CNN4(5, layers=5), ValueError, "layers must be 1 to 4"),
        (lambda: CNN4(0), ValueError, "output_size must be a positive int"),
        (lambda: CNN4Backbone(max_pool_factor=0.25), ValueError, "at least 0.5"),
        (lambda: CNN4Backbone(hidden_size=2.0), TypeError, "hidden_size must be an int"),
        (lambda: OmniglotFC(10, 2, sizes=[]), ValueError, "at least one hidden width"),
        (lambda: ResNet12(5, dropblock_dropout=1.0), ValueError, r"in \[0, 1\), got 1.0"),
        (lambda: WRN28Backbone(dropout=-0.1), ValueError, r"dropout must be in \[0, 1\)"),
    ],
)
def test_constructor_checks(build, error, message) -> None:
    with pytest.raises(error, match=message):
        build()
