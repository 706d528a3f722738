"""``meta-tasks`` under ``meta_all.tasks``.

The meta-tasks package (tasks, task samplers and datasets): every name in
``meta_tasks.__all__``, re-exported unchanged (the very same objects), so ``from meta_all.tasks
import X`` and ``from meta_tasks import X`` are interchangeable. See :mod:`meta_tasks` for each
name.
"""

from __future__ import annotations

from meta_tasks import OMNIGLOT_BASE_URL as OMNIGLOT_BASE_URL
from meta_tasks import FewShotSampler as FewShotSampler
from meta_tasks import LabeledDataset as LabeledDataset
from meta_tasks import Omniglot as Omniglot
from meta_tasks import OmniglotOneShotRuns as OmniglotOneShotRuns
from meta_tasks import RotatedClasses as RotatedClasses
from meta_tasks import SinusoidParams as SinusoidParams
from meta_tasks import SinusoidTaskSampler as SinusoidTaskSampler
from meta_tasks import Task as Task
from meta_tasks import TaskBatch as TaskBatch
from meta_tasks import TaskSampler as TaskSampler
from meta_tasks import __version__ as __version__
from meta_tasks import split_classes as split_classes
from meta_tasks import stack_tasks as stack_tasks

__all__ = [
    "OMNIGLOT_BASE_URL",
    "FewShotSampler",
    "LabeledDataset",
    "Omniglot",
    "OmniglotOneShotRuns",
    "RotatedClasses",
    "SinusoidParams",
    "SinusoidTaskSampler",
    "Task",
    "TaskBatch",
    "TaskSampler",
    "__version__",
    "split_classes",
    "stack_tasks",
]
