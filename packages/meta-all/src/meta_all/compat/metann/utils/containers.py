"""MetaNN's ``metann.utils.containers``: ``SubDict``, ``DefaultList``, ``MultipleList``."""

from __future__ import annotations

from meta_functional import DefaultList as DefaultList
from meta_functional import MultipleList as MultipleList
from meta_functional import SubDict as SubDict

__all__ = ["DefaultList", "MultipleList", "SubDict"]
