"""MetaNN's ``metann.proto``: ``ProtoModule`` and ``tensor_copy``.

A star import gives what MetaNN's does: ``ProtoModule``, ``tensor_copy`` and the
``DependentModule`` and ``MultipleList`` MetaNN's module imported (not the helpers ``torch``,
``Module`` and ``deepcopy``).
"""

from __future__ import annotations

from meta_nn import DependentModule as DependentModule
from meta_nn import MultipleList as MultipleList

from ._proto import ProtoModule as ProtoModule
from ._proto import tensor_copy as tensor_copy

__all__ = ["DependentModule", "MultipleList", "ProtoModule", "tensor_copy"]
