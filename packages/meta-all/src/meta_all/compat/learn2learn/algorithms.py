"""learn2learn's ``l2l.algorithms``: ``MAML``, ``MetaSGD`` and ``GBML`` wrappers.

They keep learn2learn's signatures and ``clone()``/``adapt()`` semantics; see
[`meta_all.compat.learn2learn`][meta_all.compat.learn2learn] for the differences from learn2learn.
"""

from __future__ import annotations

from ._algorithms import GBML as GBML
from ._algorithms import MAML as MAML
from ._algorithms import BaseLearner as BaseLearner
from ._algorithms import MetaSGD as MetaSGD

__all__ = ["GBML", "MAML", "BaseLearner", "MetaSGD"]
