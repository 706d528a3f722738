"""learn2learn's ``l2l.data.meta_dataset``.

``MetaDataset``, ``UnionMetaDataset`` and ``FilteredMetaDataset``.

[`meta_tasks`][meta_tasks]' classes, as in [`data`][meta_all.compat.learn2learn.data].
"""

from __future__ import annotations

from meta_tasks import FilteredMetaDataset as FilteredMetaDataset
from meta_tasks import MetaDataset as MetaDataset
from meta_tasks import UnionMetaDataset as UnionMetaDataset

__all__ = ["FilteredMetaDataset", "MetaDataset", "UnionMetaDataset"]
