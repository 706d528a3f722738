"""learn2learn's residual few-shot backbones: `ResNet12` (with DropBlock) and `WRN28`.

Constructor arguments, defaults, submodule names (so ``state_dict`` keys), initialisation and
output shapes follow learn2learn's ``l2l.vision.models``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ._layers import Flatten, check_positive_int, check_tensor


def _check_rate(value: float, *, owner: str, name: str) -> float:
    rate = float(value)
    if not 0.0 <= rate < 1.0 or math.isnan(rate):
        raise ValueError(f"{owner}: {name} must be in [0, 1), got {value}")
    return rate


class _LinearHeaded(nn.Module):
    """learn2learn's backbone-plus-head layout: ``features`` then a ``Linear`` ``classifier``.

    Args:
        output_size: Number of outputs (classes); checked first.
        hidden_size: Size of the features; checked second.
        features: Builds the backbone, called after the checks and before the head is made
            (so the head's initialisation draws the same random numbers as learn2learn's).
    """

    def __init__(
        self, output_size: int, hidden_size: int, features: Callable[[], nn.Module]
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        output_size = check_positive_int(output_size, owner=owner, name="output_size")
        hidden_size = check_positive_int(hidden_size, owner=owner, name="hidden_size")
        self.features = features()
        self.classifier = nn.Linear(hidden_size, output_size)

    def forward(self, x: Tensor) -> Tensor:
        """Return logits ``(batch, output_size)``."""
        logits: Tensor = self.classifier(self.features(x))
        return logits


def _conv3x3(in_planes: int, out_planes: int) -> nn.Conv2d:
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=1, padding=1, bias=False)


class DropBlock(nn.Module):
    """DropBlock (Ghiasi et al., 2018): drop ``block_size x block_size`` squares of features.

    In training mode, block centres are drawn with probability ``gamma`` on the
    ``(H - block_size + 1, W - block_size + 1)`` grid, each drops the square that starts
    there, and the kept features are rescaled by ``numel / kept``. Blocks are clipped to the
    feature map (learn2learn's fails on maps smaller than a block). In evaluation mode it
    returns its input.

    Args:
        block_size: Side of the dropped squares.

    Examples:
        >>> import torch
        >>> block = DropBlock(block_size=3)
        >>> block(torch.ones(1, 1, 5, 5), gamma=0.0).sum().item()
        25.0
    """

    def __init__(self, block_size: int) -> None:
        super().__init__()
        self.block_size = check_positive_int(block_size, owner="DropBlock", name="block_size")

    def forward(self, x: Tensor, gamma: float) -> Tensor:
        """Drop blocks of ``x`` ``(batch, channels, H, W)`` with centre probability ``gamma``."""
        if not self.training:
            return x
        batch, channels, height, width = x.shape
        size = min(self.block_size, height, width)  # a block never exceeds the feature map
        grid = (batch, channels, height - size + 1, width - size + 1)
        centres = torch.bernoulli(torch.full(grid, float(gamma), device=x.device, dtype=x.dtype))
        # a centre at (i, j) drops rows i .. i + size - 1 and columns j .. j + size - 1
        padded = F.pad(centres, (size - 1, size - 1, size - 1, size - 1))
        keep = 1.0 - F.max_pool2d(padded, kernel_size=size, stride=1)
        return keep * x * (keep.numel() / keep.sum())


class _BasicBlock(nn.Module):
    """ResNet-12 block: three conv3x3-BN(-LeakyReLU), a residual, max-pooling and dropout."""

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int,
        downsample: nn.Module | None,
        drop_rate: float,
        drop_block: bool,
        block_size: int,
    ) -> None:
        super().__init__()
        self.conv1 = _conv3x3(inplanes, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.LeakyReLU(0.1)
        self.conv2 = _conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = _conv3x3(planes, planes)
        self.bn3 = nn.BatchNorm2d(planes)
        self.maxpool = nn.MaxPool2d(stride)
        self.downsample = downsample
        self.drop_rate = drop_rate
        self.drop_block = drop_block
        self.block_size = block_size
        self.dropblock = DropBlock(block_size)
        self.num_batches_tracked = 0  # drives the DropBlock schedule, as in learn2learn

    def forward(self, x: Tensor) -> Tensor:
        self.num_batches_tracked += 1
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        out = self.maxpool(self.relu(out + residual))
        if self.drop_rate > 0:
            if self.drop_block:
                side = out.size(2)
                block = min(self.block_size, side)
                keep_rate = max(
                    1.0 - self.drop_rate / 40000 * self.num_batches_tracked, 1.0 - self.drop_rate
                )
                gamma = (1 - keep_rate) / block**2 * side**2 / (side - block + 1) ** 2
                out = self.dropblock(out, gamma=gamma)
            else:
                out = F.dropout(out, p=self.drop_rate, training=self.training)
        result: Tensor = out
        return result


class ResNet12Backbone(nn.Module):
    """learn2learn's ``ResNet12Backbone``: the 12-layer residual feature extractor.

    Four residual blocks (submodules ``layer1`` .. ``layer4``, each a ``Sequential`` holding
    one block) with ``(64, 160, 320, 640)`` filters (``wider``) or ``(64, 128, 256, 512)``,
    each halving the side by max-pooling; blocks 3 and 4 use DropBlock, blocks 1 and 2 plain
    dropout, both at rate ``dropblock_dropout`` (DropBlock's rate ramps up over the first
    40000 forward passes). Then ``avgpool`` (``AvgPool2d(5)`` or the identity), ``flatten`` and
    ``dropout`` (rate ``embedding_dropout``). On 84x84 images the features have 640 (or 512)
    dims, 16000 (12800) without ``avg_pool``. Convolutions get Kaiming-normal weights
    (fan-out), BatchNorm scale 1 and shift 0.

    Args:
        avg_pool: Average the final 5x5 feature map.
        wider: Use MetaOptNet's wider filters.
        embedding_dropout: Dropout rate on the flattened features.
        dropblock_dropout: Dropout rate inside the residual blocks.
        dropblock_size: Side of the dropped blocks.
        channels: Channels of the input images.

    Raises:
        TypeError: If a size is not an int.
        ValueError: If a size is not positive or a rate is not in [0, 1).

    References:
        1. Mishra et al. 2017. "A Simple Neural Attentive Meta-Learner".
        2. Lee et al. 2019. "Meta-Learning with Differentiable Convex Optimization".

    Examples:
        >>> import torch
        >>> with torch.device("meta"):  # shapes only, no compute
        ...     ResNet12Backbone()(torch.empty(2, 3, 84, 84)).shape
        torch.Size([2, 640])
    """

    def __init__(
        self,
        avg_pool: bool = True,
        wider: bool = True,
        embedding_dropout: float = 0.0,
        dropblock_dropout: float = 0.1,
        dropblock_size: int = 5,
        channels: int = 3,
    ) -> None:
        super().__init__()
        owner = type(self).__name__
        embedding_dropout = _check_rate(embedding_dropout, owner=owner, name="embedding_dropout")
        self.dropblock_dropout = _check_rate(
            dropblock_dropout, owner=owner, name="dropblock_dropout"
        )
        dropblock_size = check_positive_int(dropblock_size, owner=owner, name="dropblock_size")
        self.inplanes = check_positive_int(channels, owner=owner, name="channels")
        filters = (64, 160, 320, 640) if wider else (64, 128, 256, 512)
        self.layer1 = self._make_layer(filters[0], drop_block=False, block_size=1)
        self.layer2 = self._make_layer(filters[1], drop_block=False, block_size=1)
        self.layer3 = self._make_layer(filters[2], drop_block=True, block_size=dropblock_size)
        self.layer4 = self._make_layer(filters[3], drop_block=True, block_size=dropblock_size)
        self.avgpool: nn.Module = nn.AvgPool2d(5, stride=1) if avg_pool else nn.Identity()
        self.flatten = Flatten()
        self.embedding_dropout = embedding_dropout
        self.keep_avg_pool = bool(avg_pool)
        self.dropout = nn.Dropout(p=embedding_dropout, inplace=False)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="leaky_relu")
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.constant_(module.weight, 1)
                nn.init.constant_(module.bias, 0)

    def _make_layer(self, planes: int, *, drop_block: bool, block_size: int) -> nn.Sequential:
        downsample = nn.Sequential(
            nn.Conv2d(self.inplanes, planes, kernel_size=1, stride=1, bias=False),
            nn.BatchNorm2d(planes),
        )
        block = _BasicBlock(
            self.inplanes, planes, 2, downsample, self.dropblock_dropout, drop_block, block_size
        )
        self.inplanes = planes
        return nn.Sequential(block)

    def forward(self, x: Tensor) -> Tensor:
        """Return the features ``(batch, dims)`` of images ``(batch, channels, H, W)``."""
        out = check_tensor(x, owner=type(self).__name__)
        for layer in (self.layer1, self.layer2, self.layer3, self.layer4):
            out = layer(out)
        features: Tensor = self.dropout(self.flatten(self.avgpool(out)))
        return features


class ResNet12(_LinearHeaded):
    """learn2learn's ``ResNet12``: [`ResNet12Backbone`][meta_nn.ResNet12Backbone] and a head.

    ``features`` is the backbone and ``classifier`` a ``Linear(hidden_size, output_size)``;
    ``hidden_size`` must match the features (640 by default on 84x84 images; 16000 without
    ``avg_pool``).

    Args:
        output_size: Number of outputs (classes).
        hidden_size: Size of the features.
        avg_pool: Average the final 5x5 feature map.
        wider: Use MetaOptNet's wider filters.
        embedding_dropout: Dropout rate on the flattened features.
        dropblock_dropout: Dropout rate inside the residual blocks.
        dropblock_size: Side of the dropped blocks.
        channels: Channels of the input images.

    Raises:
        TypeError: If a size is not an int.
        ValueError: If a size is not positive or a rate is not in [0, 1).

    Examples:
        >>> import torch
        >>> with torch.device("meta"):  # shapes only, no compute
        ...     ResNet12(5, hidden_size=16000, avg_pool=False)(torch.empty(2, 3, 84, 84)).shape
        torch.Size([2, 5])
    """

    def __init__(
        self,
        output_size: int,
        hidden_size: int = 640,
        avg_pool: bool = True,
        wider: bool = True,
        embedding_dropout: float = 0.0,
        dropblock_dropout: float = 0.1,
        dropblock_size: int = 5,
        channels: int = 3,
    ) -> None:
        super().__init__(
            output_size,
            hidden_size,
            lambda: ResNet12Backbone(
                avg_pool, wider, embedding_dropout, dropblock_dropout, dropblock_size, channels
            ),
        )


class _WideBasic(nn.Module):
    """Pre-activation wide block: ``BN-ReLU-conv-dropout-BN-ReLU-conv`` plus a shortcut."""

    def __init__(self, in_planes: int, planes: int, dropout_rate: float, stride: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(in_planes)
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, padding=1, bias=True)
        self.dropout = nn.Dropout(p=dropout_rate)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1, bias=True)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, kernel_size=1, stride=stride, bias=True)
            )

    def forward(self, x: Tensor) -> Tensor:
        out = self.dropout(self.conv1(F.relu(self.bn1(x))))
        out = self.conv2(F.relu(self.bn2(out)))
        result: Tensor = out + self.shortcut(x)
        return result


class WRN28Backbone(nn.Module):
    """learn2learn's ``WRN28Backbone``: a wide residual network of depth 28 and width 10.

    ``conv1`` (3 -> 16 channels), three stages ``layer1`` .. ``layer3`` of four
    pre-activation blocks with 160, 320 and 640 channels (strides 1, 2, 2), ``bn1``
    (momentum 0.9), a ReLU and a 21x21 average pool, then a flatten: 84x84 images give 640
    features. Layers keep PyTorch's default initialisation, as learn2learn's.

    Args:
        dropout: Dropout rate inside the blocks.

    Raises:
        ValueError: If ``dropout`` is not in [0, 1).

    References:
        1. Dhillon et al. 2020. "A Baseline for Few-Shot Image Classification".
        2. Zagoruyko and Komodakis. 2016. "Wide Residual Networks".

    Examples:
        >>> import torch
        >>> with torch.device("meta"):  # shapes only, no compute
        ...     WRN28Backbone()(torch.empty(2, 3, 84, 84)).shape
        torch.Size([2, 640])
    """

    DEPTH = 28
    WIDEN_FACTOR = 10
    POOL = 21

    def __init__(self, dropout: float = 0.0) -> None:
        super().__init__()
        rate = _check_rate(dropout, owner=type(self).__name__, name="dropout")
        blocks_per_stage = (self.DEPTH - 4) // 6
        stages = [16, 16 * self.WIDEN_FACTOR, 32 * self.WIDEN_FACTOR, 64 * self.WIDEN_FACTOR]
        self.in_planes = stages[0]
        self.conv1 = nn.Conv2d(3, stages[0], kernel_size=3, stride=1, padding=1, bias=True)
        self.layer1 = self._wide_layer(stages[1], blocks_per_stage, rate, stride=1)
        self.layer2 = self._wide_layer(stages[2], blocks_per_stage, rate, stride=2)
        self.layer3 = self._wide_layer(stages[3], blocks_per_stage, rate, stride=2)
        self.bn1 = nn.BatchNorm2d(stages[3], momentum=0.9)

    def _wide_layer(self, planes: int, blocks: int, rate: float, stride: int) -> nn.Sequential:
        layers = []
        for block_stride in [stride] + [1] * (blocks - 1):
            layers.append(_WideBasic(self.in_planes, planes, rate, block_stride))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Return the features ``(batch, 640)`` of images ``(batch, 3, 84, 84)``.

        Raises:
            TypeError: If ``x`` is not a tensor.
            ValueError: If ``x`` is not ``(batch, 3, H, W)`` with ``H, W >= 84``.
        """
        check_tensor(x, owner=type(self).__name__)
        if x.dim() != 4 or x.shape[1] != 3 or min(x.shape[-2:]) < 4 * self.POOL:
            raise ValueError(
                f"{type(self).__name__} expects images (batch, 3, H, W) with H, W >= 84 (the "
                f"final {self.POOL}x{self.POOL} average pool), got shape {tuple(x.shape)}"
            )
        out = self.layer3(self.layer2(self.layer1(self.conv1(x))))
        out = F.avg_pool2d(F.relu(self.bn1(out)), self.POOL)
        return out.view(out.size(0), -1)


class WRN28(_LinearHeaded):
    """learn2learn's ``WRN28``: [`WRN28Backbone`][meta_nn.WRN28Backbone] and a linear head.

    Args:
        output_size: Number of outputs (classes).
        hidden_size: Size of the features (640 on 84x84 images).
        dropout: Dropout rate inside the blocks.

    Raises:
        TypeError: If a size is not an int.
        ValueError: If a size is not positive or ``dropout`` is not in [0, 1).

    Examples:
        >>> import torch
        >>> with torch.device("meta"):
        ...     WRN28(5)(torch.empty(2, 3, 84, 84)).shape
        torch.Size([2, 5])
    """

    def __init__(self, output_size: int, hidden_size: int = 640, dropout: float = 0.0) -> None:
        super().__init__(output_size, hidden_size, lambda: WRN28Backbone(dropout=dropout))
