"""``meta-functional`` under ``meta_all.functional``.

Every name in ``meta_functional.__all__`` (the stateless functional core), re-exported unchanged:
the very same objects, and ``__all__`` is the package's own list, so a name added to or moved out of
the package follows here without an edit. ``from meta_all.functional import X`` and ``from
meta_functional import X`` are interchangeable. See [`meta_functional`][meta_functional] for each
name.
"""

from __future__ import annotations

# A star import re-exports exactly meta_functional.__all__ and mypy follows it (a loop over
# __all__ filling globals() would hide every name from the type checker).
from meta_functional import *  # noqa: F403
from meta_functional import __all__ as __all__
