"""Standard few-shot backbones: a fully connected ``MLP`` and the 4-block conv nets."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable, Sequence

from torch import Tensor, nn

from ._layers import Flatten, check_positive_int, check_tensor


class MLP(nn.Module):
    """Fully connected net ``Linear - act - Linear - act - ... - Linear``.

    ``sizes = [d_0, d_1, ..., d_k]`` gives ``k`` ``torch.nn.Linear`` layers
    ``d_{i} -> d_{i+1}`` with an activation after every layer but the last. For example
    ``MLP([1, 40, 40, 1])`` is the sinusoid-regression net of MAML.

    Submodules (as in the conv backbones, so ANIL-style methods can adapt only the head):

    * ``features``: ``torch.nn.Sequential`` of all layers but the last, each followed by
      its activation (``features.0``, ``features.1``, ... in order: Linear, activation, ...).
      Empty when ``len(sizes) == 2``.
    * ``head``: the last ``torch.nn.Linear``.

    Args:
        sizes: Layer widths, input first and output last; at least two positive ints.
        activation: Zero-argument factory returning the activation module, called once per
            hidden layer (e.g. ``torch.nn.ReLU``, the default, or ``lambda:
            nn.LeakyReLU(0.1)``).

    Raises:
        TypeError: If ``sizes`` is not a sequence of ints, or ``activation`` is not callable or
            does not return a ``torch.nn.Module``.
        ValueError: If ``sizes`` has fewer than two entries or a non-positive entry.

    Examples:
        >>> import torch
        >>> net = MLP([1, 40, 40, 1])
        >>> net(torch.randn(10, 1)).shape
        torch.Size([10, 1])
    """

    def __init__(self, sizes: Sequence[int], activation: Callable[[], nn.Module] = nn.ReLU) -> None:
        super().__init__()
        if not isinstance(sizes, Sequence) or isinstance(sizes, str):  # type: ignore[unreachable]  # str is a Sequence at runtime; reject it explicitly
            raise TypeError(f"MLP expects sizes to be a sequence of ints, got {sizes!r}")
        widths = [
            check_positive_int(s, owner="MLP", name=f"sizes[{i}]") for i, s in enumerate(sizes)
        ]
        if len(widths) < 2:
            raise ValueError(
                f"MLP expects at least two sizes (input and output width), got {list(sizes)}"
            )
        if not callable(activation):
            raise TypeError(
                "MLP expects activation to be a zero-argument callable returning an "
                f"nn.Module (e.g. nn.ReLU), got {activation!r}"
            )
        layers: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(widths[:-1]):
            layers.append(nn.Linear(width_in, width_out))
            act = activation()
            if not isinstance(act, nn.Module):
                raise TypeError(
                    f"MLP expects activation() to return an nn.Module, got {type(act).__name__}"
                )
            layers.append(act)
        self.sizes = tuple(widths)
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-2], widths[-1])

    def forward(self, x: Tensor) -> Tensor:
        """Apply the network to the last dimension of ``x``.

        Args:
            x: Tensor of shape ``(..., sizes[0])``.

        Returns:
            Tensor of shape ``(..., sizes[-1])``.

        Raises:
            TypeError: If ``x`` is not a tensor.
            ValueError: If ``x`` is 0-d or its last dimension is not ``sizes[0]``.

        Examples:
            >>> import torch
            >>> MLP([3, 2])(torch.zeros(4, 3)).shape
            torch.Size([4, 2])
        """
        check_tensor(x, owner="MLP")
        if x.dim() == 0 or x.shape[-1] != self.sizes[0]:
            raise ValueError(
                f"MLP({list(self.sizes)}) expects input of shape (..., {self.sizes[0]}), "
                f"got shape {tuple(x.shape)}"
            )
        logits: Tensor = self.head(self.features(x))
        return logits


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        OrderedDict(
            conv=nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
            norm=nn.BatchNorm2d(out_channels, track_running_stats=False),
            relu=nn.ReLU(),
            pool=nn.MaxPool2d(kernel_size=2),
        )
    )


class ConvNet4(nn.Module):
    """The standard few-shot conv net: ``layers`` blocks of conv3x3-BatchNorm-ReLU-maxpool2.

    Each block is ``Conv2d(kernel 3, padding 1) -> BatchNorm2d -> ReLU -> MaxPool2d(2)``, so
    the side length goes ``s -> floor(s / 2)``; the blocks are followed by a flatten and a
    linear head. With the defaults (Omniglot, 28x28 grey) the feature size is ``hidden_size``
    (28 -> 14 -> 7 -> 3 -> 1); for 84x84 RGB and 4 blocks it is ``hidden_size * 5 * 5``.

    BatchNorm is ``torch.nn.BatchNorm2d`` with ``track_running_stats=False``: it always
    normalises with the statistics of the current batch (in few-shot learning: the current
    task), in train and eval mode alike, and the module has **no buffers**, so nothing leaks
    from one task to the next and ``torch.func.functional_call`` needs parameters only.

    Submodules:

    * ``features``: ``nn.Sequential`` of ``block0``, ..., ``block{layers-1}`` (each with
      ``conv``, ``norm``, ``relu``, ``pool``) and ``flatten``; maps ``(B, C, H, W)`` to
      ``(B, feature_size)``. Parameter names look like ``features.block0.conv.weight``.
    * ``head``: ``nn.Linear(feature_size, output_size)``. Parameter names ``head.weight``,
      ``head.bias`` (what ANIL adapts).

    Layers use PyTorch's default initialisation.

    Args:
        output_size: Number of outputs (classes) of the head.
        hidden_size: Channels of every conv block.
        layers: Number of conv blocks.
        in_channels: Channels of the input images.
        image_size: Side length of the (square) input images.

    Raises:
        TypeError: If an argument is not an int.
        ValueError: If an argument is not positive, or ``image_size`` is too small for
            ``layers`` poolings.

    Examples:
        >>> import torch
        >>> net = ConvNet4(5)
        >>> net(torch.randn(10, 1, 28, 28)).shape
        torch.Size([10, 5])
        >>> net.features(torch.randn(10, 1, 28, 28)).shape
        torch.Size([10, 64])
    """

    def __init__(
        self,
        output_size: int,
        hidden_size: int = 64,
        layers: int = 4,
        *,
        in_channels: int = 1,
        image_size: int = 28,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        self.output_size = check_positive_int(output_size, owner=owner, name="output_size")
        self.hidden_size = check_positive_int(hidden_size, owner=owner, name="hidden_size")
        self.layers = check_positive_int(layers, owner=owner, name="layers")
        self.in_channels = check_positive_int(in_channels, owner=owner, name="in_channels")
        self.image_size = check_positive_int(image_size, owner=owner, name="image_size")
        side = image_size >> layers  # each 2x2 max-pool floors the side length by half
        if side < 1:
            raise ValueError(
                f"{owner}: image_size={image_size} is too small for layers={layers} 2x2 "
                f"poolings (needs image_size >= {2**layers})"
            )
        self.feature_size = hidden_size * side * side
        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        channels = in_channels
        for index in range(layers):
            blocks[f"block{index}"] = _conv_block(channels, hidden_size)
            channels = hidden_size
        blocks["flatten"] = Flatten()
        self.features = nn.Sequential(blocks)
        self.head = nn.Linear(self.feature_size, output_size)

    def forward(self, x: Tensor) -> Tensor:
        """Compute logits for a batch of images.

        Args:
            x: Images of shape ``(batch, in_channels, image_size, image_size)``.

        Returns:
            Logits of shape ``(batch, output_size)``.

        Raises:
            TypeError: If ``x`` is not a tensor.
            ValueError: If ``x`` does not have the expected shape.

        Examples:
            >>> import torch
            >>> ConvNet4(3, 8, in_channels=3, image_size=32)(torch.randn(2, 3, 32, 32)).shape
            torch.Size([2, 3])
        """
        check_tensor(x, owner=type(self).__name__)
        size = self.image_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.in_channels, size, size):
            raise ValueError(
                f"{type(self).__name__} expects images of shape (batch, {self.in_channels}, "
                f"{size}, {size}), got shape {tuple(x.shape)}"
            )
        logits: Tensor = self.head(self.features(x))
        return logits

    def extra_repr(self) -> str:
        """Summarise the configuration in ``repr``."""
        return (
            f"in_channels={self.in_channels}, image_size={self.image_size}, "
            f"feature_size={self.feature_size}"
        )


class OmniglotCNN(ConvNet4):
    """``ConvNet4`` for 28x28 single-channel images (Omniglot), 64 channels by default.

    ``OmniglotCNN(output_size, hidden_size, layers)`` is ``ConvNet4(output_size, hidden_size,
    layers, in_channels=1, image_size=28)``: the arguments, their checks, the submodules
    (``features``, ``head``) and the BatchNorm behaviour are [`ConvNet4`][meta_nn.ConvNet4]'s.

    Raises:
        TypeError: If an argument is not an int.
        ValueError: If an argument is not positive or ``layers`` > 4 (28 / 2**5 < 1).

    Examples:
        >>> import torch
        >>> OmniglotCNN(5)(torch.randn(4, 1, 28, 28)).shape
        torch.Size([4, 5])
    """

    def __init__(self, output_size: int, hidden_size: int = 64, layers: int = 4) -> None:
        super().__init__(output_size, hidden_size, layers, in_channels=1, image_size=28)


class MiniImagenetCNN(ConvNet4):
    """``ConvNet4`` for 84x84 RGB images (mini-ImageNet), 32 channels by default.

    ``MiniImagenetCNN(output_size, hidden_size, layers)`` is ``ConvNet4(output_size,
    hidden_size, layers, in_channels=3, image_size=84)``: the arguments, their checks, the
    submodules (``features``, ``head``) and the BatchNorm behaviour are
    [`ConvNet4`][meta_nn.ConvNet4]'s. With 4 blocks the feature size is ``hidden_size * 5 * 5``
    (84 -> 42 -> 21 -> 10 -> 5).

    Raises:
        TypeError: If an argument is not an int.
        ValueError: If an argument is not positive or ``layers`` > 6.

    Examples:
        >>> import torch
        >>> net = MiniImagenetCNN(5)
        >>> net.feature_size  # 32 channels of 5x5 after 4 blocks
        800
        >>> net(torch.randn(2, 3, 84, 84)).shape
        torch.Size([2, 5])
    """

    def __init__(self, output_size: int, hidden_size: int = 32, layers: int = 4) -> None:
        super().__init__(output_size, hidden_size, layers, in_channels=3, image_size=84)
