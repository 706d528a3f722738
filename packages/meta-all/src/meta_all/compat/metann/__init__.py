"""MetaNN compatibility: ``import meta_all.compat.metann as metann``.

Code written for MetaNN 0.3.2 changes only its imports (``metann`` ->
``meta_all.compat.metann``) and gives the same results::

    from meta_all.compat.metann import DependentModule, ProtoModule
    from meta_all.compat.metann.meta import MAML, default_evaluator_classification

Every module of MetaNN is here under the same name (``dependentmodule``, ``proto``, ``meta``,
``utils``, ``utils.containers``, ``utils.numpy``), with the same public names; a star import
gives what MetaNN's gives, less the modules and standard-library helpers MetaNN's modules
imported. Mapping onto meta-*:

* ``DependentModule`` and the containers ``SubDict``, ``DefaultList``, ``MultipleList`` are
  [`meta_nn`][meta_nn]'s classes.
* ``ProtoModule`` and ``tensor_copy`` are MetaNN's (``proto``): its ``functional`` returns a
  stateless copy of the module, built on meta-nn's ``DependentModule``; for a pure functional
  view use [`meta_nn.ProtoModule`][meta_nn.ProtoModule].
* ``meta`` holds the learners, ``MAML``/``MAMLpp`` and evaluators, thin shells over
  meta-functional's one inner loop
  ([`adapt_trajectory`][meta_functional.adapt_trajectory]) and meta-optim's optimizers.
  MetaNN's ``MAML`` is not [`meta_algos.MAML`][meta_algos.MAML]: new code should prefer the
  latter.

The differences that remain, each with its reason, are listed in the migration guide
(``docs/migration/metann.md``) and tested against MetaNN 0.3.2 itself
(``tests-integration/peers``).
"""

from __future__ import annotations

from meta_nn import DefaultList as DefaultList
from meta_nn import DependentModule as DependentModule
from meta_nn import MultipleList as MultipleList
from meta_nn import SubDict as SubDict

from . import dependentmodule as dependentmodule
from . import meta as meta
from . import proto as proto
from . import utils as utils
from ._proto import ProtoModule as ProtoModule
from ._proto import tensor_copy as tensor_copy

# MetaNN's own __all__: a star import gives these two names.
__all__ = ["DependentModule", "ProtoModule"]
