"""MetaNN's ``metann.utils``: the containers ``SubDict``, ``DefaultList``, ``MultipleList``.

They are :mod:`meta_functional`'s classes (also under :mod:`.containers`, as in MetaNN).
"""

from __future__ import annotations

from meta_functional import DefaultList as DefaultList
from meta_functional import MultipleList as MultipleList
from meta_functional import SubDict as SubDict

from . import containers as containers

__all__ = ["DefaultList", "MultipleList", "SubDict", "containers"]
