"""learn2learn's ``l2l.optim``: learnable optimizers and gradient transforms, from meta-optim.

``LearnableOptimizer``, ``ParameterUpdate`` and ``DifferentiableSGD`` are
[`meta_optim`][meta_optim]'s classes, with learn2learn's signatures (``KroneckerTransform``
factors convolution weights per filter, as learn2learn's). The transforms
(``ModuleTransform``, ``KroneckerTransform``, ``MetaCurvatureTransform``) and the helpers
``ReshapedTransform`` and ``TransformDictionary`` are available here and under ``transforms``,
as in learn2learn.
"""

from __future__ import annotations

from meta_optim import DifferentiableSGD as DifferentiableSGD
from meta_optim import LearnableOptimizer as LearnableOptimizer
from meta_optim import MetaCurvatureTransform as MetaCurvatureTransform
from meta_optim import ModuleTransform as ModuleTransform
from meta_optim import ParameterUpdate as ParameterUpdate
from meta_optim import ReshapedTransform as ReshapedTransform
from meta_optim import TransformDictionary as TransformDictionary

from . import transforms as transforms
from .transforms import KroneckerTransform as KroneckerTransform

__all__ = [
    "DifferentiableSGD",
    "KroneckerTransform",
    "LearnableOptimizer",
    "MetaCurvatureTransform",
    "ModuleTransform",
    "ParameterUpdate",
    "ReshapedTransform",
    "TransformDictionary",
    "transforms",
]
