"""Evaluation metrics: accuracy and normal-approximation confidence intervals."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

import torch
from torch import Tensor


def is_class_labels(targets: Tensor) -> bool:
    """Whether ``targets`` are class labels (an integer dtype), so accuracy is meaningful.

    Args:
        targets: Query or support targets.

    Returns:
        ``True`` for integer dtypes (``long``, ``int``, ...), ``False`` for floating point,
        complex and bool targets.

    Examples:
        >>> import torch
        >>> is_class_labels(torch.tensor([0, 2])), is_class_labels(torch.tensor([0.5]))
        (True, False)
    """
    return not (
        targets.dtype.is_floating_point or targets.dtype.is_complex or targets.dtype == torch.bool
    )


def accuracy(logits: Tensor, labels: Tensor) -> float:
    """Fraction of rows of ``logits`` whose arg-max equals the label.

    Args:
        logits: ``(n, classes)`` scores.
        labels: ``(n,)`` integer class labels.

    Returns:
        The accuracy in ``[0, 1]``.

    Raises:
        ValueError: If the shapes do not match ``(n, classes)`` and ``(n,)``.

    Examples:
        >>> import torch
        >>> accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
        0.5
    """
    if logits.dim() != 2 or labels.shape != logits.shape[:1]:
        raise ValueError(
            f"accuracy expects logits of shape (n, classes) and labels of shape (n,), "
            f"got {tuple(logits.shape)} and {tuple(labels.shape)}"
        )
    return float((logits.argmax(dim=1) == labels).float().mean().item())


def mean_confidence_interval(
    values: Sequence[float], confidence: float = 0.95
) -> tuple[float, float]:
    """Mean and half-width of its normal-approximation confidence interval.

    The half-width is ``z * s / sqrt(n)`` with the sample standard deviation ``s`` and the
    two-sided normal quantile ``z`` (1.96 for 95 %), the convention of the few-shot
    literature. With a single value the half-width is ``0.0``; if a value is NaN or infinite
    (a diverged run), the mean is what ``statistics.fmean`` makes of it and the half-width is
    NaN.

    Args:
        values: Per-task metric values (at least one).
        confidence: Coverage in ``(0, 1)``.

    Returns:
        ``(mean, half_width)``.

    Raises:
        ValueError: If ``values`` is empty or ``confidence`` is outside ``(0, 1)``.

    Examples:
        >>> mean, half = mean_confidence_interval([1.0, 2.0, 3.0])
        >>> mean, round(half, 4)
        (2.0, 1.1316)
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if len(values) == 0:
        raise ValueError("mean_confidence_interval needs at least one value, got an empty sequence")
    mean = statistics.fmean(values)
    if len(values) == 1:
        return mean, 0.0
    if not all(math.isfinite(value) for value in values):
        # statistics.stdev works on exact fractions and fails on nan/inf with AttributeError.
        return mean, math.nan
    z = statistics.NormalDist().inv_cdf(0.5 + confidence / 2.0)
    return mean, z * statistics.stdev(values) / math.sqrt(len(values))
