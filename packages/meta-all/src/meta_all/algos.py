"""``meta-algos`` under ``meta_all.algos``.

The meta-algos package (MAML, MetaSGD, ANIL, MAML++ and the episodic learners): every name in
``meta_algos.__all__``, re-exported unchanged (the very same objects), so ``from meta_all.algos
import X`` and ``from meta_algos import X`` are interchangeable. See :mod:`meta_algos` for each
name.
"""

from __future__ import annotations

from meta_algos import ANIL as ANIL
from meta_algos import MAML as MAML
from meta_algos import Learner as Learner
from meta_algos import LossFn as LossFn
from meta_algos import MAMLpp as MAMLpp
from meta_algos import MetaSGD as MetaSGD
from meta_algos import __version__ as __version__
from meta_algos import head_names as head_names

__all__ = [
    "ANIL",
    "MAML",
    "Learner",
    "LossFn",
    "MAMLpp",
    "MetaSGD",
    "__version__",
    "head_names",
]
