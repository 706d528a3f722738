"""meta-functional: the vendorable, stateless core of meta-*.

Everything here depends only on the standard library and torch, and uses relative imports
only, so the package directory can be copied into another project (see the docs on vendoring).
"""

from __future__ import annotations

from .__about__ import __version__
from ._containers import DefaultList, MultipleList, SubDict
from ._dependent import DependentModule
from ._functional import adapt, functional_forward, inner_step, named_buffers, named_params
from ._modules import clone_module, detach_module, magic_box, update_module
from ._proto import ProtoModule
from ._typing import BuildLoss, LearningRate, Params

__all__ = [
    "BuildLoss",
    "DefaultList",
    "DependentModule",
    "LearningRate",
    "MultipleList",
    "Params",
    "ProtoModule",
    "SubDict",
    "__version__",
    "adapt",
    "clone_module",
    "detach_module",
    "functional_forward",
    "inner_step",
    "magic_box",
    "named_buffers",
    "named_params",
    "update_module",
]
