"""meta-nn.

Meta-learning layers (`Lambda`, `Flatten`, `Scale`, `KroneckerLinear`, `KroneckerRNN`,
`KroneckerLSTM`) and standard few-shot backbones (`MLP`, `ConvNet4`/`OmniglotCNN`,
`MiniImagenetCNN`). Depends on torch only.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
