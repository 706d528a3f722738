"""learn2learn's ``l2l.data.task_dataset``: ``TaskDataset``/``Taskset`` and ``DataDescription``.

The names of [`data`][meta_all.compat.learn2learn.data]; ``CythonTaskDataset`` (learn2learn's
compiled base of ``TaskDataset``, with the same arguments) is another name for ``TaskDataset``.
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data import DataDescription as DataDescription
from meta_all.compat.learn2learn.data import TaskDataset as TaskDataset
from meta_all.compat.learn2learn.data import Taskset as Taskset

__all__ = ["CythonTaskDataset", "DataDescription", "TaskDataset", "Taskset"]

CythonTaskDataset = TaskDataset
"""learn2learn's compiled ``TaskDataset``: the same class here (pure Python)."""
