"""learn2learn's ``l2l.algorithms.base_learner``: ``BaseLearner``, the base of the wrappers.

See [`BaseLearner`][meta_all.compat.learn2learn.algorithms.BaseLearner].
"""

from __future__ import annotations

from meta_all.compat.learn2learn._algorithms import BaseLearner as BaseLearner

__all__ = ["BaseLearner"]
