"""MetaNN's ``metann.dependentmodule``: ``DependentModule`` from meta-nn.

A star import gives ``DependentModule`` (not the helpers MetaNN's module imported, such as
``deepcopy``, ``OrderedDict``, ``Module``, ``SubDict`` or the ``typing`` names).
"""

from __future__ import annotations

from meta_nn import DependentModule as DependentModule

__all__ = ["DependentModule"]
