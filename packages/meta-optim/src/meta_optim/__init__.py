"""meta-optim.

Learnable optimizers and gradient transforms (learn2learn's `optim` API) and differentiable
functional inner-loop optimizers (`sgd`, `rmsprop`, `adam`). Depends on meta-functional and
meta-nn.
"""

from __future__ import annotations

from .__about__ import __version__

__all__ = ["__version__"]
