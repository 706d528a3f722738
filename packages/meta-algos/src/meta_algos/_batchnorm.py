"""Batch norm from primitive ops, for the vmapped meta-gradient.

``torch.func.vmap`` over ``torch.func.grad`` through ``F.batch_norm(training=True)`` gives a
wrong second-order meta-gradient for parameters upstream of the normalisation (measured on
torch 2.13 and 2.14, see the project's pitfalls notes). Inside the batched computation we
therefore route every ``F.batch_norm`` call through `primitive_batch_norm`, which uses
only means, products and ``rsqrt`` whose batching rules are correct.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.overrides import TorchFunctionMode


def primitive_batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float | None = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Same result as `torch.nn.functional.batch_norm`, without updating statistics.

    Batch statistics (mean and biased variance over the batch and spatial dims) are used when
    ``training`` is true or no running statistics are given; otherwise the running ones are.

    Args:
        input: Tensor of shape ``(N, C, *)``.
        running_mean: Per-channel mean used when not normalising with batch statistics.
        running_var: Per-channel variance used when not normalising with batch statistics.
        weight: Optional per-channel scale.
        bias: Optional per-channel shift.
        training: Whether to normalise with batch statistics.
        momentum: Unused (running statistics are never updated here); kept for the signature.
        eps: Added to the variance for numerical stability.

    Returns:
        The normalised tensor, of ``input``'s shape.

    Raises:
        ValueError: If ``training`` is true and running statistics are given (they would have
            to be updated in place, which a vmapped per-task computation cannot do).
    """
    del momentum
    if training and running_mean is not None:
        raise ValueError(
            "batch norm in training mode with running statistics cannot update them inside "
            "batched_query_loss; use track_running_stats=False or call .eval()"
        )
    shape = [1, -1] + [1] * (input.dim() - 2)
    if training or running_mean is None or running_var is None:
        dims = [0, *range(2, input.dim())]
        mean = input.mean(dim=dims, keepdim=True)
        centered = input - mean
        variance = (centered * centered).mean(dim=dims, keepdim=True)
    else:
        centered = input - running_mean.reshape(shape)
        variance = running_var.reshape(shape)
    out = centered * torch.rsqrt(variance + eps)
    if weight is not None:
        out = out * weight.reshape(shape)
    if bias is not None:
        out = out + bias.reshape(shape)
    return out


class PrimitiveBatchNormMode(TorchFunctionMode):
    """A torch-function mode that replaces ``F.batch_norm`` by `primitive_batch_norm`."""

    def __torch_function__(
        self,
        func: Callable[..., Any],
        types: Sequence[type],
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> Any:
        """Intercept ``F.batch_norm``; run every other function unchanged."""
        if kwargs is None:
            kwargs = {}
        if func is F.batch_norm:
            return primitive_batch_norm(*args, **kwargs)
        return func(*args, **kwargs)
