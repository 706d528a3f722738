"""learn2learn's ``l2l.optim.learnable_optimizer``.

``LearnableOptimizer``, [`meta_optim.LearnableOptimizer`][meta_optim.LearnableOptimizer].
"""

from __future__ import annotations

from meta_optim import LearnableOptimizer as LearnableOptimizer

__all__ = ["LearnableOptimizer"]
