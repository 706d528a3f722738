"""learn2learn's ``l2l.vision.datasets.fgvc_aircraft``: ``FGVCAircraft``.

See [`FGVCAircraft`][meta_all.compat.learn2learn.vision.datasets.FGVCAircraft].
"""

from __future__ import annotations

from meta_all.compat.learn2learn.vision.datasets import FGVCAircraft as FGVCAircraft

__all__ = ["FGVCAircraft"]
