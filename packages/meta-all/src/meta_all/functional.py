"""``meta-functional`` under ``meta_all.functional``.

The meta-functional package (the stateless functional core and the learn2learn-style module
utilities): every name in ``meta_functional.__all__``, re-exported unchanged (the very same
objects), so ``from meta_all.functional import X`` and ``from meta_functional import X`` are
interchangeable. See :mod:`meta_functional` for each name.
"""

from __future__ import annotations

from meta_functional import BuildLoss as BuildLoss
from meta_functional import DefaultList as DefaultList
from meta_functional import DependentModule as DependentModule
from meta_functional import LearningRate as LearningRate
from meta_functional import MultipleList as MultipleList
from meta_functional import Params as Params
from meta_functional import ProtoModule as ProtoModule
from meta_functional import SubDict as SubDict
from meta_functional import __version__ as __version__
from meta_functional import adapt as adapt
from meta_functional import clone_module as clone_module
from meta_functional import detach_module as detach_module
from meta_functional import functional_forward as functional_forward
from meta_functional import inner_step as inner_step
from meta_functional import magic_box as magic_box
from meta_functional import named_buffers as named_buffers
from meta_functional import named_params as named_params
from meta_functional import update_module as update_module

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
