"""learn2learn's ``l2l.data.transforms``: task transforms over a ``MetaDataset``.

Shells over [`meta_tasks`][meta_tasks]' transforms with learn2learn's argument order and
defaults: ``NWays(dataset, n=2)``, ``KShots(dataset, k=1, replacement=False)``,
``LoadData(dataset)``, ``RemapLabels(dataset, shuffle=True)``, ``ConsecutiveLabels(dataset)``,
``FilterLabels(dataset, labels)`` and ``FusedNWaysKShots(dataset, n=2, k=1, replacement=False,
filter_labels=None)``. Inside a [`TaskDataset`][meta_all.compat.learn2learn.data.TaskDataset]
their random choices come from the task set's generator; called directly with one argument
(``NWays(dataset)(None)``) they draw from torch's global generator. learn2learn's
``CythonNWays``, ``CythonKShots``, ``CythonFilterLabels`` and ``CythonFusedNWaysKShots`` (the
compiled bases of its pure-Python classes, with the same arguments and behaviour) are other
names for ``NWays``, ``KShots``, ``FilterLabels`` and ``FusedNWaysKShots`` here.
"""

from __future__ import annotations

from collections.abc import Iterable

import meta_tasks
from meta_tasks import ConsecutiveLabels as ConsecutiveLabels
from meta_tasks import FilterLabels as FilterLabels
from meta_tasks import Label, MetaDataset
from meta_tasks import LoadData as LoadData
from meta_tasks import TaskTransform as TaskTransform

__all__ = [
    "ConsecutiveLabels",
    "CythonFilterLabels",
    "CythonFusedNWaysKShots",
    "CythonKShots",
    "CythonNWays",
    "FilterLabels",
    "FusedNWaysKShots",
    "KShots",
    "LoadData",
    "NWays",
    "RemapLabels",
    "TaskTransform",
]


class NWays(meta_tasks.NWays):
    """learn2learn's ``NWays(dataset, n=2)``: see [`meta_tasks.NWays`][meta_tasks.NWays]."""

    def __init__(self, dataset: MetaDataset, n: int = 2) -> None:
        super().__init__(dataset, n)


class KShots(meta_tasks.KShots):
    """learn2learn's ``KShots(dataset, k=1, replacement=False)``.

    See [`meta_tasks.KShots`][meta_tasks.KShots].
    """

    def __init__(self, dataset: MetaDataset, k: int = 1, replacement: bool = False) -> None:
        super().__init__(dataset, k, replacement=replacement)


class RemapLabels(meta_tasks.RemapLabels):
    """learn2learn's ``RemapLabels(dataset, shuffle=True)``.

    See [`meta_tasks.RemapLabels`][meta_tasks.RemapLabels].
    """

    def __init__(self, dataset: MetaDataset, shuffle: bool = True) -> None:
        super().__init__(dataset, shuffle=shuffle)


class FusedNWaysKShots(meta_tasks.FusedNWaysKShots):
    """learn2learn's ``FusedNWaysKShots(dataset, n=2, k=1, replacement=False, ...)``.

    ``filter_labels=None`` (all labels) is the fifth argument. See
    [`meta_tasks.FusedNWaysKShots`][meta_tasks.FusedNWaysKShots].
    """

    def __init__(
        self,
        dataset: MetaDataset,
        n: int = 2,
        k: int = 1,
        replacement: bool = False,
        filter_labels: Iterable[Label] | None = None,
    ) -> None:
        super().__init__(dataset, n, k, replacement=replacement, filter_labels=filter_labels)


CythonNWays = NWays
"""learn2learn's compiled ``NWays``: the same class here (pure Python)."""

CythonKShots = KShots
"""learn2learn's compiled ``KShots``: the same class here (pure Python)."""

CythonFilterLabels = FilterLabels
"""learn2learn's compiled ``FilterLabels``: the same class here (pure Python)."""

CythonFusedNWaysKShots = FusedNWaysKShots
"""learn2learn's compiled ``FusedNWaysKShots``: the same class here (pure Python)."""
