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
    ConvBase,
    ConvBlock,
    DropBlock,
    OmniglotFC,
    ResNet12,
    ResNet12Backbone,
    WRN28Backbone,
    fc_init_,
    maml_init_,
)
from torch import nn


@pytest.mark.parametrize("name", ["meta_nn._cnn4", "meta_nn._resnets", "meta_nn._prototypical"])
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


# ------------------------------------------------------------------ CNN4 family

# learn2learn 0.2.0's layout, written down from its cnn4.py: a ConvBlock registers max_pool
# (a lambda when not pooling: no module), normalize (BatchNorm2d with running statistics), relu
# and conv, so its state_dict holds normalize's five entries, then conv's weight and bias.
L2L_CONV_BLOCK = [
    ("normalize.weight", ("out",)),
    ("normalize.bias", ("out",)),
    ("normalize.running_mean", ("out",)),
    ("normalize.running_var", ("out",)),
    ("normalize.num_batches_tracked", ()),
    ("conv.weight", ("out", "in", 3, 3)),
    ("conv.bias", ("out",)),
]


def l2l_conv_base_layout(hidden: int, channels: int, layers: int) -> list[tuple[str, tuple]]:
    """learn2learn's ConvBase state_dict: (key, shape) for blocks "0" .. str(layers - 1)."""
    layout = []
    for index in range(layers):
        sizes: dict[object, int] = {"out": hidden, "in": channels if index == 0 else hidden}
        for key, shape in L2L_CONV_BLOCK:
            layout.append((f"{index}.{key}", tuple(sizes.get(d, d) for d in shape)))
    return layout


def layout(module: nn.Module) -> list[tuple[str, tuple]]:
    return [(key, tuple(value.shape)) for key, value in module.state_dict().items()]


@pytest.mark.parametrize(
    ("kwargs", "hidden", "channels", "layers"),
    [
        ({}, 64, 1, 4),
        ({"hidden": 32, "channels": 3, "max_pool": True}, 32, 3, 4),
        ({"layers": 2, "hidden": 8}, 8, 1, 2),
    ],
)
def test_conv_base_has_learn2learns_state_dict(kwargs, hidden, channels, layers) -> None:
    assert layout(ConvBase(**kwargs)) == l2l_conv_base_layout(hidden, channels, layers)


def test_cnn4_state_dicts_match_learn2learns_keys_and_shapes() -> None:
    backbone = CNN4Backbone(hidden_size=16, layers=3, channels=3, max_pool=True)
    assert isinstance(backbone, ConvBase)
    assert all(isinstance(block, ConvBlock) for block in backbone)
    assert layout(backbone) == l2l_conv_base_layout(16, 3, 3)
    model = CNN4(5, hidden_size=16, layers=3, embedding_size=16 * 9)
    expected = [(f"features.{k}", shape) for k, shape in l2l_conv_base_layout(16, 3, 3)]
    expected += [("classifier.weight", (5, 16 * 9)), ("classifier.bias", (5,))]
    assert layout(model) == expected
    # learn2learn's OmniglotFC: features = Sequential(Flatten, Sequential(LinearBlock...)),
    # each LinearBlock registering normalize (no running statistics) before linear
    fc = OmniglotFC(12, 3, sizes=[6, 4])
    assert layout(fc) == [
        ("features.1.0.normalize.weight", (6,)),
        ("features.1.0.normalize.bias", (6,)),
        ("features.1.0.linear.weight", (6, 12)),
        ("features.1.0.linear.bias", (6,)),
        ("features.1.1.normalize.weight", (4,)),
        ("features.1.1.normalize.bias", (4,)),
        ("features.1.1.linear.weight", (4, 6)),
        ("features.1.1.linear.bias", (4,)),
        ("classifier.weight", (3, 4)),
        ("classifier.bias", (3,)),
    ]


@pytest.mark.parametrize(
    ("max_pool", "factor", "stride", "side"),
    [(True, 1.0, 2, 14), (False, 1.0, 2, 14), (True, 2.0, 4, 7), (False, 0.5, 1, 28)],
)
def test_conv_block_pools_or_strides(max_pool: bool, factor: float, stride: int, side: int):
    torch.manual_seed(0)
    block = ConvBlock(2, 6, 3, max_pool=max_pool, max_pool_factor=factor)
    assert block(torch.randn(3, 2, 28, 28)).shape == (3, 6, side, side)
    assert block.conv.kernel_size == (3, 3)
    assert block.conv.padding == (1, 1)
    if max_pool:
        assert block.conv.stride == (1, 1)
        assert (block.max_pool.kernel_size, block.max_pool.stride) == (stride, stride)
    else:
        assert block.conv.stride == (stride, stride)
        assert isinstance(block.max_pool, nn.Identity)
    # forward order: conv -> normalize -> relu -> pool
    x = torch.randn(3, 2, 28, 28)
    expected = block.max_pool(torch.relu(block.normalize(block.conv(x))))
    assert torch.equal(block(x), expected)
    assert ConvBlock(2, 6, (3, 5))(torch.randn(1, 2, 8, 8)).shape == (1, 6, 4, 3)


def test_conv_base_defaults_are_learn2learns_omniglot_trunk() -> None:
    base = ConvBase()
    assert len(base) == 4
    assert base[0].conv.in_channels == 1
    assert base[3].conv.out_channels == 64
    assert all(isinstance(block.max_pool, nn.Identity) for block in base)
    assert base(torch.randn(2, 1, 28, 28)).shape == (2, 64, 2, 2)  # 28 -> 14 -> 7 -> 4 -> 2


def test_maml_init_statistics() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(300, 200)
    assert maml_init_(layer) is layer
    bound = (6 / (300 + 200)) ** 0.5  # Xavier-uniform, gain 1
    assert torch.equal(layer.bias, torch.zeros(200))
    assert layer.weight.abs().max() <= bound
    assert layer.weight.abs().max() > 0.99 * bound
    assert abs(layer.weight.std().item() - bound / 3**0.5) < 0.01 * bound
    conv = maml_init_(nn.Conv2d(4, 8, 3))
    assert conv.weight.abs().max() <= (6 / (4 * 9 + 8 * 9)) ** 0.5
    assert torch.equal(conv.bias, torch.zeros(8))
    no_bias = maml_init_(nn.Linear(3, 2, bias=False))
    assert no_bias.bias is None
    with pytest.raises(TypeError, match="maml_init_ expects a layer with a weight tensor"):
        maml_init_(nn.ReLU())
    with pytest.raises(ValueError, match=r"at least 2 dimensions.*weight shape \(4,\)"):
        maml_init_(nn.BatchNorm1d(4))
    with pytest.raises(TypeError, match=r"maml_init_ expects an nn\.Module, got Tensor"):
        maml_init_(torch.zeros(2, 2))  # type: ignore[type-var]


def test_fc_init_statistics() -> None:
    torch.manual_seed(0)
    layer = nn.Linear(400, 300)
    assert fc_init_(layer) is layer
    weight = layer.weight
    assert torch.equal(layer.bias, torch.zeros(300))
    assert weight.abs().max() <= 0.02  # truncated at two standard deviations
    assert weight.abs().max() > 0.0199
    # a normal of std 0.01 truncated at +-2 std has std 0.01 * 0.8796
    assert abs(weight.std().item() - 0.008796) < 2e-4
    assert abs(weight.mean().item()) < 1e-4
    relu = nn.ReLU()
    assert fc_init_(relu) is relu  # nothing to initialise: left as it is, so apply() works
    model = nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 2))
    model.apply(fc_init_)
    assert all(torch.equal(model[i].bias, torch.zeros_like(model[i].bias)) for i in (0, 2))
    with pytest.raises(TypeError, match=r"fc_init_ expects an nn\.Module, got str"):
        fc_init_("linear")  # type: ignore[type-var]


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
        (lambda: ConvBase(hidden=0), ValueError, "ConvBase: hidden must be a positive int"),
        (lambda: ConvBase(layers=0), ValueError, "ConvBase: layers must be a positive int"),
        (lambda: ConvBase(max_pool_factor="2"), TypeError, "max_pool_factor must be a number"),
        (lambda: ConvBlock(1, 8, 0), ValueError, "ConvBlock: kernel_size must be a positive"),
        (lambda: ConvBlock(1, 8, (3, 3, 3)), ValueError, "an int or a pair of ints"),
        (lambda: ConvBlock(1.5, 8, 3), TypeError, "ConvBlock: in_channels must be an int"),
        (lambda: ConvBlock(1, 8, 3, max_pool_factor=0.4), ValueError, "at least 0.5"),
        (lambda: OmniglotFC(10, 2, sizes=[]), ValueError, "at least one hidden width"),
        (lambda: ResNet12(5, dropblock_dropout=1.0), ValueError, r"in \[0, 1\), got 1.0"),
        (lambda: WRN28Backbone(dropout=-0.1), ValueError, r"dropout must be in \[0, 1\)"),
    ],
)
def test_constructor_checks(build, error, message) -> None:
    with pytest.raises(error, match=message):
        build()
