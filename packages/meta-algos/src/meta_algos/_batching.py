"""What the meta-gradient paths share: the per-task loop, stacking tasks, mapping over them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import vmap

from ._checks import check_batchable
from ._protocol import MetaGradient, TaskData

#: The four fields of a task, in the order the batched paths take them.
TASK_FIELDS = ("support_x", "support_y", "query_x", "query_y")


def chunk_by_chunk(
    tasks: Sequence[TaskData],
    size: int,
    step: Callable[[Sequence[TaskData], float], tuple[Tensor, Sequence[Tensor]]],
) -> MetaGradient:
    """A meta-gradient in chunks of ``size`` tasks: ``step(chunk, len(chunk) / len(tasks))``.

    ``step`` adds the chunk's share of the meta-gradient (the mean of its objectives weighted
    by the given factor, so that the shares sum to the mean over all tasks) to ``.grad``
    before the next chunk starts, so one chunk's graph is alive at a time, and returns the
    chunk's objectives (one per task) and query predictions. The last chunk holds the
    remaining tasks and may be smaller.

    Args:
        tasks: The tasks of one meta-update (at least one).
        size: Tasks per chunk (``>= 1``).
        step: ``step(chunk, share) -> (objectives, predictions)``.

    Returns:
        The objectives and predictions, detached, in task order.
    """
    losses: list[Tensor] = []
    predictions: list[Tensor] = []
    for start in range(0, len(tasks), size):
        chunk = tasks[start : start + size]
        chunk_losses, chunk_predictions = step(chunk, len(chunk) / len(tasks))
        losses.append(chunk_losses.detach())
        predictions += [prediction.detach() for prediction in chunk_predictions]
    return MetaGradient(torch.cat(losses), predictions)


def task_by_task(
    tasks: Sequence[TaskData], step: Callable[[TaskData, float], tuple[Tensor, Tensor]]
) -> MetaGradient:
    """The per-task path of a meta-gradient: ``step(task, 1 / len(tasks))`` for each task.

    [`chunk_by_chunk`][] with chunks of one task: ``step`` adds the task's share of the
    meta-gradient (its objective weighted by the given factor) to ``.grad`` before the next
    task starts, and returns the task's objective and query prediction.

    Args:
        tasks: The tasks of one meta-update (at least one).
        step: ``step(task, weight) -> (objective, prediction)``.

    Returns:
        The objectives and predictions, detached, in task order.
    """

    def one_task(chunk: Sequence[TaskData], share: float) -> tuple[Tensor, list[Tensor]]:
        loss, prediction = step(chunk[0], share)
        return loss.unsqueeze(0), [prediction]

    return chunk_by_chunk(tasks, 1, one_task)


def stack_tasks(tasks: Sequence[TaskData]) -> list[Tensor]:
    """Stack each field of ``tasks`` along a new leading task dimension.

    Args:
        tasks: Tasks whose fields agree in shape, dtype and device (see ``same_layout``).

    Returns:
        ``[support_x, support_y, query_x, query_y]``, each of shape ``(tasks, ...)``.
    """
    return [torch.stack([getattr(task, field) for task in tasks]) for field in TASK_FIELDS]


def map_over_tasks(module: nn.Module, per_task: Callable[..., Any], *stacks: Tensor) -> Any:
    """``per_task`` under ``torch.func.vmap`` over the leading (task) dimension of ``stacks``.

    ``per_task`` runs the network under ``_batchnorm.PrimitiveBatchNormMode`` (as
    ``MAML._forward`` does with ``grad_mode="func"``): the fused batch norm's meta-gradient
    is wrong under ``vmap``, and the mode normalises each task with its own statistics, as in
    a per-task loop. The mode is the caller's to scope to the forward passes, since it slows
    every torch call it spans. Random ops draw differently per task.

    Args:
        module: The network ``per_task`` runs (checked for BatchNorm that would update
            running statistics, which a vmapped computation cannot do).
        per_task: A pure function of one task's tensors.
        *stacks: Its arguments, stacked along dim 0.

    Returns:
        ``per_task``'s outputs, stacked along dim 0.

    Raises:
        ValueError: If ``module`` holds BatchNorm layers in training mode with running
            statistics.
    """
    check_batchable(module)
    return vmap(per_task, randomness="different")(*stacks)
