"""learn2learn's ``l2l.data.utils``: ``partition_task`` and ``InfiniteIterator``."""

from __future__ import annotations

from meta_tasks import InfiniteIterator as InfiniteIterator
from meta_tasks import split_by_shots
from torch import Tensor

__all__ = ["InfiniteIterator", "partition_task"]


def partition_task(
    data: Tensor, labels: Tensor, shots: int = 1, ways: int | None = None
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """learn2learn's ``partition_task``: ``shots`` support items per label, the rest as query.

    A shell over [`meta_tasks.split_by_shots`][meta_tasks.split_by_shots] (labels in
    increasing order, each label's first ``shots`` items to the support set).

    Args:
        data: Inputs ``(n, ...)``.
        labels: Labels ``(n,)``; every label must have the same number of items.
        shots: Support items per label.
        ways: Expected number of labels (checked when given).

    Returns:
        ``((support_data, support_labels), (query_data, query_labels))``.

    Raises:
        ValueError: If the labels are not equally frequent or the shapes do not match.

    Examples:
        >>> import torch
        >>> (sx, sy), (qx, qy) = partition_task(torch.arange(4.0), torch.tensor([0, 1, 0, 1]))
        >>> sy.tolist(), qx.tolist()
        ([0, 1], [2.0, 3.0])
    """
    task = split_by_shots(data, labels, shots, ways=ways)
    return (task.support_x, task.support_y), (task.query_x, task.query_y)
