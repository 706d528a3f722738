"""learn2learn's ``l2l.algorithms``: ``MAML``, ``MetaSGD`` and ``GBML`` wrappers.

They keep learn2learn's signatures and ``clone()``/``adapt()`` semantics; ``maml_update`` and
``meta_sgd_update`` are their steps as functions over a module. See
[`meta_all.compat.learn2learn`][meta_all.compat.learn2learn] for the differences from learn2learn.
``LightningEpisodicModule``, ``LightningMAML``, ``LightningANIL``,
``LightningPrototypicalNetworks`` and ``LightningMetaOptNet`` (Lightning 2, over
``meta_train.lightning``) are imported on first use; they need ``meta-train[lightning]``
(``LightningMetaOptNet`` also ``meta-nn[svm]``).
"""

from __future__ import annotations

from typing import Any

from .._algorithms import GBML as GBML
from .._algorithms import MAML as MAML
from .._algorithms import BaseLearner as BaseLearner
from .._algorithms import MetaSGD as MetaSGD
from .._algorithms import maml_update as maml_update
from .._algorithms import meta_sgd_update as meta_sgd_update

__all__ = ["GBML", "MAML", "BaseLearner", "MetaSGD", "maml_update", "meta_sgd_update"]


_LIGHTNING = (
    "LightningANIL",
    "LightningEpisodicModule",
    "LightningMAML",
    "LightningMetaOptNet",
    "LightningPrototypicalNetworks",
)


def __getattr__(name: str) -> Any:
    """learn2learn's Lightning modules, imported on first use (they need the lightning extra)."""
    if name in _LIGHTNING:
        from .. import _lightning

        return getattr(_lightning, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
