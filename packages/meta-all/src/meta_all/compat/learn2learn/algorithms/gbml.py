"""learn2learn's ``l2l.algorithms.gbml``.

``GBML``, gradient-based meta-learning with learnable transforms.

See [`GBML`][meta_all.compat.learn2learn.algorithms.GBML].
"""

from __future__ import annotations

from meta_all.compat.learn2learn._algorithms import GBML as GBML

__all__ = ["GBML"]
