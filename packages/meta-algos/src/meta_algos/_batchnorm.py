"""Batch norm from primitive ops for the vmapped meta-gradient, and MAML++'s per-step state.

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
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

#: Prefix of the per-step BatchNorm weights among a wrapper's learned tensors (see
#: `PerStepBatchNorm.learned`); a ``':'`` never occurs in a parameter name.
LEARNED_PREFIX = "per_step_bn:"


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


def batch_norms(module: nn.Module) -> dict[str, nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers of ``module`` by name, in ``named_modules`` order."""
    return {
        name: sub
        for name, sub in module.named_modules()
        if isinstance(sub, nn.modules.batchnorm._BatchNorm)
    }


def affine_names(module: nn.Module) -> list[str]:
    """The names of the weights and biases of ``module``'s affine BatchNorm layers."""
    return [
        f"{name}.{field}"
        for name, norm in batch_norms(module).items()
        if norm.affine
        for field in ("weight", "bias")
    ]


class _StepState(nn.Module):
    """One BatchNorm layer's per-step tensors: rows ``0..states-1`` of each."""

    weight: nn.Parameter | None
    bias: nn.Parameter | None

    def __init__(
        self, norm: nn.modules.batchnorm._BatchNorm, states: int, *, statistics: bool, weights: bool
    ) -> None:
        super().__init__()

        def rows(tensor: Tensor) -> Tensor:
            return tensor.detach().unsqueeze(0).repeat(states, *[1] * tensor.dim())

        learns = weights and norm.affine
        self.weight = nn.Parameter(rows(norm.weight)) if learns else None
        self.bias = nn.Parameter(rows(norm.bias)) if learns else None
        self.statistics = statistics and norm.track_running_stats
        if self.statistics:
            for field in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(field, rows(getattr(norm, field)))


class PerStepBatchNorm(nn.Module):
    """MAML++'s per-step BatchNorm state (BNRS and BNWB) for the BatchNorm layers of a model.

    The model's parameters change with every inner step; MAML++ gives each of these states
    ``j = 0..states-1`` (``j`` steps taken) its own BatchNorm running statistics (BNRS) and
    its own learned weight and bias (BNWB). Every tensor of a layer is stacked along a new
    first dimension of length ``states``, initialised from the layer's own values.
    `overrides` gives the rows of state ``j`` under the model's names, to run the model
    with (``functional_call``): a BatchNorm in training mode then updates the running
    statistics of row ``j`` in place, exactly as ``nn.BatchNorm`` updates its own.

    Args:
        module: The model whose BatchNorm layers get per-step state.
        states: Number of parameter states (inner steps + 1).
        statistics: Keep running statistics per state (layers that track them).
        weights: Learn a weight and bias per state (affine layers).

    Raises:
        ValueError: If ``statistics`` is set and no BatchNorm layer tracks running
            statistics, or ``weights`` is set and no BatchNorm layer is affine.
    """

    def __init__(self, module: nn.Module, states: int, *, statistics: bool, weights: bool) -> None:
        super().__init__()
        norms = batch_norms(module)
        wanted = {
            "per_step_bn_statistics": (
                statistics,
                "track running statistics (track_running_stats=True)",
                [n for n, norm in norms.items() if norm.track_running_stats],
            ),
            "per_step_bn_weights": (
                weights,
                "are affine (affine=True)",
                [n for n, norm in norms.items() if norm.affine],
            ),
        }
        for option, (on, needs, found) in wanted.items():
            if on and not found:
                raise ValueError(
                    f"{option}=True needs BatchNorm layers that {needs}, but "
                    f"{type(module).__name__} has {len(norms)} BatchNorm layers and none does"
                )
        self._names = {name: name.replace(".", "__") for name in norms}
        self.layers = nn.ModuleDict(
            {
                key: _StepState(norms[name], states, statistics=statistics, weights=weights)
                for name, key in self._names.items()
            }
        )

    def learned(self) -> dict[str, Tensor]:
        """The per-step weights and biases (live parameters) by ``LEARNED_PREFIX + name``."""
        learned: dict[str, Tensor] = {}
        for name, key in self._names.items():
            layer = self.layers[key]
            for field in ("weight", "bias"):
                tensor = getattr(layer, field)
                if tensor is not None:
                    learned[f"{LEARNED_PREFIX}{name}.{field}"] = tensor
        return learned

    def overrides(self, learned: Mapping[str, Tensor], state: int) -> dict[str, Tensor]:
        """The model's BatchNorm tensors at parameter state ``state``, by the model's names.

        Args:
            learned: The per-step weights as `learned` names them (live, or the
                differentiated inputs of a pure function).
            state: How many inner steps the parameters have taken.

        Returns:
            Row ``state`` of every per-step weight, bias and running statistic (views: the
            running statistics are updated in place by a BatchNorm in training mode).
        """
        rows: dict[str, Tensor] = {}
        for name, key in self._names.items():
            layer = self.layers[key]
            fields = ["running_mean", "running_var", "num_batches_tracked"]
            for field in fields if layer.statistics else []:
                rows[f"{name}.{field}"] = getattr(layer, field)[state]
            for field in ("weight", "bias"):
                if f"{LEARNED_PREFIX}{name}.{field}" in learned:
                    rows[f"{name}.{field}"] = learned[f"{LEARNED_PREFIX}{name}.{field}"][state]
        return rows
