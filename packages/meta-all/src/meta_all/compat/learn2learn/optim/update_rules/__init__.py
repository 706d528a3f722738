"""learn2learn's ``l2l.optim.update_rules``.

``DifferentiableSGD``, [`meta_optim.DifferentiableSGD`][meta_optim.DifferentiableSGD].
"""

from __future__ import annotations

from meta_optim import DifferentiableSGD as DifferentiableSGD

__all__ = ["DifferentiableSGD"]
