"""learn2learn's ``l2l.algorithms.meta_sgd``.

``MetaSGD`` and ``meta_sgd_update``, with the helpers that module imports.

Every name is the one of [`algorithms`][meta_all.compat.learn2learn.algorithms] or
[`utils`][meta_all.compat.learn2learn.utils].
"""

from __future__ import annotations

from meta_all.compat.learn2learn._algorithms import BaseLearner as BaseLearner
from meta_all.compat.learn2learn._algorithms import MetaSGD as MetaSGD
from meta_all.compat.learn2learn._algorithms import meta_sgd_update as meta_sgd_update
from meta_all.compat.learn2learn.utils import clone_module as clone_module
from meta_all.compat.learn2learn.utils import clone_parameters as clone_parameters

__all__ = ["BaseLearner", "MetaSGD", "clone_module", "clone_parameters", "meta_sgd_update"]
