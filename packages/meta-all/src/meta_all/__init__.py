"""meta-all: every meta-* package under one import.

``import meta_all`` gives the six packages as submodules, each re-exporting its package's
``__all__`` unchanged: ``meta_all.functional`` ([`meta_functional`][meta_functional]),
``meta_all.nn`` ([`meta_nn`][meta_nn]), ``meta_all.optim`` ([`meta_optim`][meta_optim]),
``meta_all.algos`` ([`meta_algos`][meta_algos]), ``meta_all.tasks`` ([`meta_tasks`][meta_tasks])
and ``meta_all.train`` ([`meta_train`][meta_train]). The names used most are also available at
the top level: the algorithms (``MAML``, ``MetaSGD``, ``ANIL``, ``MAMLpp``, ``Learner``,
``head_names``), training (``MetaTrainer``, ``History``), tasks (``Task``, ``TaskBatch``,
``TaskSampler``, ``SinusoidTaskSampler``, ``FewShotSampler``, ``Omniglot``) and the functional
core (``functional_forward``, ``inner_step``, ``adapt``, ``named_params``, ``named_buffers``,
``clone_module``, ``detach_module``, ``update_module``, ``magic_box``).

Compatibility layers for learn2learn and MetaNN code live in ``meta_all.compat`` and are
imported explicitly (``import meta_all.compat.learn2learn as l2l``).

Examples:
    >>> import torch
    >>> import meta_all
    >>> maml = meta_all.MAML(torch.nn.Linear(1, 1), inner_lr=0.1)
    >>> isinstance(maml, meta_all.algos.MAML)
    True
"""

from __future__ import annotations

from . import algos as algos
from . import functional as functional
from . import nn as nn
from . import optim as optim
from . import tasks as tasks
from . import train as train
from .__about__ import __version__
from .algos import ANIL as ANIL
from .algos import MAML as MAML
from .algos import Learner as Learner
from .algos import MAMLpp as MAMLpp
from .algos import MetaSGD as MetaSGD
from .algos import head_names as head_names
from .functional import adapt as adapt
from .functional import clone_module as clone_module
from .functional import detach_module as detach_module
from .functional import functional_forward as functional_forward
from .functional import inner_step as inner_step
from .functional import magic_box as magic_box
from .functional import named_buffers as named_buffers
from .functional import named_params as named_params
from .functional import update_module as update_module
from .tasks import FewShotSampler as FewShotSampler
from .tasks import Omniglot as Omniglot
from .tasks import SinusoidTaskSampler as SinusoidTaskSampler
from .tasks import Task as Task
from .tasks import TaskBatch as TaskBatch
from .tasks import TaskSampler as TaskSampler
from .train import History as History
from .train import MetaTrainer as MetaTrainer

__all__ = [
    "ANIL",
    "MAML",
    "FewShotSampler",
    "History",
    "Learner",
    "MAMLpp",
    "MetaSGD",
    "MetaTrainer",
    "Omniglot",
    "SinusoidTaskSampler",
    "Task",
    "TaskBatch",
    "TaskSampler",
    "__version__",
    "adapt",
    "algos",
    "clone_module",
    "detach_module",
    "functional",
    "functional_forward",
    "head_names",
    "inner_step",
    "magic_box",
    "named_buffers",
    "named_params",
    "nn",
    "optim",
    "tasks",
    "train",
    "update_module",
]
