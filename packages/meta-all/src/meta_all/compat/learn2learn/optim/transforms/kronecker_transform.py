"""learn2learn's ``l2l.optim.transforms.kronecker_transform``: ``KroneckerTransform``.

See [`KroneckerTransform`][meta_all.compat.learn2learn.optim.transforms.KroneckerTransform].
learn2learn's ``get_kronecker_dims(param)`` is not provided: the per-filter factor sizes are
computed inside meta-optim's ``KroneckerTransform(per_filter=True)``, whose public
[`kronecker_dims`][meta_optim.kronecker_dims] gives the whole-filter-bank sizes instead.
"""

from __future__ import annotations

from meta_all.compat.learn2learn.optim.transforms import KroneckerTransform as KroneckerTransform

__all__ = ["KroneckerTransform"]
