"""learn2learn's ``l2l.vision.datasets.vgg_flowers``.

``VGGFlower102`` and the ``download_file`` that module imports.

See [`VGGFlower102`][meta_all.compat.learn2learn.vision.datasets.VGGFlower102].
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.utils import download_file as download_file
from meta_all.compat.learn2learn.vision.datasets import VGGFlower102 as VGGFlower102

__all__ = ["VGGFlower102", "download_file"]
