"""meta-nn.

Meta-learning layers (`Lambda`, `Flatten`, `Scale`, `KroneckerLinear`, `KroneckerRNN`,
`KroneckerLSTM`) and standard few-shot backbones (`MLP`, `ConvNet4`/`OmniglotCNN`,
`MiniImagenetCNN`). Depends on torch only.
"""

from __future__ import annotations

from .__about__ import __version__
from ._backbones import MLP, ConvNet4, MiniImagenetCNN, OmniglotCNN
from ._kronecker import KroneckerLinear, KroneckerLSTM, KroneckerRNN
from ._layers import Flatten, Lambda, Scale

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
