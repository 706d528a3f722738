"""learn2learn's ``l2l.utils``: differentiable module utilities and ``accuracy``.

``clone_module``, ``detach_module``, ``update_module`` and ``magic_box`` are
[`meta_functional`][meta_functional]'s functions (also available as ``l2l.clone_module`` etc.).
``utils.lightning.EpisodicBatcher`` is imported on first use (needs ``meta-train[lightning]``).
"""

from __future__ import annotations

import importlib
from typing import Any

from meta_functional import clone_module as clone_module
from meta_functional import detach_module as detach_module
from meta_functional import magic_box as magic_box
from meta_functional import update_module as update_module
from torch import Tensor

__all__ = ["accuracy", "clone_module", "detach_module", "magic_box", "update_module"]


def accuracy(predictions: Tensor, targets: Tensor) -> Tensor:
    """learn2learn's ``accuracy``: the fraction of rows whose arg-max equals the target.

    Args:
        predictions: Scores ``(n, classes)``.
        targets: Labels, ``n`` of them (the arg-max is viewed in their shape).

    Returns:
        The accuracy as a 0-d float tensor (call ``.item()`` for a number).

    Raises:
        ValueError: If ``predictions`` is not 2-D or does not have one row per target.

    Examples:
        >>> import torch
        >>> accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
        tensor(0.5000)
    """
    if predictions.dim() != 2 or predictions.shape[0] != targets.numel():
        raise ValueError(
            f"accuracy expects predictions (n, classes) for n targets, got shapes "
            f"{tuple(predictions.shape)} and {tuple(targets.shape)}"
        )
    hits = predictions.argmax(dim=1).view(targets.shape) == targets
    return hits.sum().float() / targets.numel()


def __getattr__(name: str) -> Any:
    """``utils.lightning`` (``EpisodicBatcher``), imported on first use (needs lightning)."""
    if name == "lightning":
        return importlib.import_module(f"{__name__}.lightning")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
