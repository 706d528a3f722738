"""learn2learn's ``l2l.utils.lightning``: ``EpisodicBatcher`` on Lightning 2.

``from learn2learn.utils.lightning import EpisodicBatcher`` works with only the import changed.
Needs ``pip install "meta-train[lightning]"``; without it the import names that extra.
"""

from __future__ import annotations

from .._lightning import EpisodicBatcher as EpisodicBatcher

__all__ = ["EpisodicBatcher"]
