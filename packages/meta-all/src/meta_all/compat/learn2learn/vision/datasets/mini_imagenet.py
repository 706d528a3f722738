"""learn2learn's ``l2l.vision.datasets.mini_imagenet``.

``MiniImagenet`` and the ``download_file`` that module imports.

See [`MiniImagenet`][meta_all.compat.learn2learn.vision.datasets.MiniImagenet].
learn2learn's Google Drive helper ``download_file_from_google_drive`` is not provided (see
[`data.utils`][meta_all.compat.learn2learn.data.utils]).
Its pickle helpers ``download_pkl`` and ``index_classes`` are not provided: the data set
reads its files with meta-tasks' downloader and label index.
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.utils import download_file as download_file
from meta_all.compat.learn2learn.vision.datasets import MiniImagenet as MiniImagenet

__all__ = ["MiniImagenet", "download_file"]
