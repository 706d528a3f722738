"""meta-algos.

`MAML`, `MetaSGD`, `ANIL`, `MAMLpp` with task-batched (vmap) adaptation, and MetaNN's episodic
learners under `meta_algos.episodic`. Depends on meta-functional and meta-optim.
"""

from __future__ import annotations

from .__about__ import __version__
from ._maml import ANIL, MAML, Learner, MetaSGD, head_names
from ._mamlpp import MAMLpp
from ._typing import LossFn

__all__ = [
    "ANIL",
    "MAML",
    "Learner",
    "LossFn",
    "MAMLpp",
    "MetaSGD",
    "__version__",
    "head_names",
]
