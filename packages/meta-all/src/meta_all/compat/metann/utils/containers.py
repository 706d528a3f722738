"""MetaNN's ``metann.utils.containers``: ``SubDict``, ``DefaultList``, ``MultipleList``."""

from __future__ import annotations

from meta_nn import DefaultList as DefaultList
from meta_nn import MultipleList as MultipleList
from meta_nn import SubDict as SubDict

__all__ = ["DefaultList", "MultipleList", "SubDict"]
