"""Input checks that only the algorithms need.

The checks every package shares (numbers, flags, losses, modules, names) live in
[`meta_functional.checks`][meta_functional.checks].
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from meta_functional.checks import check_adapt_names, describe_names
from torch import Tensor, nn


def resolve_adapt_names(
    params: Mapping[str, Tensor], adapt_names: Iterable[str] | None
) -> tuple[str, ...]:
    """Resolve ``adapt_names`` (``None`` means all) against ``params``, in ``params`` order."""
    if not params:
        raise ValueError("the module has no parameters: there is nothing to meta-learn")
    requested = set(check_adapt_names(adapt_names, params))
    return tuple(name for name in params if name in requested)


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


def _updates_running_stats(module: nn.Module) -> bool:
    return (
        isinstance(module, nn.modules.batchnorm._BatchNorm)
        and module.training
        and module.track_running_stats
    )


def check_batchable(module: nn.Module) -> None:
    """Raise if ``module`` holds BatchNorm layers that would update running stats."""
    if not any(map(_updates_running_stats, module.modules())):
        return  # the common case, checked on every batched call: no names built
    offenders = [
        name or type(module).__name__
        for name, sub in module.named_modules()
        if _updates_running_stats(sub)
    ]
    raise ValueError(
        f"batched_query_loss cannot update BatchNorm running statistics per task, but "
        f"{describe_names(offenders)} are in training mode with track_running_stats=True; "
        f"construct them with track_running_stats=False (per-task batch statistics, the "
        f"usual MAML choice), call .eval() to use the stored statistics, or use the "
        f"per-task query_loss"
    )
