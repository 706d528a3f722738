"""``meta-train`` under ``meta_all.train``.

The meta-train package (the meta-trainer, its history and checkpoints): every name in
``meta_train.__all__``, re-exported unchanged (the very same objects), so ``from meta_all.train
import X`` and ``from meta_train import X`` are interchangeable. See :mod:`meta_train` for each
name.
"""

from __future__ import annotations

from meta_train import History as History
from meta_train import MetaTrainer as MetaTrainer
from meta_train import TaskEvaluation as TaskEvaluation
from meta_train import __version__ as __version__
from meta_train import accuracy as accuracy
from meta_train import is_class_labels as is_class_labels
from meta_train import mean_confidence_interval as mean_confidence_interval
from meta_train import plot_history as plot_history
from meta_train import plot_sinusoid_fits as plot_sinusoid_fits

__all__ = [
    "History",
    "MetaTrainer",
    "TaskEvaluation",
    "__version__",
    "accuracy",
    "is_class_labels",
    "mean_confidence_interval",
    "plot_history",
    "plot_sinusoid_fits",
]
