"""learn2learn's ``l2l.data.samplers``: ``TasksetSampler``, a batch sampler of whole tasks."""

from __future__ import annotations

import random
from collections.abc import Iterator

import meta_tasks
from meta_tasks import TaskDescription
from torch.utils.data import Sampler

__all__ = ["TasksetSampler"]


class TasksetSampler(Sampler[list[int]]):
    """learn2learn's ``TasksetSampler(taskset, shuffle=True)``: the item indices of each task.

    Each element is the list of dataset indices of one task's items, so
    ``DataLoader(taskset.dataset, batch_sampler=TasksetSampler(taskset))`` loads one task per
    batch with the loader's workers. An endless task set (``num_tasks=-1``) yields new tasks
    forever ([`sample_task_description`][meta_tasks.TaskDataset.sample_task_description]); a
    fixed one yields each of its tasks once per pass
    ([`describe`][meta_tasks.TaskDataset.describe], which caches them), in an order shuffled
    with Python's ``random`` module when ``shuffle``.

    Only the item indices reach the loader: per-item transforms of the descriptions (such as
    ``RandomClassRotation``'s) are not applied, as in learn2learn.

    Args:
        taskset: The task set whose tasks are sampled.
        shuffle: Shuffle the order of a fixed task set's tasks on each pass.

    Raises:
        TypeError: If ``taskset`` is not a ``TaskDataset``.

    Examples:
        >>> import torch
        >>> from meta_tasks import KShots, MetaDataset, NWays, TaskDataset
        >>> from torch.utils.data import TensorDataset
        >>> data = MetaDataset(TensorDataset(torch.arange(8.0), torch.arange(8) % 4))
        >>> tasks = TaskDataset(data, [NWays(data, 2), KShots(data, 2)], num_tasks=3)
        >>> batches = list(TasksetSampler(tasks, shuffle=False))
        >>> len(batches), [len(indices) for indices in batches]
        (3, [4, 4, 4])
    """

    def __init__(self, taskset: meta_tasks.TaskDataset, shuffle: bool = True) -> None:
        if not isinstance(taskset, meta_tasks.TaskDataset):
            raise TypeError(
                f"TasksetSampler: taskset must be a TaskDataset, got {type(taskset).__name__}"
            )
        self.taskset = taskset
        self.shuffle = bool(shuffle)

    def description2indices(self, task_description: TaskDescription) -> list[int]:
        """The dataset indices of a task description's items, in order.

        Args:
            task_description: A task description.

        Returns:
            ``[item.index for item in task_description]``.
        """
        return [int(item.index) for item in task_description]

    def __iter__(self) -> Iterator[list[int]]:
        """Yield the item indices of one task after another."""
        if self.taskset.num_tasks == -1:
            while True:
                yield self.description2indices(self.taskset.sample_task_description())
        order = list(range(self.taskset.num_tasks))
        if self.shuffle:
            random.shuffle(order)
        for index in order:
            yield self.description2indices(self.taskset.describe(index))
