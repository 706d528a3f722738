"""learn2learn's ``l2l.optim.transforms``: modules that map gradients to updates.

``ModuleTransform``, ``KroneckerTransform`` and ``MetaCurvatureTransform`` are
[`meta_optim`][meta_optim]'s classes: factories (or, for ``MetaCurvatureTransform``, a module built
directly from a parameter) giving one learnable transform per parameter;
``ReshapedTransform`` (a module applied to the gradient viewed in another shape) and
``TransformDictionary`` (a factory per module or parameter) are meta-optim's too.
"""

from __future__ import annotations

from meta_optim import KroneckerTransform as KroneckerTransform
from meta_optim import MetaCurvatureTransform as MetaCurvatureTransform
from meta_optim import ModuleTransform as ModuleTransform
from meta_optim import ReshapedTransform as ReshapedTransform
from meta_optim import TransformDictionary as TransformDictionary

__all__ = [
    "KroneckerTransform",
    "MetaCurvatureTransform",
    "ModuleTransform",
    "ReshapedTransform",
    "TransformDictionary",
]
