"""learn2learn's ``l2l.algorithms.lightning.lightning_protonet``.

``LightningPrototypicalNetworks`` and the names that module imports.

Needs ``pip install "meta-train[lightning]"``; without it the import names that extra.
"""

from __future__ import annotations

from meta_all.compat.learn2learn._lightning import (
    LightningEpisodicModule as LightningEpisodicModule,
)
from meta_all.compat.learn2learn._lightning import (
    LightningPrototypicalNetworks as LightningPrototypicalNetworks,
)
from meta_all.compat.learn2learn.nn import PrototypicalClassifier as PrototypicalClassifier
from meta_all.compat.learn2learn.utils import accuracy as accuracy

__all__ = [
    "LightningEpisodicModule",
    "LightningPrototypicalNetworks",
    "PrototypicalClassifier",
    "accuracy",
]
