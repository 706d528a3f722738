"""MetaNN's ``metann.dependentmodule``: ``DependentModule`` from meta-functional."""

from __future__ import annotations

from meta_functional import DependentModule as DependentModule

__all__ = ["DependentModule"]
