"""learn2learn's ``l2l.nn.metalayers.metamodule``.

``MetaModule``, [`meta_nn.MetaModule`][meta_nn.MetaModule].
"""

from __future__ import annotations

from meta_nn import MetaModule as MetaModule

__all__ = ["MetaModule"]
