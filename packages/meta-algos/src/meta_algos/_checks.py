"""Input validation shared by the algorithms; every message names what was expected."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from torch import Tensor, nn


def describe_names(names: Iterable[str], limit: int = 8) -> str:
    """Render a sorted, possibly truncated list of names for an error message."""
    ordered = sorted(names)
    shown = ", ".join(repr(name) for name in ordered[:limit])
    if len(ordered) > limit:
        shown += f", ... ({len(ordered) - limit} more)"
    return f"[{shown}]"


def check_module(module: object, what: str = "module") -> nn.Module:
    """Raise unless ``module`` is an :class:`torch.nn.Module`."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"{what} must be a torch.nn.Module, got {type(module).__name__}")
    return module


def check_non_negative_int(value: object, what: str, *, minimum: int = 0) -> int:
    """Return ``value`` if it is an int ``>= minimum`` (bools rejected), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {value!r}")
    return value


def check_rate(value: object, what: str = "inner_lr") -> float:
    """Return ``value`` as a float if it is a finite real number, else raise."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite real number, got {value!r}")
    return float(value)


def resolve_adapt_names(
    params: Mapping[str, Tensor], adapt_names: Iterable[str] | None
) -> tuple[str, ...]:
    """Resolve ``adapt_names`` (``None`` means all) against ``params``, in ``params`` order."""
    if not params:
        raise ValueError("the module has no parameters: there is nothing to meta-learn")
    if adapt_names is None:
        return tuple(params)
    if isinstance(adapt_names, str):
        raise TypeError(
            f"adapt_names must be an iterable of parameter names, got the string "
            f"{adapt_names!r}; wrap a single name in a list"
        )
    requested = set(adapt_names)
    unknown = [name for name in requested if name not in params]
    if unknown:
        raise KeyError(
            f"adapt_names contains names that are not parameters of the module: "
            f"{describe_names(unknown)}; expected a subset of {describe_names(params)}"
        )
    if not requested:
        raise ValueError(
            f"adapt_names is empty: nothing would be adapted; expected a non-empty subset of "
            f"{describe_names(params)}"
        )
    return tuple(name for name in params if name in requested)


def check_scalar_loss(loss: object, what: str) -> Tensor:
    """Return ``loss`` if it is a single-element tensor, else raise naming ``what``."""
    if not isinstance(loss, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(
            f"{what} must be a scalar (a 0-dim or single-element tensor), got shape "
            f"{tuple(loss.shape)}; make loss_fn reduce it, e.g. with .mean()"
        )
    return loss


def check_task_stacks(
    support_x: Tensor, support_y: Tensor, query_x: Tensor, query_y: Tensor
) -> int:
    """Return the number of tasks of four stacked tensors (leading dim = task), or raise."""
    stacks = {
        "support_x": support_x,
        "support_y": support_y,
        "query_x": query_x,
        "query_y": query_y,
    }
    for name, stack in stacks.items():
        if not isinstance(stack, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(stack).__name__}")
        if stack.dim() < 1:
            raise ValueError(
                f"{name} must have a leading task dimension, got a 0-dim tensor; "
                f"stack tasks along dim 0"
            )
    counts = {name: int(stack.shape[0]) for name, stack in stacks.items()}
    if len(set(counts.values())) != 1:
        given = ", ".join(f"{name} has {count}" for name, count in counts.items())
        raise ValueError(
            f"support and query stacks must hold the same number of tasks (leading dim), "
            f"got: {given}"
        )
    n_tasks = counts["support_x"]
    if n_tasks == 0:
        raise ValueError("the task stacks are empty (leading dim 0); expected at least one task")
    return n_tasks


def check_batchable(module: nn.Module) -> None:
    """Raise if ``module`` holds BatchNorm layers that would update running stats."""
    offenders = [
        name or type(module).__name__
        for name, sub in module.named_modules()
        if isinstance(sub, nn.modules.batchnorm._BatchNorm)
        and sub.training
        and sub.track_running_stats
    ]
    if offenders:
        raise ValueError(
            f"batched_query_loss cannot update BatchNorm running statistics per task, but "
            f"{describe_names(offenders)} are in training mode with track_running_stats=True; "
            f"construct them with track_running_stats=False (per-task batch statistics, the "
            f"usual MAML choice), call .eval() to use the stored statistics, or use the "
            f"per-task query_loss"
        )
