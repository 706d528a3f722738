"""OnDeviceDataset: a whole labelled dataset as two tensors."""

from __future__ import annotations

import doctest

import pytest
import torch
from meta_tasks import MetaDataset, OnDeviceDataset, _ondevice


def test_docstring_examples_run() -> None:
    result = doctest.testmod(_ondevice)
    assert result.attempted > 0
    assert result.failed == 0


def test_items_are_stacked_with_their_labels_and_transformed_on_access() -> None:
    items = [(torch.tensor([float(i), -float(i)], dtype=torch.float64), i % 3) for i in range(5)]
    dataset = OnDeviceDataset(items, device="cpu", transform=lambda x: x + 1)
    data, labels = dataset.tensors
    assert data.shape == (5, 2)
    assert data.dtype == torch.float64
    assert labels.tolist() == [0, 1, 2, 0, 1]
    x, y = dataset[4]
    torch.testing.assert_close(x, torch.tensor([5.0, -3.0], dtype=torch.float64))
    assert y.item() == 1
    assert len(dataset) == 5
    meta = MetaDataset(dataset)
    assert sorted(meta.labels) == [0, 1, 2]


def test_empty_dataset_is_refused() -> None:
    with pytest.raises(ValueError, match="empty dataset"):
        OnDeviceDataset([])
