"""``meta-nn`` under ``meta_all.nn``.

Every name in ``meta_nn.__all__`` (meta-learning layers and modules), re-exported unchanged: the
very same objects, and ``__all__`` is the package's own list, so a name added to or moved out of the
package follows here without an edit. ``from meta_all.nn import X`` and ``from meta_nn import X``
are interchangeable. See [`meta_nn`][meta_nn] for each name.
"""

from __future__ import annotations

# A star import re-exports exactly meta_nn.__all__ and mypy follows it (a loop over
# __all__ filling globals() would hide every name from the type checker).
from meta_nn import *  # noqa: F403
from meta_nn import __all__ as __all__
