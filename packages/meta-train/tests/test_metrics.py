"""Accuracy, class-label detection and confidence intervals."""

from __future__ import annotations

import math
import statistics

import pytest
import torch
from meta_train import accuracy, is_class_labels, mean_confidence_interval


def test_accuracy(device):
    logits = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], device=device)
    labels = torch.tensor([1, 0, 0, 0], device=device)
    assert accuracy(logits, labels) == pytest.approx(0.75, abs=1e-12)


def test_accuracy_shape_errors():
    with pytest.raises(ValueError, match=r"got \(4,\) and \(4,\)"):
        accuracy(torch.zeros(4), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match=r"got \(4, 3\) and \(5,\)"):
        accuracy(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))


def test_is_class_labels():
    assert is_class_labels(torch.tensor([1, 2]))
    assert is_class_labels(torch.tensor([1, 2], dtype=torch.int32))
    assert not is_class_labels(torch.tensor([1.0]))
    assert not is_class_labels(torch.tensor([True]))


def test_confidence_interval_matches_formula():
    values = [0.2, 0.4, 0.9, 0.5, 0.1]
    mean, half = mean_confidence_interval(values)
    expected = 1.959963984540054 * statistics.stdev(values) / math.sqrt(5)
    assert mean == pytest.approx(0.42, abs=1e-12)
    assert half == pytest.approx(expected, rel=1e-12)
    _, half_99 = mean_confidence_interval(values, confidence=0.99)
    assert half_99 == pytest.approx(2.5758293035489 * statistics.stdev(values) / math.sqrt(5))
    assert mean_confidence_interval([3.0]) == (3.0, 0.0)


def test_confidence_interval_errors():
    with pytest.raises(ValueError, match="at least one value, got an empty sequence"):
        mean_confidence_interval([])
    with pytest.raises(ValueError, match=r"confidence must be in \(0, 1\), got 95"):
        mean_confidence_interval([1.0], confidence=95)
