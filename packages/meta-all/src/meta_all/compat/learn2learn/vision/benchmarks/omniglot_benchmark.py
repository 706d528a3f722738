"""learn2learn's ``l2l.vision.benchmarks.omniglot_benchmark``: ``omniglot_tasksets``.

See [`omniglot_tasksets`][meta_all.compat.learn2learn.vision.benchmarks.omniglot_tasksets].
"""

from __future__ import annotations

from meta_all.compat.learn2learn.vision.benchmarks import omniglot_tasksets as omniglot_tasksets

__all__ = ["omniglot_tasksets"]
