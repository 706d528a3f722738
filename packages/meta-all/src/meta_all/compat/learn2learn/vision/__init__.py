"""learn2learn's ``l2l.vision``: ``models``, ``datasets``, ``transforms`` and ``benchmarks``.

``models`` are meta-nn's few-shot vision models, ``datasets.FullOmniglot`` reads Omniglot with
meta-tasks, ``transforms.RandomClassRotation`` is meta-tasks' task transform and
``benchmarks.get_tasksets("omniglot", ...)`` builds learn2learn's Omniglot task sets.
"""

from __future__ import annotations

from . import benchmarks as benchmarks
from . import datasets as datasets
from . import models as models
from . import transforms as transforms

__all__ = ["benchmarks", "datasets", "models", "transforms"]
