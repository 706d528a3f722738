"""learn2learn's ``l2l.algorithms.lightning.lightning_maml``.

``LightningMAML`` and the names that module imports.

Needs ``pip install "meta-train[lightning]"``; without it the import names that extra.
"""

from __future__ import annotations

from meta_all.compat.learn2learn._lightning import (
    LightningEpisodicModule as LightningEpisodicModule,
)
from meta_all.compat.learn2learn._lightning import LightningMAML as LightningMAML
from meta_all.compat.learn2learn.utils import accuracy as accuracy

__all__ = ["LightningEpisodicModule", "LightningMAML", "accuracy"]
