"""meta-train.

`MetaTrainer`, `History`, atomic checkpoints, history export and the `meta-train` command line.
Depends on meta-algos and meta-tasks; `pip install meta-train[plot]` adds matplotlib for plots.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
