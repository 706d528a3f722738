"""learn2learn's ``l2l.vision.datasets.describable_textures``.

``DescribableTextures`` and the ``download_file`` that module imports.

See [`DescribableTextures`][meta_all.compat.learn2learn.vision.datasets.DescribableTextures].
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.utils import download_file as download_file
from meta_all.compat.learn2learn.vision.datasets import DescribableTextures as DescribableTextures

__all__ = ["DescribableTextures", "download_file"]
