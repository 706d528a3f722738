"""MetaNN's ``metann.proto``: ``ProtoModule`` from meta-functional."""

from __future__ import annotations

from meta_functional import ProtoModule as ProtoModule

__all__ = ["ProtoModule"]
