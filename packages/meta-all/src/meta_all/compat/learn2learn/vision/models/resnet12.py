"""learn2learn's ``l2l.vision.models.resnet12``.

``ResNet12``, ``ResNet12Backbone`` and ``DropBlock``, from meta-nn.

learn2learn's building blocks ``BasicBlock`` and ``conv3x3`` are not provided: meta-nn keeps
them private.
"""

from __future__ import annotations

from meta_nn import DropBlock as DropBlock

from meta_all.compat.learn2learn.vision.models import ResNet12 as ResNet12
from meta_all.compat.learn2learn.vision.models import ResNet12Backbone as ResNet12Backbone

__all__ = ["DropBlock", "ResNet12", "ResNet12Backbone"]
