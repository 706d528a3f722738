"""learn2learn's ``l2l.vision.datasets.cu_birds200``.

``CUBirds200`` and the ``download_file`` that module imports.

See [`CUBirds200`][meta_all.compat.learn2learn.vision.datasets.CUBirds200].
learn2learn's Google Drive helper ``download_file_from_google_drive`` is not provided (see
[`data.utils`][meta_all.compat.learn2learn.data.utils]).
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.utils import download_file as download_file
from meta_all.compat.learn2learn.vision.datasets import CUBirds200 as CUBirds200

__all__ = ["CUBirds200", "download_file"]
