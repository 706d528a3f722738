"""learn2learn compatibility: ``import meta_all.compat.learn2learn as l2l``.

Code written for learn2learn changes only its import::

    import meta_all.compat.learn2learn as l2l

    maml = l2l.algorithms.MAML(model, lr=0.5)
    learner = maml.clone()
    learner.adapt(loss_fn(learner(support_x), support_y))
    loss_fn(learner(query_x), query_y).backward()

Provided: ``clone_module``, ``detach_module``, ``update_module``, ``magic_box``,
``clone_parameters``, ``clone_named_parameters``, ``clone_distribution``,
``detach_distribution``, ``accuracy``, ``flatten_config``, ``warn_once`` (also under
``utils``), ``nn`` (with ``PrototypicalClassifier``, ``MetaModule``), ``optim`` (with
``optim.transforms``), ``data`` (``MetaDataset``, ``UnionMetaDataset``, ``FilteredMetaDataset``,
``TaskDataset``/``Taskset``, ``data.transforms``, ``partition_task``, ``InfiniteIterator``),
``vision`` (``models``, ``datasets.FullOmniglot``, ``transforms.RandomClassRotation``,
``benchmarks.get_tasksets``) and ``algorithms`` (``MAML``, ``MetaSGD``, ``GBML``). Everything is
meta-*'s own implementation: the wrappers in ``algorithms`` are thin shells over
[`clone_module`][meta_functional.clone_module], [`descend_module`][meta_functional.descend_module]
(meta-*'s one update rule, in place on a module) and
[`ParameterUpdate`][meta_optim.ParameterUpdate]; ``data`` is a shell over
[`meta_tasks`][meta_tasks]' episodic-data API; the models are [`meta_nn`][meta_nn]'s.

Differences from learn2learn are listed in the migration guide; the main ones: the wrappers do
not forward unknown attributes to the wrapped model (use ``learner.module.x``), invalid inputs
(a non-scalar loss, a frozen or unused parameter without ``allow_nograd``/``allow_unused``)
raise a ``ValueError`` naming the parameters instead of printing a hint, task sampling draws
from ``torch.Generator`` objects seeded from Python's ``random`` module, and ``l2l.gym``,
``l2l.text`` and the dataset zoo beyond Omniglot are not provided.
"""

from __future__ import annotations

from meta_functional import detach_module as detach_module
from meta_functional import magic_box as magic_box
from meta_functional import update_module as update_module

from . import algorithms as algorithms
from . import data as data
from . import nn as nn
from . import optim as optim
from . import utils as utils
from . import vision as vision
from .utils import accuracy as accuracy
from .utils import clone_distribution as clone_distribution
from .utils import clone_module as clone_module
from .utils import clone_named_parameters as clone_named_parameters
from .utils import clone_parameters as clone_parameters
from .utils import detach_distribution as detach_distribution
from .utils import flatten_config as flatten_config
from .utils import warn_once as warn_once

__all__ = [
    "accuracy",
    "algorithms",
    "clone_distribution",
    "clone_module",
    "clone_named_parameters",
    "clone_parameters",
    "data",
    "detach_distribution",
    "detach_module",
    "flatten_config",
    "magic_box",
    "nn",
    "optim",
    "update_module",
    "utils",
    "vision",
    "warn_once",
]
