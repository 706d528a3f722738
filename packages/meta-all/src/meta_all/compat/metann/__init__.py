"""MetaNN compatibility: ``import meta_all.compat.metann as metann``.

Code written for MetaNN changes only its imports (``metann`` -> ``meta_all.compat.metann``)::

    from meta_all.compat.metann import DependentModule, ProtoModule
    from meta_all.compat.metann.meta import MAML, default_evaluator_classification

Mapping onto meta-*:

* ``DependentModule``, ``ProtoModule`` and the containers ``SubDict``, ``DefaultList``,
  ``MultipleList`` (also under ``utils`` and ``utils.containers``) are
  :mod:`meta_functional`'s classes.
* ``meta`` (``GDLearner``, ``RMSPropLearner``, ``SequentialGDLearner``, ``Learner``, ``MAML``,
  ``MAMLpp``, ``MultiModel``, ``default_evaluator_classification``, ``mamlpp_evaluator``,
  ``active_indices``) is :mod:`meta_algos.episodic`. MetaNN's ``MAML`` is not seed 004's
  :class:`meta_algos.MAML`: new code should prefer the latter.
* ``dependentmodule`` and ``proto`` mirror MetaNN's modules of the same names.
"""

from __future__ import annotations

from meta_functional import DefaultList as DefaultList
from meta_functional import DependentModule as DependentModule
from meta_functional import MultipleList as MultipleList
from meta_functional import ProtoModule as ProtoModule
from meta_functional import SubDict as SubDict

from . import dependentmodule as dependentmodule
from . import meta as meta
from . import proto as proto
from . import utils as utils

__all__ = [
    "DefaultList",
    "DependentModule",
    "MultipleList",
    "ProtoModule",
    "SubDict",
    "dependentmodule",
    "meta",
    "proto",
    "utils",
]
