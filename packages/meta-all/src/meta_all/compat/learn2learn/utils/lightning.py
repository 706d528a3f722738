"""learn2learn's ``l2l.utils.lightning``: ``EpisodicBatcher`` and two callbacks, on Lightning 2.

``from learn2learn.utils.lightning import EpisodicBatcher`` works with only the import changed.
``TrackTestAccuracyCallback`` (the test loop after every validation) and ``NoLeaveProgressBar``
(a test bar that does not stay) are
[`meta_train.lightning.TrackTestAccuracyCallback`][meta_train.lightning.TrackTestAccuracyCallback]
and [`meta_train.lightning.NoLeaveProgressBar`][meta_train.lightning.NoLeaveProgressBar].
Needs ``pip install "meta-train[lightning]"``; without it the import names that extra.
"""

from __future__ import annotations

from meta_train.lightning import NoLeaveProgressBar as NoLeaveProgressBar
from meta_train.lightning import TrackTestAccuracyCallback as TrackTestAccuracyCallback

from .._lightning import EpisodicBatcher as EpisodicBatcher

__all__ = ["EpisodicBatcher", "NoLeaveProgressBar", "TrackTestAccuracyCallback"]
