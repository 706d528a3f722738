"""meta-tasks.

`Task`, `TaskBatch`, task samplers (sinusoid regression, N-way K-shot episodes over any labeled
dataset) and the Omniglot dataset. Depends on torch; `pip install meta-tasks[images]` adds
Pillow for Omniglot.
"""

from __future__ import annotations

from .__about__ import __version__
from ._archives import OMNIGLOT_BASE_URL
from ._fewshot import FewShotSampler, LabeledDataset, RotatedClasses, split_classes
from ._omniglot import Omniglot, OmniglotOneShotRuns
from ._sinusoid import SinusoidParams, SinusoidTaskSampler
from ._task import Task, TaskBatch, TaskSampler, stack_tasks

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
