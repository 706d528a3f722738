"""learn2learn's ``l2l.vision.models.wrn28``: ``WRN28`` and ``WRN28Backbone``, from meta-nn.

learn2learn's building blocks ``WideResNet``, ``wide_basic``, ``conv3x3`` and ``conv_init`` are
not provided: meta-nn keeps its wide block private and builds the network in ``WRN28Backbone``.
"""

from __future__ import annotations

from meta_all.compat.learn2learn.vision.models import WRN28 as WRN28
from meta_all.compat.learn2learn.vision.models import WRN28Backbone as WRN28Backbone

__all__ = ["WRN28", "WRN28Backbone"]
