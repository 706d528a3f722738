"""meta-optim.

Learnable optimizers and gradient transforms (learn2learn's `optim` API) and differentiable
functional inner-loop optimizers (`sgd`, `rmsprop`, `adam`). Depends on meta-functional and
meta-nn.
"""

from __future__ import annotations

from .__about__ import __version__
from ._dictionary import TransformDictionary
from ._functional import AdamState, RMSpropState, SgdState, adam, apply_updates, rmsprop, sgd
from ._learnable import DifferentiableSGD, LearnableOptimizer, ParameterUpdate
from ._reshaped import ReshapedTransform
from ._transforms import KroneckerTransform, MetaCurvatureTransform, ModuleTransform, kronecker_dims
from ._typing import GradientTransformation, InitFn, UpdateFn

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
    "ReshapedTransform",
    "SgdState",
    "TransformDictionary",
    "UpdateFn",
    "__version__",
    "adam",
    "apply_updates",
    "kronecker_dims",
    "rmsprop",
    "sgd",
]
