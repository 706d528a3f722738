"""``meta-optim`` under ``meta_all.optim``.

Every name in ``meta_optim.__all__`` (learnable and differentiable optimizers), re-exported
unchanged: the very same objects, and ``__all__`` is the package's own list, so a name added to or
moved out of the package follows here without an edit. ``from meta_all.optim import X`` and ``from
meta_optim import X`` are interchangeable. See [`meta_optim`][meta_optim] for each name.
"""

from __future__ import annotations

# A star import re-exports exactly meta_optim.__all__ and mypy follows it (a loop over
# __all__ filling globals() would hide every name from the type checker).
from meta_optim import *  # noqa: F403
from meta_optim import __all__ as __all__
