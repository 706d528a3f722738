"""The contract between algorithms and the loops that drive them (``MetaTrainer``, Lightning)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from torch import Tensor, nn

from ._typing import LossFn


@runtime_checkable
class TaskData(Protocol):
    """Anything with a support and a query split, e.g. a ``meta_tasks.Task``.

    The first dimension of each tensor indexes examples.
    """

    @property
    def support_x(self) -> Tensor:
        """Support inputs, shape ``(n_support, ...)``."""
        ...

    @property
    def support_y(self) -> Tensor:
        """Support targets, shape ``(n_support, ...)``."""
        ...

    @property
    def query_x(self) -> Tensor:
        """Query inputs, shape ``(n_query, ...)``."""
        ...

    @property
    def query_y(self) -> Tensor:
        """Query targets, shape ``(n_query, ...)``."""
        ...


@dataclass(frozen=True)
class MetaGradient:
    """What one [`meta_gradient`][meta_algos.MetaAlgorithm.meta_gradient] call measured.

    Attributes:
        losses: The meta-objective of every task (its query loss after adaptation; for
            MAML++ the weighted multi-step loss), detached, shape ``(tasks,)``.
        predictions: The query predictions of every task after adaptation, detached, in task
            order (the metrics a loop reports, such as accuracy, are computed from them).
    """

    losses: Tensor
    predictions: list[Tensor]

    @property
    def mean_loss(self) -> float:
        """The mean of ``losses`` as a Python float."""
        return float(self.losses.mean().item())


@runtime_checkable
class MetaAlgorithm(Protocol):
    """The protocol a training loop drives; it never asks which algorithm it holds.

    A loop samples tasks, calls [`meta_gradient`][meta_algos.MetaAlgorithm.meta_gradient]
    (which leaves the meta-gradient on ``.grad``), optionally reduces gradients across ranks
    and clips them, steps its optimizer, then calls
    [`advance_iteration`][meta_algos.MetaAlgorithm.advance_iteration]. Evaluation goes through
    [`adapted_predictions`][meta_algos.MetaAlgorithm.adapted_predictions]. Every algorithm of
    meta-algos ([`MAML`][meta_algos.MAML] and its family) satisfies it; so can first-order or
    implicit methods that compute their meta-gradient another way. An ``nn.Module`` subclass
    gets ``parameters``, ``train``, ``named_buffers`` and the state dicts for free.
    """

    training: bool

    def parameters(self, recurse: bool = True) -> Iterator[nn.Parameter]:
        """The meta-parameters, to hand to the meta-optimizer."""
        ...

    def train(self, mode: bool = True) -> nn.Module:
        """Set training mode (``nn.Module.train``)."""
        ...

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """The buffers (restored after evaluation)."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint must hold (``nn.Module.state_dict``)."""
        ...

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> Any:
        """Restore what [`state_dict`][meta_algos.MetaAlgorithm.state_dict] returned."""
        ...

    def meta_gradient(
        self, tasks: Sequence[TaskData], loss_fn: LossFn, *, batched: bool = False
    ) -> MetaGradient:
        """Accumulate into ``.grad`` the gradient of the mean meta-objective over ``tasks``."""
        ...

    def adapted_predictions(
        self, task: TaskData, loss_fn: LossFn, *, steps: int | None = None
    ) -> Tensor:
        """Adapt on ``task``'s support set and return detached query predictions."""
        ...

    def advance_iteration(self) -> int:
        """Count one meta-update (schedules read it); return the new count."""
        ...


_TASK_FIELDS = ("support_x", "support_y", "query_x", "query_y")


def _is_task(value: object) -> bool:
    """``isinstance(value, TaskData)`` without a protocol check's cost (tens of us a call)."""
    return (  # spelled out: a generator over the fields costs more, and this runs per task
        hasattr(value, "support_x")
        and hasattr(value, "support_y")
        and hasattr(value, "query_x")
        and hasattr(value, "query_y")
    )


def task_list(tasks: object, who: str) -> list[TaskData]:
    """Return ``tasks`` as a non-empty list of [`TaskData`][meta_algos.TaskData], or raise."""
    if _is_task(tasks) or not isinstance(tasks, Sequence):
        raise TypeError(
            f"{who} expects a sequence of tasks (objects with support_x, support_y, query_x "
            f"and query_y), got {type(tasks).__name__}"
        )
    if len(tasks) == 0:
        raise ValueError(f"{who} needs at least one task, got an empty sequence")
    for index, task in enumerate(tasks):
        if not _is_task(task):
            raise TypeError(
                f"{who}: tasks[{index}] must have support_x, support_y, query_x and query_y, "
                f"got {type(task).__name__}"
            )
    return list(tasks)


def same_layout(tasks: Sequence[TaskData]) -> bool:
    """Whether all tasks agree field by field in shape, dtype and device (so they stack)."""
    for field in _TASK_FIELDS:
        first = getattr(tasks[0], field)
        shape, dtype, device = first.shape, first.dtype, first.device
        for task in tasks[1:]:
            tensor = getattr(task, field)
            if tensor.shape != shape or tensor.dtype != dtype or tensor.device != device:
                return False
    return True
