"""learn2learn's ``l2l.vision.models``: the standard few-shot backbones, from meta-nn.

``OmniglotCNN(output_size=5, hidden_size=64, layers=4)`` and
``MiniImagenetCNN(output_size, hidden_size=32, layers=4)`` are :mod:`meta_nn`'s classes.
"""

from __future__ import annotations

from meta_nn import MiniImagenetCNN as MiniImagenetCNN
from meta_nn import OmniglotCNN as OmniglotCNN

__all__ = ["MiniImagenetCNN", "OmniglotCNN"]
