"""learn2learn's ``l2l.vision.datasets.fc100``.

``FC100`` and the ``download_file`` that module imports.

See [`FC100`][meta_all.compat.learn2learn.vision.datasets.FC100].
learn2learn's Google Drive helper ``download_file_from_google_drive`` is not provided (see
[`data.utils`][meta_all.compat.learn2learn.data.utils]).
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.utils import download_file as download_file
from meta_all.compat.learn2learn.vision.datasets import FC100 as FC100

__all__ = ["FC100", "download_file"]
