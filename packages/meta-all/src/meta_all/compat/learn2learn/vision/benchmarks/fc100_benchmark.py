"""learn2learn's ``l2l.vision.benchmarks.fc100_benchmark``.

``fc100_tasksets`` (FC100) is
[`vision.benchmarks`][meta_all.compat.learn2learn.vision.benchmarks]'s; the task transforms that
module imports are [`data.transforms`][meta_all.compat.learn2learn.data.transforms]'.
"""

from __future__ import annotations

from meta_all.compat.learn2learn.data.transforms import ConsecutiveLabels as ConsecutiveLabels
from meta_all.compat.learn2learn.data.transforms import KShots as KShots
from meta_all.compat.learn2learn.data.transforms import LoadData as LoadData
from meta_all.compat.learn2learn.data.transforms import NWays as NWays
from meta_all.compat.learn2learn.data.transforms import RemapLabels as RemapLabels
from meta_all.compat.learn2learn.vision.benchmarks import fc100_tasksets as fc100_tasksets

__all__ = ["ConsecutiveLabels", "KShots", "LoadData", "NWays", "RemapLabels", "fc100_tasksets"]
