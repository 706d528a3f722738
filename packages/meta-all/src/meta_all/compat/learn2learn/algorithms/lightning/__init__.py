"""learn2learn's ``l2l.algorithms.lightning``: the episodic Lightning 2 modules.

The classes of [`algorithms`][meta_all.compat.learn2learn.algorithms] (shells over
[`meta_train.lightning`][meta_train.lightning]).

Needs ``pip install "meta-train[lightning]"``; without it the import names that extra.
"""

from __future__ import annotations

from meta_all.compat.learn2learn._lightning import LightningANIL as LightningANIL
from meta_all.compat.learn2learn._lightning import (
    LightningEpisodicModule as LightningEpisodicModule,
)
from meta_all.compat.learn2learn._lightning import LightningMAML as LightningMAML
from meta_all.compat.learn2learn._lightning import LightningMetaOptNet as LightningMetaOptNet
from meta_all.compat.learn2learn._lightning import (
    LightningPrototypicalNetworks as LightningPrototypicalNetworks,
)

__all__ = [
    "LightningANIL",
    "LightningEpisodicModule",
    "LightningMAML",
    "LightningMetaOptNet",
    "LightningPrototypicalNetworks",
]
