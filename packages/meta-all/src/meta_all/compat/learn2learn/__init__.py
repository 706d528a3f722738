"""learn2learn compatibility: ``import meta_all.compat.learn2learn as l2l``.

Code written for learn2learn changes only its import::

    import meta_all.compat.learn2learn as l2l

    maml = l2l.algorithms.MAML(model, lr=0.5)
    learner = maml.clone()
    learner.adapt(loss_fn(learner(support_x), support_y))
    loss_fn(learner(query_x), query_y).backward()

Provided: ``clone_module``, ``detach_module``, ``update_module``, ``magic_box`` (also under
``utils``), ``nn``, ``optim`` (with ``optim.transforms``), ``vision.models`` and
``algorithms`` (``MAML``, ``MetaSGD``, ``GBML``). Everything is meta-*'s own implementation;
the wrappers in ``algorithms`` are thin shells over :func:`meta_functional.clone_module`,
:func:`meta_functional.update_module` and :class:`meta_optim.ParameterUpdate`.

Differences from learn2learn: the wrappers do not forward unknown attributes to the wrapped
model (use ``learner.module.x``), and invalid inputs (a non-scalar loss, a frozen or unused
parameter without ``allow_nograd``/``allow_unused``) raise a ``ValueError`` naming the
parameters instead of printing a hint. ``l2l.data``, ``l2l.gym`` and the datasets are not
provided; use :mod:`meta_tasks`.
"""

from __future__ import annotations

from meta_functional import clone_module as clone_module
from meta_functional import detach_module as detach_module
from meta_functional import magic_box as magic_box
from meta_functional import update_module as update_module

from . import algorithms as algorithms
from . import nn as nn
from . import optim as optim
from . import utils as utils
from . import vision as vision

__all__ = [
    "algorithms",
    "clone_module",
    "detach_module",
    "magic_box",
    "nn",
    "optim",
    "update_module",
    "utils",
    "vision",
]
