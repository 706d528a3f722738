"""``meta-tasks`` under ``meta_all.tasks``.

Every name in ``meta_tasks.__all__`` (tasks, task samplers and datasets), re-exported unchanged: the
very same objects, and ``__all__`` is the package's own list, so a name added to or moved out of the
package follows here without an edit. ``from meta_all.tasks import X`` and ``from meta_tasks import
X`` are interchangeable. See [`meta_tasks`][meta_tasks] for each name.
"""

from __future__ import annotations

# A star import re-exports exactly meta_tasks.__all__ and mypy follows it (a loop over
# __all__ filling globals() would hide every name from the type checker).
from meta_tasks import *  # noqa: F403
from meta_tasks import __all__ as __all__
