"""Sinusoid regression tasks (Finn et al., 2017): y = A sin(x - phase)."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import Tensor

from ._task import Task, TaskBatch, check_int, resolve_generator


class SinusoidParams(NamedTuple):
    """The true amplitude and phase of each sampled sinusoid task.

    Attributes:
        amplitude: Shape ``(num_tasks,)``.
        phase: Shape ``(num_tasks,)``.
    """

    amplitude: Tensor
    phase: Tensor

    def evaluate(self, x: Tensor) -> Tensor:
        """Evaluate every task's true curve ``A sin(x - phase)`` at ``x``.

        Args:
            x: Points of shape ``(num_points, 1)`` (shared by all tasks) or
                ``(num_tasks, num_points, 1)``.

        Returns:
            Values of shape ``(num_tasks, num_points, 1)``.

        Raises:
            ValueError: If ``x`` has neither of the accepted shapes.

        Examples:
            >>> import torch
            >>> params = SinusoidParams(torch.tensor([2.0]), torch.tensor([0.0]))
            >>> params.evaluate(torch.tensor([[math.pi / 2]])).squeeze().item()
            2.0
        """
        num_tasks = self.amplitude.shape[0]
        if not (x.ndim == 2 or (x.ndim == 3 and x.shape[0] == num_tasks)) or x.shape[-1] != 1:
            raise ValueError(
                f"x must have shape (num_points, 1) or ({num_tasks}, num_points, 1), got "
                f"{tuple(x.shape)}"
            )
        amplitude = self.amplitude.to(device=x.device, dtype=x.dtype).view(-1, 1, 1)
        phase = self.phase.to(device=x.device, dtype=x.dtype).view(-1, 1, 1)
        return amplitude * torch.sin(x - phase)


def _check_range(name: str, value: object) -> tuple[float, float]:
    if (
        not isinstance(value, tuple | list)
        or len(value) != 2
        or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
    ):
        raise TypeError(f"{name} must be a pair of numbers (low, high), got {value!r}")
    low, high = float(value[0]), float(value[1])
    if not (math.isfinite(low) and math.isfinite(high)) or low > high:
        raise ValueError(f"{name} must be finite with low <= high, got ({low}, {high})")
    return low, high


class SinusoidTaskSampler:
    """Sample few-shot sinusoid regression tasks ``y = A sin(x - phase)``.

    Each task draws ``A ~ U(amp_range)`` and ``phase ~ U(phase_range)``; its
    ``k_support + k_query`` inputs are drawn i.i.d. from ``U(x_range)``. A whole meta-batch is
    drawn with a single ``torch.rand`` call (no Python loop over tasks or points) from
    `generator`, on the generator's device, and then moved to ``device``/``dtype``; so a
    given seed gives the same tasks whatever ``device`` is.

    Args:
        amp_range: Range ``(low, high)`` of the amplitude ``A``.
        phase_range: Range ``(low, high)`` of the phase.
        x_range: Range ``(low, high)`` of the inputs.
        k_support: Number of support points per task (``K`` in K-shot).
        k_query: Number of query points per task.
        generator: A `torch.Generator` to draw from (used as is, so its state advances).
        seed: Convenience seed used to build a CPU generator when ``generator`` is ``None``.
            With neither, the seed is drawn from torch's global RNG (so ``torch.manual_seed``
            makes the sampler reproducible).
        device: Device of the sampled tensors (default: the generator's device).
        dtype: Floating-point dtype of the sampled tensors (default:
            ``torch.get_default_dtype()`` at sampling time).

    Attributes:
        generator: The `torch.Generator` in use; checkpoint it with
            ``generator.get_state()`` and restore it with ``generator.set_state(state)``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a range is not ordered, a count is below 1, both ``generator`` and
            ``seed`` are given, or ``dtype`` is not floating point.

    Examples:
        >>> sampler = SinusoidTaskSampler(k_support=5, k_query=15, seed=0)
        >>> tasks = sampler.sample(4)
        >>> len(tasks), tuple(tasks[0].support_x.shape), tuple(tasks[0].query_y.shape)
        (4, (5, 1), (15, 1))
        >>> batch, params = sampler.sample_batch_with_params(8)
        >>> tuple(batch.support_x.shape), tuple(params.amplitude.shape)
        ((8, 5, 1), (8,))
    """

    def __init__(
        self,
        amp_range: tuple[float, float] = (0.1, 5.0),
        phase_range: tuple[float, float] = (0.0, math.pi),
        x_range: tuple[float, float] = (-5.0, 5.0),
        k_support: int = 10,
        k_query: int = 10,
        generator: torch.Generator | None = None,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        self.amp_range = _check_range("amp_range", amp_range)
        self.phase_range = _check_range("phase_range", phase_range)
        self.x_range = _check_range("x_range", x_range)
        self.k_support = check_int("k_support", k_support)
        self.k_query = check_int("k_query", k_query)
        if dtype is not None and not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ValueError(f"dtype must be a floating-point torch.dtype, got {dtype!r}")
        self.generator = resolve_generator("SinusoidTaskSampler", generator, seed)
        self.device = torch.device(device) if device is not None else None
        self.dtype = dtype

    def __repr__(self) -> str:
        return (
            f"SinusoidTaskSampler(amp_range={self.amp_range}, phase_range={self.phase_range}, "
            f"x_range={self.x_range}, k_support={self.k_support}, k_query={self.k_query})"
        )

    def sample_batch_with_params(self, meta_batch_size: int) -> tuple[TaskBatch, SinusoidParams]:
        """Sample a meta-batch and return it with each task's true amplitude and phase.

        Args:
            meta_batch_size: Number of tasks (at least 1).

        Returns:
            ``(batch, params)``: a [`TaskBatch`][meta_tasks.TaskBatch] with ``support_x`` of shape
            ``(meta_batch_size, k_support, 1)`` (``support_y`` alike, ``query_*`` with
            ``k_query``), and the [`SinusoidParams`][meta_tasks.SinusoidParams] (amplitude and
            phase, each of shape ``(meta_batch_size,)``) that generated it.

        Raises:
            TypeError: If ``meta_batch_size`` is not an int.
            ValueError: If ``meta_batch_size`` is below 1.
        """
        meta_batch_size = check_int("meta_batch_size", meta_batch_size)
        dtype = self.dtype if self.dtype is not None else torch.get_default_dtype()
        num_points = self.k_support + self.k_query
        uniform = torch.rand(
            meta_batch_size,
            2 + num_points,
            generator=self.generator,
            device=self.generator.device,
            dtype=dtype,
        )
        amp_low, amp_high = self.amp_range
        phase_low, phase_high = self.phase_range
        x_low, x_high = self.x_range
        amplitude = amp_low + (amp_high - amp_low) * uniform[:, 0]
        phase = phase_low + (phase_high - phase_low) * uniform[:, 1]
        x = (x_low + (x_high - x_low) * uniform[:, 2:]).unsqueeze(-1)
        y = amplitude.view(-1, 1, 1) * torch.sin(x - phase.view(-1, 1, 1))
        device = self.device if self.device is not None else self.generator.device
        x, y = x.to(device), y.to(device)
        batch = TaskBatch(
            support_x=x[:, : self.k_support].contiguous(),
            support_y=y[:, : self.k_support].contiguous(),
            query_x=x[:, self.k_support :].contiguous(),
            query_y=y[:, self.k_support :].contiguous(),
        )
        return batch, SinusoidParams(amplitude.to(device), phase.to(device))

    def sample_batch(self, meta_batch_size: int) -> TaskBatch:
        """Sample a meta-batch of tasks as a [`TaskBatch`][meta_tasks.TaskBatch].

        Args:
            meta_batch_size: Number of tasks (at least 1).

        Returns:
            The stacked tasks (see
            [`sample_batch_with_params`][meta_tasks.SinusoidTaskSampler.sample_batch_with_params]
            for shapes).

        Raises:
            TypeError: If ``meta_batch_size`` is not an int.
            ValueError: If ``meta_batch_size`` is below 1.
        """
        return self.sample_batch_with_params(meta_batch_size)[0]

    def sample_with_params(self, meta_batch_size: int) -> tuple[list[Task], SinusoidParams]:
        """Sample tasks as a list together with their true amplitudes and phases.

        Args:
            meta_batch_size: Number of tasks (at least 1).

        Returns:
            ``(tasks, params)`` where ``tasks[i]`` was generated by ``params.amplitude[i]``
            and ``params.phase[i]``.

        Raises:
            TypeError: If ``meta_batch_size`` is not an int.
            ValueError: If ``meta_batch_size`` is below 1.
        """
        batch, params = self.sample_batch_with_params(meta_batch_size)
        return batch.tasks(), params

    def sample(self, meta_batch_size: int) -> list[Task]:
        """Return ``meta_batch_size`` independently sampled sinusoid tasks.

        Args:
            meta_batch_size: Number of tasks (at least 1).

        Returns:
            The tasks; each has ``support_x``/``support_y`` of shape ``(k_support, 1)`` and
            ``query_x``/``query_y`` of shape ``(k_query, 1)``.

        Raises:
            TypeError: If ``meta_batch_size`` is not an int.
            ValueError: If ``meta_batch_size`` is below 1.
        """
        return self.sample_batch(meta_batch_size).tasks()
