"""meta-train.

`MetaTrainer`, `History`, atomic checkpoints, history export and the `meta-train` command line.
Depends on meta-algos and meta-tasks; `pip install meta-train[plot]` adds matplotlib for plots.
"""

from __future__ import annotations

from .__about__ import __version__
from ._checkpoint import CheckpointError
from ._history import History
from ._metrics import accuracy, is_class_labels, mean_confidence_interval
from ._plotting import plot_history, plot_sinusoid_fits
from ._trainer import MetaTrainer, NonFiniteError, TaskEvaluation

__all__ = [
    "CheckpointError",
    "History",
    "MetaTrainer",
    "NonFiniteError",
    "TaskEvaluation",
    "__version__",
    "accuracy",
    "is_class_labels",
    "mean_confidence_interval",
    "plot_history",
    "plot_sinusoid_fits",
]
