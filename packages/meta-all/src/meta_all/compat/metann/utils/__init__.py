"""MetaNN's ``metann.utils``: ``SubDict`` (its ``__all__``) and the ``containers`` module.

The containers ``SubDict``, ``DefaultList`` and ``MultipleList`` are [`meta_nn`][meta_nn]'s
classes (also under ``containers``, as in MetaNN); ``numpy`` (``to_array``) is imported on use.
"""

from __future__ import annotations

from meta_nn import DefaultList as DefaultList
from meta_nn import MultipleList as MultipleList
from meta_nn import SubDict as SubDict

from . import containers as containers

__all__ = ["SubDict"]
