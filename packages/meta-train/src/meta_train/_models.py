"""The standard few-shot architectures, in plain ``torch.nn``, used by the command line.

Both models expose ``features`` and ``head`` submodules, so ANIL can adapt ``head`` alone.
"""

from __future__ import annotations

from torch import Tensor, nn


class SinusoidMLP(nn.Module):
    """The MAML sinusoid regressor: ``1 -> hidden -> hidden -> 1`` with ReLU.

    Args:
        hidden: Width of the two hidden layers (40 in the MAML paper).
    """

    def __init__(self, hidden: int = 40) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.head = nn.Linear(hidden, 1)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(n, 1)`` inputs to ``(n, 1)`` predictions."""
        output: Tensor = self.head(self.features(x))
        return output


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        nn.BatchNorm2d(out_channels, track_running_stats=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class ConvFour(nn.Module):
    """The 4-block few-shot conv net (conv3x3-BN-ReLU-maxpool) with a linear head.

    For ``28 x 28`` inputs the four poolings leave a ``1 x 1`` map, so the head sees
    ``channels`` features.

    Args:
        ways: Number of output classes.
        channels: Filters per block (64 in the MAML paper).
        in_channels: Input channels (1 for Omniglot).
        image_size: Input height and width.
    """

    def __init__(
        self, ways: int, channels: int = 64, in_channels: int = 1, image_size: int = 28
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            _conv_block(in_channels, channels),
            _conv_block(channels, channels),
            _conv_block(channels, channels),
            _conv_block(channels, channels),
            nn.Flatten(),
        )
        side = image_size
        for _ in range(4):
            side //= 2
        self.head = nn.Linear(channels * side * side, ways)

    def forward(self, x: Tensor) -> Tensor:
        """Map ``(n, in_channels, image_size, image_size)`` images to ``(n, ways)`` logits."""
        output: Tensor = self.head(self.features(x))
        return output
