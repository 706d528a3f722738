"""``meta-nn`` under ``meta_all.nn``.

The meta-nn package (meta-learning layers and few-shot backbones): every name in
``meta_nn.__all__``, re-exported unchanged (the very same objects), so ``from meta_all.nn import
X`` and ``from meta_nn import X`` are interchangeable. See :mod:`meta_nn` for each name.
"""

from __future__ import annotations

from meta_nn import MLP as MLP
from meta_nn import ConvNet4 as ConvNet4
from meta_nn import Flatten as Flatten
from meta_nn import KroneckerLinear as KroneckerLinear
from meta_nn import KroneckerLSTM as KroneckerLSTM
from meta_nn import KroneckerRNN as KroneckerRNN
from meta_nn import Lambda as Lambda
from meta_nn import MiniImagenetCNN as MiniImagenetCNN
from meta_nn import OmniglotCNN as OmniglotCNN
from meta_nn import Scale as Scale
from meta_nn import __version__ as __version__

__all__ = [
    "MLP",
    "ConvNet4",
    "Flatten",
    "KroneckerLSTM",
    "KroneckerLinear",
    "KroneckerRNN",
    "Lambda",
    "MiniImagenetCNN",
    "OmniglotCNN",
    "Scale",
    "__version__",
]
