"""``meta-optim`` under ``meta_all.optim``.

The meta-optim package (learnable optimizers, gradient transforms and differentiable inner-loop
optimizers): every name in ``meta_optim.__all__``, re-exported unchanged (the very same
objects), so ``from meta_all.optim import X`` and ``from meta_optim import X`` are
interchangeable. See :mod:`meta_optim` for each name.
"""

from __future__ import annotations

from meta_optim import AdamState as AdamState
from meta_optim import DifferentiableSGD as DifferentiableSGD
from meta_optim import GradientTransformation as GradientTransformation
from meta_optim import InitFn as InitFn
from meta_optim import KroneckerTransform as KroneckerTransform
from meta_optim import LearnableOptimizer as LearnableOptimizer
from meta_optim import MetaCurvatureTransform as MetaCurvatureTransform
from meta_optim import ModuleTransform as ModuleTransform
from meta_optim import ParameterUpdate as ParameterUpdate
from meta_optim import RMSpropState as RMSpropState
from meta_optim import SgdState as SgdState
from meta_optim import UpdateFn as UpdateFn
from meta_optim import __version__ as __version__
from meta_optim import adam as adam
from meta_optim import apply_updates as apply_updates
from meta_optim import kronecker_dims as kronecker_dims
from meta_optim import rmsprop as rmsprop
from meta_optim import sgd as sgd

__all__ = [
    "AdamState",
    "DifferentiableSGD",
    "GradientTransformation",
    "InitFn",
    "KroneckerTransform",
    "LearnableOptimizer",
    "MetaCurvatureTransform",
    "ModuleTransform",
    "ParameterUpdate",
    "RMSpropState",
    "SgdState",
    "UpdateFn",
    "__version__",
    "adam",
    "apply_updates",
    "kronecker_dims",
    "rmsprop",
    "sgd",
]
