"""learn2learn's ``l2l.vision.models``: the standard few-shot vision models, from meta-nn.

``OmniglotFC``, ``CNN4``, ``CNN4Backbone``, ``ResNet12``, ``ResNet12Backbone``, ``WRN28`` and
``WRN28Backbone`` are [`meta_nn`][meta_nn]'s classes, with learn2learn's constructor arguments,
submodule names and output shapes; ``MiniImagenetCNN`` is ``CNN4``, as in learn2learn.
``OmniglotCNN(output_size=5, hidden_size=64, layers=4)`` is
[`meta_nn.OmniglotCNN`][meta_nn.OmniglotCNN] with learn2learn's default ``output_size``.
"""

from __future__ import annotations

import meta_nn
from meta_nn import CNN4 as CNN4
from meta_nn import WRN28 as WRN28
from meta_nn import CNN4Backbone as CNN4Backbone
from meta_nn import OmniglotFC as OmniglotFC
from meta_nn import ResNet12 as ResNet12
from meta_nn import ResNet12Backbone as ResNet12Backbone
from meta_nn import WRN28Backbone as WRN28Backbone

__all__ = [
    "CNN4",
    "WRN28",
    "CNN4Backbone",
    "MiniImagenetCNN",
    "OmniglotCNN",
    "OmniglotFC",
    "ResNet12",
    "ResNet12Backbone",
    "WRN28Backbone",
]

MiniImagenetCNN = CNN4
"""learn2learn's other name for [`CNN4`][meta_nn.CNN4]."""


class OmniglotCNN(meta_nn.OmniglotCNN):
    """learn2learn's ``OmniglotCNN(output_size=5, hidden_size=64, layers=4)`` for 28x28 images.

    See [`meta_nn.OmniglotCNN`][meta_nn.OmniglotCNN] (the differences from learn2learn's
    network are listed in the migration guide).

    Examples:
        >>> import torch
        >>> OmniglotCNN()(torch.randn(2, 1, 28, 28)).shape
        torch.Size([2, 5])
    """

    def __init__(self, output_size: int = 5, hidden_size: int = 64, layers: int = 4) -> None:
        super().__init__(output_size, hidden_size, layers)
