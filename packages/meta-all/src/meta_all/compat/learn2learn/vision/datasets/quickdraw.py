"""learn2learn's ``l2l.vision.datasets.quickdraw``.

``Quickdraw`` and the ``download_file`` that module imports.

See [`Quickdraw`][meta_all.compat.learn2learn.vision.datasets.Quickdraw].
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.utils import download_file as download_file
from meta_all.compat.learn2learn.vision.datasets import Quickdraw as Quickdraw

__all__ = ["Quickdraw", "download_file"]
