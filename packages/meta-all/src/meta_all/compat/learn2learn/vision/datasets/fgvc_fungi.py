"""learn2learn's ``l2l.vision.datasets.fgvc_fungi``.

``FGVCFungi`` and the ``download_file`` that module imports.

See [`FGVCFungi`][meta_all.compat.learn2learn.vision.datasets.FGVCFungi].
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.utils import download_file as download_file
from meta_all.compat.learn2learn.vision.datasets import FGVCFungi as FGVCFungi

__all__ = ["FGVCFungi", "download_file"]
