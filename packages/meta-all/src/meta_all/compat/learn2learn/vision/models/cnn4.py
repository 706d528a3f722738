"""learn2learn's ``l2l.vision.models.cnn4``.

The four-layer convolutional models and their initialisers.

The classes and functions of [`vision.models`][meta_all.compat.learn2learn.vision.models]
(meta-nn's). learn2learn's ``LinearBlock`` and ``truncated_normal_`` are not provided: meta-nn
keeps its linear block private, and initialises with ``maml_init_``/``fc_init_``.
"""

from __future__ import annotations

from meta_all.compat.learn2learn.vision.models import CNN4 as CNN4
from meta_all.compat.learn2learn.vision.models import CNN4Backbone as CNN4Backbone
from meta_all.compat.learn2learn.vision.models import ConvBase as ConvBase
from meta_all.compat.learn2learn.vision.models import ConvBlock as ConvBlock
from meta_all.compat.learn2learn.vision.models import MiniImagenetCNN as MiniImagenetCNN
from meta_all.compat.learn2learn.vision.models import OmniglotCNN as OmniglotCNN
from meta_all.compat.learn2learn.vision.models import OmniglotFC as OmniglotFC
from meta_all.compat.learn2learn.vision.models import fc_init_ as fc_init_
from meta_all.compat.learn2learn.vision.models import maml_init_ as maml_init_

__all__ = [
    "CNN4",
    "CNN4Backbone",
    "ConvBase",
    "ConvBlock",
    "MiniImagenetCNN",
    "OmniglotCNN",
    "OmniglotFC",
    "fc_init_",
    "maml_init_",
]
