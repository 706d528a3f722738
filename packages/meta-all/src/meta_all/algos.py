"""``meta-algos`` under ``meta_all.algos``.

Every name in ``meta_algos.__all__`` (the meta-learning algorithms), re-exported unchanged: the very
same objects, and ``__all__`` is the package's own list, so a name added to or moved out of the
package follows here without an edit. ``from meta_all.algos import X`` and ``from meta_algos import
X`` are interchangeable. See [`meta_algos`][meta_algos] for each name.
"""

from __future__ import annotations

# A star import re-exports exactly meta_algos.__all__ and mypy follows it (a loop over
# __all__ filling globals() would hide every name from the type checker).
from meta_algos import *  # noqa: F403
from meta_algos import __all__ as __all__
