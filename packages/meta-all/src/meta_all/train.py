"""``meta-train`` under ``meta_all.train``.

Every name in ``meta_train.__all__`` (the meta-trainer and its reporting), re-exported unchanged:
the very same objects, and ``__all__`` is the package's own list, so a name added to or moved out of
the package follows here without an edit. ``from meta_all.train import X`` and ``from meta_train
import X`` are interchangeable. See [`meta_train`][meta_train] for each name.
"""

from __future__ import annotations

# A star import re-exports exactly meta_train.__all__ and mypy follows it (a loop over
# __all__ filling globals() would hide every name from the type checker).
from meta_train import *  # noqa: F403
from meta_train import __all__ as __all__
