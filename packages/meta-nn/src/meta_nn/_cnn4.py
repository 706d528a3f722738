"""learn2learn's conv and fully connected few-shot models and their initialisation rules.

`ConvBlock`, `ConvBase`, `CNN4Backbone`, `CNN4`, `OmniglotFC`, `maml_init_` and `fc_init_`:
constructor arguments, defaults, submodule names (so ``state_dict`` keys), initialisation and
output shapes follow learn2learn's ``l2l.vision.models``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import TypeVar

from torch import Tensor, nn

from ._layers import Flatten, check_positive_int, check_tensor

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def maml_init_(module: ModuleT) -> ModuleT:
    """Initialise a layer as MAML does: Xavier-uniform weight (gain 1), zero bias; in place.

    learn2learn's ``maml_init_``, used for the convolutions of `ConvBlock` and the
    classifier of `CNN4`.

    Args:
        module: A layer with a ``weight`` tensor of at least 2 dimensions (``nn.Linear``,
            ``nn.Conv2d``, ...) and a ``bias`` tensor or ``None``.

    Returns:
        ``module`` itself.

    Raises:
        TypeError: If ``module`` is not an ``nn.Module`` or has no ``weight`` tensor.
        ValueError: If its ``weight`` has fewer than 2 dimensions (no fan-in and fan-out).

    Examples:
        >>> import torch
        >>> layer = maml_init_(torch.nn.Linear(4, 3))
        >>> layer.bias.tolist(), bool(layer.weight.abs().max() <= (6 / 7) ** 0.5)
        ([0.0, 0.0, 0.0], True)
    """
    weight = _weight_of(module, "maml_init_")
    if weight is None:
        raise TypeError(
            f"maml_init_ expects a layer with a weight tensor (nn.Linear, nn.Conv2d, ...), "
            f"got {type(module).__name__} without one"
        )
    if weight.dim() < 2:
        raise ValueError(
            f"maml_init_ needs a weight of at least 2 dimensions (Xavier init uses fan-in and "
            f"fan-out), got {type(module).__name__} with weight shape {tuple(weight.shape)}"
        )
    nn.init.xavier_uniform_(weight, gain=1.0)
    _zero_bias(module)
    return module


def fc_init_(module: ModuleT) -> ModuleT:
    """Initialise a layer as learn2learn's fully connected nets: truncated normal, zero bias.

    learn2learn's ``fc_init_``: the ``weight`` is drawn from a normal of mean 0 and std 0.01
    truncated at two standard deviations (so within ``[-0.02, 0.02]``) and the ``bias`` set to
    zero, in place. A module without a ``weight`` (or ``bias``) tensor is left as it is, so
    ``model.apply(fc_init_)`` works.

    Args:
        module: The layer (typically ``nn.Linear``).

    Returns:
        ``module`` itself.

    Raises:
        TypeError: If ``module`` is not an ``nn.Module``.

    Examples:
        >>> import torch
        >>> layer = fc_init_(torch.nn.Linear(100, 50))
        >>> bool(layer.weight.abs().max() <= 0.02), layer.bias.abs().max().item()
        (True, 0.0)
    """
    weight = _weight_of(module, "fc_init_")
    if weight is not None:
        nn.init.trunc_normal_(weight, mean=0.0, std=0.01, a=-0.02, b=0.02)
    _zero_bias(module)
    return module


def _weight_of(module: object, owner: str) -> Tensor | None:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{owner} expects an nn.Module, got {type(module).__name__}")
    weight = getattr(module, "weight", None)
    return weight if isinstance(weight, Tensor) else None


def _zero_bias(module: nn.Module) -> None:
    bias = getattr(module, "bias", None)
    if isinstance(bias, Tensor):
        nn.init.constant_(bias, 0.0)


def _check_max_pool_factor(value: object, *, owner: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{owner}: max_pool_factor must be a number, got {value!r}")
    if int(2 * value) < 1:
        raise ValueError(
            f"{owner}: max_pool_factor must be at least 0.5 (stride int(2 * factor) >= 1), "
            f"got {value}"
        )
    return float(value)


def _check_kernel_size(value: object, *, owner: str) -> int | tuple[int, int]:
    if isinstance(value, tuple | list) and len(value) == 2:
        height, width = value
        return (
            check_positive_int(height, owner=owner, name="kernel_size[0]"),
            check_positive_int(width, owner=owner, name="kernel_size[1]"),
        )
    if isinstance(value, tuple | list):
        raise ValueError(f"{owner}: kernel_size must be an int or a pair of ints, got {value!r}")
    return check_positive_int(value, owner=owner, name="kernel_size")


class _LinearBlock(nn.Module):
    """``Linear -> BatchNorm1d (batch statistics only) -> ReLU``."""

    def __init__(self, input_size: int, output_size: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.normalize = nn.BatchNorm1d(
            output_size, affine=True, momentum=0.999, eps=1e-3, track_running_stats=False
        )
        self.linear = fc_init_(nn.Linear(input_size, output_size))

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.relu(self.normalize(self.linear(x)))
        return out


class ConvBlock(nn.Module):
    """learn2learn's ``ConvBlock``: ``Conv2d -> BatchNorm2d -> ReLU``, then max-pooling.

    Submodules, in ``state_dict`` order: ``normalize`` (``nn.BatchNorm2d`` with running
    statistics, its scale drawn from U(0, 1), bias 0) and ``conv`` (``nn.Conv2d`` with
    ``padding=1``, Xavier-uniform weight and zero bias, as [`maml_init_`][meta_nn.maml_init_]).
    With ``max_pool`` the block ends with ``max_pool``, an ``nn.MaxPool2d`` of kernel and
    stride ``int(2 * max_pool_factor)``; without it the convolution itself has that stride
    (``max_pool`` is then an ``nn.Identity``). Neither pooling module holds state.

    Args:
        in_channels: Channels of the input.
        out_channels: Channels of the output.
        kernel_size: Size of the convolution kernel, an int or a pair.
        max_pool: Downsample with max-pooling instead of a strided convolution.
        max_pool_factor: Half the pooling (or conv) stride; at least 0.5.

    Raises:
        TypeError: If a size is not an int or ``max_pool_factor`` not a number.
        ValueError: If a size is not positive or ``max_pool_factor`` is below 0.5.

    Examples:
        >>> import torch
        >>> block = ConvBlock(1, 8, 3)
        >>> block(torch.randn(2, 1, 28, 28)).shape, list(block.state_dict())[-2:]
        (torch.Size([2, 8, 14, 14]), ['conv.weight', 'conv.bias'])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        max_pool: bool = True,
        max_pool_factor: float = 1.0,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        in_channels = check_positive_int(in_channels, owner=owner, name="in_channels")
        out_channels = check_positive_int(out_channels, owner=owner, name="out_channels")
        kernel = _check_kernel_size(kernel_size, owner=owner)
        stride = int(2 * _check_max_pool_factor(max_pool_factor, owner=owner))
        self.max_pool: nn.Module = (
            nn.MaxPool2d(kernel_size=stride, stride=stride) if max_pool else nn.Identity()
        )
        self.normalize = nn.BatchNorm2d(out_channels, affine=True)
        nn.init.uniform_(self.normalize.weight)
        self.relu = nn.ReLU()
        self.conv = maml_init_(
            nn.Conv2d(
                in_channels, out_channels, kernel, stride=1 if max_pool else stride, padding=1
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        """Return the block's output ``(batch, out_channels, h, w)`` for ``x``."""
        check_tensor(x, owner=type(self).__name__)
        out: Tensor = self.max_pool(self.relu(self.normalize(self.conv(x))))
        return out


class ConvBase(nn.Sequential):
    """learn2learn's ``ConvBase``: ``layers`` 3x3 [`ConvBlock`][meta_nn.ConvBlock]s in a row.

    Block ``i`` is submodule ``"i"`` (``state_dict`` keys ``0.normalize.weight``, ...,
    ``0.conv.weight``, ``0.conv.bias``, ``1.normalize.weight``, ...); the first maps
    ``channels`` to ``hidden`` channels, the others ``hidden`` to ``hidden``. The output is the
    last block's feature map, not flattened (see [`CNN4Backbone`][meta_nn.CNN4Backbone]).
    learn2learn uses ``hidden=64, channels=1, max_pool=False`` for Omniglot and ``hidden=32,
    channels=3, max_pool=True`` for mini-ImageNet.

    Args:
        hidden: Channels of every block.
        channels: Channels of the input images.
        max_pool: Downsample with max-pooling instead of strided convolutions.
        layers: Number of blocks.
        max_pool_factor: Half the pooling (or conv) stride; at least 0.5.

    Raises:
        TypeError: If a size is not an int or ``max_pool_factor`` not a number.
        ValueError: If a size is not positive or ``max_pool_factor`` is below 0.5.

    Examples:
        >>> import torch
        >>> ConvBase(hidden=32, channels=1)(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 32, 2, 2])
    """

    def __init__(
        self,
        hidden: int = 64,
        channels: int = 1,
        max_pool: bool = False,
        layers: int = 4,
        max_pool_factor: float = 1.0,
    ) -> None:
        owner = type(self).__name__
        hidden = check_positive_int(hidden, owner=owner, name="hidden")
        channels = check_positive_int(channels, owner=owner, name="channels")
        depth = check_positive_int(layers, owner=owner, name="layers")
        factor = _check_max_pool_factor(max_pool_factor, owner=owner)
        super().__init__(
            *(
                ConvBlock(
                    channels if index == 0 else hidden,
                    hidden,
                    (3, 3),
                    max_pool=bool(max_pool),
                    max_pool_factor=factor,
                )
                for index in range(depth)
            )
        )

    def forward(self, x: Tensor) -> Tensor:
        """Return the last block's feature map ``(batch, hidden, h, w)`` of images ``x``."""
        out = check_tensor(x, owner=type(self).__name__)
        for block in self:
            out = block(out)
        return out


class CNN4Backbone(ConvBase):
    """learn2learn's ``CNN4Backbone``: a [`ConvBase`][meta_nn.ConvBase], then a flatten.

    Block ``i`` (submodule ``"i"``) is a [`ConvBlock`][meta_nn.ConvBlock]:
    ``Conv2d(3x3, padding 1) -> BatchNorm2d -> ReLU`` followed, with ``max_pool``, by a
    ``MaxPool2d`` of kernel and stride ``int(2 * max_pool_factor)``; without it the
    convolution itself has that stride. BatchNorm is ``torch.nn.BatchNorm2d`` with running
    statistics (as learn2learn's), its scale drawn from U(0, 1); convolutions get
    Xavier-uniform weights and zero biases.

    Args:
        hidden_size: Channels of every block.
        layers: Number of blocks.
        channels: Channels of the input images.
        max_pool: Downsample with max-pooling instead of strided convolutions.
        max_pool_factor: Half the pooling (or conv) stride; at least 0.5.

    Raises:
        TypeError: If a size is not an int.
        ValueError: If a size is not positive or ``max_pool_factor`` is below 0.5.

    Examples:
        >>> import torch
        >>> CNN4Backbone(hidden_size=32, channels=1)(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 128])
    """

    def __init__(
        self,
        hidden_size: int = 64,
        layers: int = 4,
        channels: int = 3,
        max_pool: bool = False,
        max_pool_factor: float = 1.0,
    ) -> None:
        owner = type(self).__name__
        super().__init__(
            hidden=check_positive_int(hidden_size, owner=owner, name="hidden_size"),
            channels=channels,
            max_pool=max_pool,
            layers=layers,
            max_pool_factor=max_pool_factor,
        )

    def forward(self, x: Tensor) -> Tensor:
        """Return the flattened features ``(batch, hidden_size * h * w)`` of images ``x``."""
        out = super().forward(x)
        return out.reshape(out.size(0), -1)


class CNN4(nn.Module):
    """learn2learn's ``CNN4`` (also its ``MiniImagenetCNN``): ``CNN4Backbone`` and a linear head.

    ``features`` is ``CNN4Backbone(hidden_size, layers, channels, max_pool,
    max_pool_factor=4 // layers)`` and ``classifier`` a ``Linear(embedding_size,
    output_size)`` with Xavier-uniform weights and zero bias. The default ``embedding_size``,
    ``25 * hidden_size``, fits 84x84 images with 4 max-pooled blocks (84 -> 5).

    Args:
        output_size: Number of outputs (classes).
        hidden_size: Channels of every block.
        layers: Number of blocks, 1 to 4.
        channels: Channels of the input images.
        max_pool: Downsample with max-pooling instead of strided convolutions.
        embedding_size: Size of the flattened features; default ``25 * hidden_size``.

    Raises:
        TypeError: If a size is not an int.
        ValueError: If a size is not positive or ``layers`` is above 4.

    References:
        1. Ravi and Larochelle. 2017. "Optimization as a Model for Few-Shot Learning".

    Examples:
        >>> import torch
        >>> model = CNN4(5)
        >>> model(torch.randn(2, 3, 84, 84)).shape, model.features(torch.randn(2, 3, 84, 84)).shape
        (torch.Size([2, 5]), torch.Size([2, 1600]))
    """

    def __init__(
        self,
        output_size: int,
        hidden_size: int = 64,
        layers: int = 4,
        channels: int = 3,
        max_pool: bool = True,
        embedding_size: int | None = None,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        output_size = check_positive_int(output_size, owner=owner, name="output_size")
        layers = check_positive_int(layers, owner=owner, name="layers")
        if layers > 4:
            raise ValueError(
                f"{owner}: layers must be 1 to 4 (the blocks pool by 4 // layers), got {layers}"
            )
        self.hidden_size = check_positive_int(hidden_size, owner=owner, name="hidden_size")
        if embedding_size is None:
            embedding_size = 25 * self.hidden_size
        embedding_size = check_positive_int(embedding_size, owner=owner, name="embedding_size")
        self.features = CNN4Backbone(
            hidden_size, layers, channels, max_pool, max_pool_factor=4 // layers
        )
        self.classifier = nn.Linear(embedding_size, output_size, bias=True)
        maml_init_(self.classifier)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits ``(batch, output_size)`` for images ``(batch, channels, H, W)``."""
        logits: Tensor = self.classifier(self.features(x))
        return logits


class OmniglotFC(nn.Module):
    """learn2learn's ``OmniglotFC``: the fully connected net of Santoro et al. (2016).

    ``features`` is ``Sequential(Flatten(), Sequential(blocks))`` where each block is
    ``Linear -> BatchNorm1d -> ReLU`` (BatchNorm with batch statistics only: ``momentum
    0.999``, ``eps 1e-3``, no running statistics), and ``classifier`` a ``Linear``. Linear
    weights are drawn from a normal of std 0.01 truncated at two standard deviations; biases
    start at zero.

    Args:
        input_size: Number of input features (inputs are flattened, e.g. ``28 ** 2``).
        output_size: Number of outputs (classes).
        sizes: Hidden layer widths; default ``[256, 128, 64, 64]``.

    Attributes:
        input_size: The number of input features.

    Raises:
        TypeError: If a size is not an int.
        ValueError: If a size is not positive or ``sizes`` is empty.

    References:
        1. Santoro et al. 2016. "Meta-Learning with Memory-Augmented Neural Networks".

    Examples:
        >>> import torch
        >>> OmniglotFC(28**2, 10, sizes=[64, 64])(torch.randn(3, 1, 28, 28)).shape
        torch.Size([3, 10])
    """

    def __init__(
        self, input_size: int, output_size: int, sizes: Sequence[int] | None = None
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        widths = [256, 128, 64, 64] if sizes is None else list(sizes)
        if not widths:
            raise ValueError(f"{owner}: sizes must hold at least one hidden width, got []")
        self.input_size = check_positive_int(input_size, owner=owner, name="input_size")
        output_size = check_positive_int(output_size, owner=owner, name="output_size")
        widths = [
            check_positive_int(w, owner=owner, name=f"sizes[{i}]") for i, w in enumerate(widths)
        ]
        blocks = [_LinearBlock(a, b) for a, b in itertools.pairwise([input_size, *widths])]
        self.features = nn.Sequential(Flatten(), nn.Sequential(*blocks))
        self.classifier = fc_init_(nn.Linear(widths[-1], output_size))

    def forward(self, x: Tensor) -> Tensor:
        """Return logits ``(batch, output_size)``; ``x`` is flattened after the batch dim."""
        logits: Tensor = self.classifier(self.features(x))
        return logits
