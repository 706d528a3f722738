"""learn2learn's ``l2l.algorithms.maml``.

``MAML`` and ``maml_update``, with the helpers that module imports.

``from learn2learn.algorithms.maml import maml_update`` works with only the import changed;
every name is the one of [`algorithms`][meta_all.compat.learn2learn.algorithms] or
[`utils`][meta_all.compat.learn2learn.utils].
"""

from __future__ import annotations

from meta_all.compat.learn2learn._algorithms import MAML as MAML
from meta_all.compat.learn2learn._algorithms import BaseLearner as BaseLearner
from meta_all.compat.learn2learn._algorithms import maml_update as maml_update
from meta_all.compat.learn2learn.utils import clone_module as clone_module
from meta_all.compat.learn2learn.utils import update_module as update_module

__all__ = ["MAML", "BaseLearner", "clone_module", "maml_update", "update_module"]
