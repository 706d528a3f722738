"""learn2learn's ``l2l.vision.datasets.tiered_imagenet``.

``TieredImagenet`` and the ``download_file`` that module imports.

See [`TieredImagenet`][meta_all.compat.learn2learn.vision.datasets.TieredImagenet].
learn2learn's Google Drive helper ``download_file_from_google_drive`` is not provided (see
[`data.utils`][meta_all.compat.learn2learn.data.utils]).
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.utils import download_file as download_file
from meta_all.compat.learn2learn.vision.datasets import TieredImagenet as TieredImagenet

__all__ = ["TieredImagenet", "download_file"]
