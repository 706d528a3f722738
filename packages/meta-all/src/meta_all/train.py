"""``meta-train`` under ``meta_all.train``.

The meta-train package (the meta-trainer, its history and checkpoints): every name in
``meta_train.__all__``, re-exported unchanged (the very same objects), so ``from meta_all.train
import X`` and ``from meta_train import X`` are interchangeable. See :mod:`meta_train` for each
name.
"""

from __future__ import annotations

from meta_train import __version__ as __version__

__all__ = [
    "__version__",
]
