"""learn2learn's ``l2l.data``: labelled datasets, task datasets and task transforms.

Shells over [`meta_tasks`][meta_tasks]' episodic-data API with learn2learn's names and argument
order: ``MetaDataset``, ``UnionMetaDataset``, ``FilteredMetaDataset`` (meta-tasks' classes),
``TaskDataset``/``Taskset``, ``DataDescription`` (meta-tasks' ``ItemDescription``),
``OnDeviceDataset`` (meta-tasks'), ``partition_task``, ``InfiniteIterator`` and the
``transforms`` module.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import meta_tasks
import torch
from meta_tasks import FilteredMetaDataset as FilteredMetaDataset
from meta_tasks import ItemDescription, TaskDescription, TaskTransform
from meta_tasks import MetaDataset as MetaDataset
from meta_tasks import OnDeviceDataset as OnDeviceDataset
from meta_tasks import UnionMetaDataset as UnionMetaDataset

from . import transforms as transforms
from . import utils as utils
from .utils import InfiniteIterator as InfiniteIterator
from .utils import partition_task as partition_task

DataDescription = ItemDescription
"""learn2learn's name for [`ItemDescription`][meta_tasks.ItemDescription]."""

__all__ = [
    "DataDescription",
    "FilteredMetaDataset",
    "InfiniteIterator",
    "MetaDataset",
    "OnDeviceDataset",
    "TaskDataset",
    "Taskset",
    "UnionMetaDataset",
    "partition_task",
    "transforms",
    "utils",
]


class _OneArgument:
    """A learn2learn task transform ``description -> description`` in meta-tasks' protocol."""

    def __init__(self, transform: Callable[[TaskDescription | None], TaskDescription]) -> None:
        self.transform = transform

    def __call__(
        self, description: TaskDescription | None, generator: torch.Generator | None = None
    ) -> TaskDescription:
        return self.transform(description)


class TaskDataset(meta_tasks.TaskDataset):
    """learn2learn's ``TaskDataset(dataset, task_transforms, num_tasks=-1, task_collate=None)``.

    A shell over [`meta_tasks.TaskDataset`][meta_tasks.TaskDataset]. ``task_transforms`` may
    mix meta-tasks' transforms (those of ``l2l.data.transforms``) and learn2learn-style
    callables ``description -> description``, or be a single callable. The seed is drawn from
    Python's ``random`` module when the task set is built, so ``random.seed(...)`` before
    building it makes the tasks reproducible, as in learn2learn scripts.

    Args:
        dataset: The labelled dataset (wrapped in a ``MetaDataset`` if it is not one).
        task_transforms: Task transforms, applied in order.
        num_tasks: ``-1`` for an endless stream, else the number of fixed (cached) tasks.
        task_collate: Collate function for the loaded items (default ``default_collate``).

    Attributes:
        task_transforms: The transforms as given.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = MetaDataset(TensorDataset(torch.randn(20, 2), torch.arange(20) % 4))
        >>> nways, kshots = transforms.NWays(data, 2), transforms.KShots(data, 3)
        >>> x, y = TaskDataset(data, [nways, kshots, transforms.LoadData(data)], 5).sample()
        >>> tuple(x.shape), len(set(y.tolist()))
        ((6, 2), 2)
    """

    def __init__(
        self,
        dataset: Any,
        task_transforms: Sequence[Callable[..., TaskDescription]]
        | Callable[..., TaskDescription]
        | None = None,
        num_tasks: int = -1,
        task_collate: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        given = [] if task_transforms is None else task_transforms
        chain = [given] if callable(given) else list(given)
        self.task_transforms = given
        super().__init__(
            dataset,
            [t if isinstance(t, TaskTransform) else _OneArgument(t) for t in chain],
            num_tasks=num_tasks,
            seed=random.getrandbits(62),
            collate=task_collate,
        )

    @property
    def task_collate(self) -> Callable[[list[Any]], Any]:
        """The collate function (learn2learn's name)."""
        return self.collate


Taskset = TaskDataset
"""learn2learn's other name for [`TaskDataset`][meta_all.compat.learn2learn.data.TaskDataset]."""
