"""meta-algos.

`MAML`, `MetaSGD`, `ANIL`, `MAMLpp` with task-batched (vmap) adaptation. Depends on
meta-functional and meta-optim. (MetaNN's episodic learners live in `meta_all.compat.metann`.)
"""

from __future__ import annotations

from .__about__ import __version__
from ._imaml import IMAML
from ._maml import ANIL, MAML, Learner, MetaSGD, head_names
from ._mamlpp import MAMLpp
from ._metaoptnet import MetaOptNet
from ._protocol import MetaAlgorithm, MetaGradient, TaskData
from ._protonet import ProtoDistance, ProtoNet
from ._reptile import Reptile
from ._typing import LossFn

__all__ = [
    "ANIL",
    "IMAML",
    "MAML",
    "Learner",
    "LossFn",
    "MAMLpp",
    "MetaAlgorithm",
    "MetaGradient",
    "MetaOptNet",
    "MetaSGD",
    "ProtoDistance",
    "ProtoNet",
    "Reptile",
    "TaskData",
    "__version__",
    "head_names",
]
