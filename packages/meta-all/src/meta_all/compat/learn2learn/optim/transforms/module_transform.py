"""learn2learn's ``l2l.optim.transforms.module_transform``.

``ModuleTransform`` and ``ReshapedTransform``, from meta-optim.
"""

from __future__ import annotations

from meta_optim import ModuleTransform as ModuleTransform
from meta_optim import ReshapedTransform as ReshapedTransform

__all__ = ["ModuleTransform", "ReshapedTransform"]
