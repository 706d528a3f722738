"""learn2learn's ``l2l.nn.metalayers``: ``MetaModule`` and ``ParameterTransform``, from meta-nn.

Imported as ``meta_all.compat.learn2learn.nn.metalayers`` (see
[`nn`][meta_all.compat.learn2learn.nn]); both are [`meta_nn`][meta_nn]'s classes with
learn2learn's arguments.
"""

from __future__ import annotations

from meta_nn import MetaModule as MetaModule
from meta_nn import ParameterTransform as ParameterTransform

__all__ = ["MetaModule", "ParameterTransform"]
