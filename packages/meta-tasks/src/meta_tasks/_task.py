"""`Task`, `TaskBatch`, `stack_tasks` and the `TaskSampler` protocol."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, overload, runtime_checkable

import torch
from torch import Tensor

_FIELDS = ("support_x", "support_y", "query_x", "query_y")


def _check_tensors(owner: str, values: Sequence[object]) -> None:
    for name, value in zip(_FIELDS, values, strict=True):
        if not isinstance(value, Tensor):
            raise TypeError(f"{owner}.{name} must be a torch.Tensor, got {type(value).__name__}")


def _check_to_dtype(dtype: torch.dtype | None) -> None:
    if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise ValueError(
            f"dtype must be a floating-point torch.dtype (it is applied to floating-point tensors "
            f"only, so integer class labels keep their dtype), got {dtype!r}"
        )


def _converted(
    fields: Task | TaskBatch, device: torch.device | str | None, dtype: torch.dtype | None
) -> tuple[Tensor, ...]:
    """The four fields moved to ``device``, floating-point ones cast to ``dtype``."""
    _check_to_dtype(dtype)
    return tuple(
        value.to(device=device, dtype=dtype if value.is_floating_point() else None)
        for value in _values(fields)
    )


def _already_there(
    fields: Task | TaskBatch, device: torch.device | str | None, dtype: torch.dtype | None
) -> bool:
    """Whether ``to(device, dtype)`` has nothing to do: no cast and every field on ``device``.

    The trainers call ``to`` on every task of every meta-step; comparing devices costs a
    tenth of four ``Tensor.to`` calls (which would return the same tensors).
    """
    if dtype is not None:
        return False
    if device is None:
        return True
    target = torch.device(device)
    return all(value.device == target for value in _values(fields))


def _unchanged(fields: Task | TaskBatch, converted: tuple[Tensor, ...]) -> bool:
    """Whether ``Tensor.to`` returned every field itself (nothing to move or cast)."""
    return all(new is old for new, old in zip(converted, _values(fields), strict=True))


def _values(fields: Task | TaskBatch) -> tuple[Tensor, ...]:
    return (fields.support_x, fields.support_y, fields.query_x, fields.query_y)


def _check_split_sizes(fields: Task | TaskBatch, dim: int, per: str) -> None:
    """Check that inputs and targets agree in size along ``dim`` for both splits."""
    owner = type(fields).__name__
    for split in ("support", "query"):
        inputs: Tensor = getattr(fields, f"{split}_x")
        targets: Tensor = getattr(fields, f"{split}_y")
        if inputs.shape[dim] != targets.shape[dim]:
            raise ValueError(
                f"{owner} has {inputs.shape[dim]} {split} inputs{per} ({split}_x shape "
                f"{tuple(inputs.shape)}) but {targets.shape[dim]} {split} targets{per} "
                f"({split}_y shape {tuple(targets.shape)}); expected the same number"
            )


@dataclass(frozen=True, eq=False)
class Task:
    """A single few-shot task: a support split to adapt on and a query split to evaluate on.

    The first dimension of every tensor indexes examples: ``support_x[i]`` is the input whose
    target is ``support_y[i]``. Instances are immutable ([`to`][meta_tasks.Task.to] returns a new
    task) and compare by identity (tensors have no single truth value to compare by).

    Attributes:
        support_x: Inputs used for inner-loop adaptation, shape ``(n_support, ...)``.
        support_y: Targets of ``support_x``, shape ``(n_support, ...)`` (regression targets, or
            ``int64`` class labels for classification).
        query_x: Held-out inputs used to evaluate the adapted model, shape ``(n_query, ...)``.
        query_y: Targets of ``query_x``, shape ``(n_query, ...)``.

    Raises:
        TypeError: If a field is not a tensor.
        ValueError: If a field is 0-dimensional, or the number of support (query) inputs
            differs from the number of support (query) targets.

    Examples:
        >>> import torch
        >>> task = Task(torch.zeros(5, 1), torch.zeros(5, 1), torch.zeros(7, 1), torch.zeros(7, 1))
        >>> task.to(dtype=torch.float64).support_x.dtype
        torch.float64
    """

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor

    def __post_init__(self) -> None:
        values = _values(self)
        _check_tensors("Task", values)
        for name, value in zip(_FIELDS, values, strict=True):
            if value.ndim == 0:
                raise ValueError(
                    f"Task.{name} must have a leading example dimension, got a 0-dim tensor"
                )
        _check_split_sizes(self, 0, "")

    @property
    def num_support(self) -> int:
        """Number of support examples (``support_x.shape[0]``)."""
        return int(self.support_x.shape[0])

    @property
    def num_query(self) -> int:
        """Number of query examples (``query_x.shape[0]``)."""
        return int(self.query_x.shape[0])

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Task:
        """Return a copy of the task on ``device`` with floating-point tensors cast to ``dtype``.

        Args:
            device: Target device, or ``None`` to keep each tensor where it is.
            dtype: Floating-point dtype for the floating-point tensors, or ``None`` to keep
                dtypes. Integer tensors (class labels) keep their dtype.

        Returns:
            A [`Task`][meta_tasks.Task] on ``device`` (tensors already matching are shared,
            as with ``Tensor.to``; a task that already matches is returned itself, which is
            safe since a task is immutable).

        Raises:
            ValueError: If ``dtype`` is not a floating-point dtype.

        Examples:
            >>> import torch
            >>> task = Task(torch.zeros(2, 3), torch.tensor([0, 1]), torch.zeros(1, 3),
            ...             torch.tensor([1]))
            >>> moved = task.to("cpu", torch.float64)
            >>> moved.support_x.dtype, moved.support_y.dtype
            (torch.float64, torch.int64)
        """
        if _already_there(self, device, dtype):
            return self
        converted = _converted(self, device, dtype)
        return self if _unchanged(self, converted) else Task(*converted)


@dataclass(frozen=True, eq=False)
class TaskBatch:
    """A batch of equally shaped tasks, stacked along a leading task dimension.

    This is the form the batched (``vmap``) algorithms consume: ``support_x[t]`` is task
    ``t``'s support inputs. ``len(batch)`` is the number of tasks, ``batch[t]`` is task ``t``
    as a [`Task`][meta_tasks.Task] (views, no copy), ``batch[a:b]`` is a smaller batch and iterating
    yields the tasks in order.

    Attributes:
        support_x: Shape ``(num_tasks, n_support, ...)``.
        support_y: Shape ``(num_tasks, n_support, ...)``.
        query_x: Shape ``(num_tasks, n_query, ...)``.
        query_y: Shape ``(num_tasks, n_query, ...)``.

    Raises:
        TypeError: If a field is not a tensor.
        ValueError: If a field has fewer than two dimensions, the four fields disagree on the
            number of tasks, or the number of support (query) inputs and targets differ.

    Examples:
        >>> import torch
        >>> batch = TaskBatch(torch.zeros(4, 5, 1), torch.zeros(4, 5, 1),
        ...                   torch.zeros(4, 7, 1), torch.zeros(4, 7, 1))
        >>> len(batch), batch[0].query_x.shape
        (4, torch.Size([7, 1]))
    """

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor

    def __post_init__(self) -> None:
        values = _values(self)
        _check_tensors("TaskBatch", values)
        for name, value in zip(_FIELDS, values, strict=True):
            if value.ndim < 2:
                raise ValueError(
                    f"TaskBatch.{name} must have shape (num_tasks, num_examples, ...), got "
                    f"shape {tuple(value.shape)}"
                )
        counts = {name: int(value.shape[0]) for name, value in zip(_FIELDS, values, strict=True)}
        if len(set(counts.values())) != 1:
            listed = ", ".join(f"{name}: {count}" for name, count in counts.items())
            raise ValueError(
                f"TaskBatch fields disagree on the number of tasks (leading dimension): {listed}; "
                f"expected the same count for all four"
            )
        _check_split_sizes(self, 1, " per task")

    def __len__(self) -> int:
        return int(self.support_x.shape[0])

    @overload
    def __getitem__(self, index: int) -> Task: ...

    @overload
    def __getitem__(self, index: slice) -> TaskBatch: ...

    def __getitem__(self, index: int | slice) -> Task | TaskBatch:
        """Return task ``index`` as a [`Task`][meta_tasks.Task], or a sub-batch for a slice.

        Args:
            index: A task index (negative counts from the end) or a slice.

        Returns:
            The task (views into the batch tensors) or a [`TaskBatch`][meta_tasks.TaskBatch].

        Raises:
            IndexError: If ``index`` is out of range.
            TypeError: If ``index`` is neither an int nor a slice.
        """
        if isinstance(index, slice):
            return TaskBatch(
                self.support_x[index],
                self.support_y[index],
                self.query_x[index],
                self.query_y[index],
            )
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"TaskBatch indices must be int or slice, got {type(index).__name__}")
        index = check_index(
            index, len(self), "task index {index} is out of range for a TaskBatch of {size} tasks"
        )
        return Task(
            self.support_x[index], self.support_y[index], self.query_x[index], self.query_y[index]
        )

    def __iter__(self) -> Iterator[Task]:
        for index in range(len(self)):
            yield self[index]

    def tasks(self) -> list[Task]:
        """Return the tasks as a list (views into the batch tensors).

        Returns:
            ``[batch[0], batch[1], ...]``.
        """
        return list(self)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> TaskBatch:
        """Return a copy on ``device`` with floating-point tensors cast to ``dtype``.

        Args:
            device: Target device, or ``None`` to keep each tensor where it is.
            dtype: Floating-point dtype for the floating-point tensors, or ``None`` to keep
                dtypes. Integer tensors (class labels) keep their dtype.

        Returns:
            A [`TaskBatch`][meta_tasks.TaskBatch] on ``device`` (itself if it already
            matches).

        Raises:
            ValueError: If ``dtype`` is not a floating-point dtype.
        """
        if _already_there(self, device, dtype):
            return self
        converted = _converted(self, device, dtype)
        return self if _unchanged(self, converted) else TaskBatch(*converted)


def stack_tasks(tasks: Sequence[Task]) -> TaskBatch:
    """Stack equally shaped tasks into a [`TaskBatch`][meta_tasks.TaskBatch].

    Args:
        tasks: A non-empty sequence of tasks whose tensors agree in shape, dtype and device
            field by field.

    Returns:
        The batch, with ``batch[i]`` equal to ``tasks[i]``.

    Raises:
        TypeError: If an element is not a [`Task`][meta_tasks.Task].
        ValueError: If ``tasks`` is empty, or a task's field differs in shape, dtype or device
            from the same field of task 0 (the message names the task index and both values).

    Examples:
        >>> import torch
        >>> task = Task(torch.zeros(5, 1), torch.zeros(5, 1), torch.zeros(7, 1), torch.zeros(7, 1))
        >>> stack_tasks([task, task]).support_x.shape
        torch.Size([2, 5, 1])
    """
    tasks = list(tasks)
    if not tasks:
        raise ValueError("stack_tasks needs at least one task, got an empty sequence")
    for index, task in enumerate(tasks):
        if not isinstance(task, Task):
            raise TypeError(f"tasks[{index}] must be a Task, got {type(task).__name__}")
    first = tasks[0]
    for index, task in enumerate(tasks[1:], start=1):
        for name in _FIELDS:
            reference: Tensor = getattr(first, name)
            value: Tensor = getattr(task, name)
            for what, got, expected in (
                ("shape", tuple(value.shape), tuple(reference.shape)),
                ("dtype", value.dtype, reference.dtype),
                ("device", value.device, reference.device),
            ):
                if got != expected:
                    raise ValueError(
                        f"cannot stack tasks: task {index} has {name} {what} {got} but task 0 has "
                        f"{expected}; all tasks in a TaskBatch must match"
                    )
    return TaskBatch(*(torch.stack([getattr(task, name) for task in tasks]) for name in _FIELDS))


@runtime_checkable
class TaskSampler(Protocol):
    """Anything that samples a list of [`Task`][meta_tasks.Task] from a task distribution p(T).

    Examples:
        >>> from meta_tasks import SinusoidTaskSampler
        >>> isinstance(SinusoidTaskSampler(seed=0), TaskSampler)
        True
    """

    def sample(self, meta_batch_size: int) -> list[Task]:
        """Return ``meta_batch_size`` freshly sampled tasks.

        Args:
            meta_batch_size: Number of tasks to sample (at least 1).

        Returns:
            The sampled tasks.
        """
        ...


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` after checking it is an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def check_index(index: object, size: int, out_of_range: str) -> int:
    """Return ``index`` as a position in ``range(size)``, a negative one counting from the end.

    Args:
        index: The index given.
        size: The number of items indexed.
        out_of_range: The ``IndexError`` message, formatted with ``index`` and ``size``.

    Raises:
        TypeError: If ``index`` is not an int (a bool is not an index).
        IndexError: If ``index`` is not in ``[-size, size)``.
    """
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    if not -size <= index < size:
        raise IndexError(out_of_range.format(index=index, size=size))
    return index % size


def resolve_generator(
    owner: str, generator: object, seed: object, *, cpu_only: bool = False
) -> torch.Generator:
    """Return ``generator`` if given, else a CPU generator seeded with ``seed`` (or at random).

    ``owner`` names the sampler in the error message; ``cpu_only`` rejects a generator that
    lives on another device.
    """
    if generator is not None and seed is not None:
        raise ValueError(f"pass either generator or seed to {owner}, not both")
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
        if cpu_only and generator.device.type != "cpu":
            raise ValueError(
                f"generator must be a CPU torch.Generator, got one on {generator.device}"
            )
        return generator
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed is None:
        seed = int(torch.randint(0, 2**62, (1,)).item())
    return torch.Generator().manual_seed(seed)
