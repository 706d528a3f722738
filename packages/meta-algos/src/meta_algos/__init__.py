"""meta-algos.

`MAML`, `MetaSGD`, `ANIL`, `MAMLpp` with task-batched (vmap) adaptation, and MetaNN's episodic
learners under `meta_algos.episodic`. Depends on meta-functional and meta-optim.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
