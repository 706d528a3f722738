"""learn2learn's ``l2l.vision.datasets.full_omniglot``: ``FullOmniglot``.

See [`FullOmniglot`][meta_all.compat.learn2learn.vision.datasets.FullOmniglot].
"""

from __future__ import annotations

from meta_all.compat.learn2learn.vision.datasets import FullOmniglot as FullOmniglot

__all__ = ["FullOmniglot"]
