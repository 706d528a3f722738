"""learn2learn's ``l2l.optim.transforms.metacurvature_transform``.

``MetaCurvatureTransform``, from meta-optim.
"""

from __future__ import annotations

from meta_optim import MetaCurvatureTransform as MetaCurvatureTransform

__all__ = ["MetaCurvatureTransform"]
