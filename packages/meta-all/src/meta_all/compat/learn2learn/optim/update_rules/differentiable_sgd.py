"""learn2learn's ``l2l.optim.update_rules.differentiable_sgd``.

``DifferentiableSGD`` and the ``update_module`` it imports.
"""

from __future__ import annotations

from meta_functional import update_module as update_module
from meta_optim import DifferentiableSGD as DifferentiableSGD

__all__ = ["DifferentiableSGD", "update_module"]
