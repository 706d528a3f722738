"""learn2learn's ``l2l.vision.datasets.cifarfs``.

``CIFARFS`` and the ``download_file`` that module imports.

See [`CIFARFS`][meta_all.compat.learn2learn.vision.datasets.CIFARFS].
learn2learn's Google Drive helper ``download_file_from_google_drive`` is not provided (see
[`data.utils`][meta_all.compat.learn2learn.data.utils]).
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.utils import download_file as download_file
from meta_all.compat.learn2learn.vision.datasets import CIFARFS as CIFARFS

__all__ = ["CIFARFS", "download_file"]
