"""learn2learn's ``l2l.algorithms.lightning.lightning_episodic_module``.

``LightningEpisodicModule``.

Needs ``pip install "meta-train[lightning]"``; without it the import names that extra.
"""

from __future__ import annotations

from meta_all.compat.learn2learn._lightning import (
    LightningEpisodicModule as LightningEpisodicModule,
)

__all__ = ["LightningEpisodicModule"]
