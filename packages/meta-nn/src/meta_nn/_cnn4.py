"""learn2learn's conv and fully connected few-shot models: `CNN4`, `CNN4Backbone`, `OmniglotFC`.

Constructor arguments, defaults, submodule names (so ``state_dict`` keys), initialisation and
output shapes follow learn2learn's ``l2l.vision.models``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from torch import Tensor, nn

from ._layers import Flatten, check_positive_int, check_tensor


def _maml_init(layer: nn.Conv2d | nn.Linear) -> None:
    nn.init.xavier_uniform_(layer.weight, gain=1.0)
    if layer.bias is not None:
        nn.init.constant_(layer.bias, 0.0)


def _fc_init(layer: nn.Linear) -> None:
    # a normal of std 0.01 truncated at two standard deviations, bias zero
    nn.init.trunc_normal_(layer.weight, mean=0.0, std=0.01, a=-0.02, b=0.02)
    if layer.bias is not None:
        nn.init.constant_(layer.bias, 0.0)


class _LinearBlock(nn.Module):
    """``Linear -> BatchNorm1d (batch statistics only) -> ReLU``."""

    def __init__(self, input_size: int, output_size: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.normalize = nn.BatchNorm1d(
            output_size, affine=True, momentum=0.999, eps=1e-3, track_running_stats=False
        )
        self.linear = nn.Linear(input_size, output_size)
        _fc_init(self.linear)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.relu(self.normalize(self.linear(x)))
        return out


class _ConvBlock(nn.Module):
    """``Conv3x3 -> BatchNorm2d -> ReLU -> [MaxPool]``; without max-pooling the conv strides."""

    def __init__(
        self, in_channels: int, out_channels: int, *, max_pool: bool, max_pool_factor: float
    ) -> None:
        super().__init__()
        stride = int(2 * max_pool_factor)
        self.max_pool: nn.Module = (
            nn.MaxPool2d(kernel_size=stride, stride=stride) if max_pool else nn.Identity()
        )
        self.normalize = nn.BatchNorm2d(out_channels, affine=True)
        nn.init.uniform_(self.normalize.weight)
        self.relu = nn.ReLU()
        self.conv = nn.Conv2d(
            in_channels, out_channels, 3, stride=1 if max_pool else stride, padding=1, bias=True
        )
        _maml_init(self.conv)

    def forward(self, x: Tensor) -> Tensor:
        out: Tensor = self.max_pool(self.relu(self.normalize(self.conv(x))))
        return out


class CNN4Backbone(nn.Sequential):
    """learn2learn's ``CNN4Backbone``: ``layers`` conv blocks, then a flatten.

    Block ``i`` (submodule ``"i"``) is ``Conv2d(3x3, padding 1) -> BatchNorm2d -> ReLU``
    followed, with ``max_pool``, by a ``MaxPool2d`` of kernel and stride
    ``int(2 * max_pool_factor)``; without it the convolution itself has that stride. BatchNorm
    is ``torch.nn.BatchNorm2d`` with running statistics (as learn2learn's), its scale drawn
    from U(0, 1); convolutions get Xavier-uniform weights and zero biases.

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
        hidden = check_positive_int(hidden_size, owner=owner, name="hidden_size")
        depth = check_positive_int(layers, owner=owner, name="layers")
        channels = check_positive_int(channels, owner=owner, name="channels")
        if not int(2 * max_pool_factor) >= 1:
            raise ValueError(
                f"{owner}: max_pool_factor must be at least 0.5 (stride int(2 * factor) >= 1), "
                f"got {max_pool_factor}"
            )
        blocks = [
            _ConvBlock(
                channels if index == 0 else hidden,
                hidden,
                max_pool=bool(max_pool),
                max_pool_factor=float(max_pool_factor),
            )
            for index in range(depth)
        ]
        super().__init__(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        """Return the flattened features ``(batch, hidden_size * h * w)`` of images ``x``."""
        out = check_tensor(x, owner=type(self).__name__)
        for block in self:
            out = block(out)
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
        _maml_init(self.classifier)

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
        self.classifier = nn.Linear(widths[-1], output_size)
        _fc_init(self.classifier)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits ``(batch, output_size)``; ``x`` is flattened after the batch dim."""
        logits: Tensor = self.classifier(self.features(x))
        return logits
