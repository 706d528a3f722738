"""learn2learn's ``l2l.vision.benchmarks.cifarfs_benchmark``.

``cifarfs_tasksets`` (CIFAR-FS) is
[`vision.benchmarks`][meta_all.compat.learn2learn.vision.benchmarks]'s; the task transforms that
module imports are [`data.transforms`][meta_all.compat.learn2learn.data.transforms]'.
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.transforms import ConsecutiveLabels as ConsecutiveLabels
from meta_all.compat.learn2learn.data.transforms import KShots as KShots
from meta_all.compat.learn2learn.data.transforms import LoadData as LoadData
from meta_all.compat.learn2learn.data.transforms import NWays as NWays
from meta_all.compat.learn2learn.data.transforms import RemapLabels as RemapLabels
from meta_all.compat.learn2learn.vision.benchmarks import cifarfs_tasksets as cifarfs_tasksets

__all__ = ["ConsecutiveLabels", "KShots", "LoadData", "NWays", "RemapLabels", "cifarfs_tasksets"]
