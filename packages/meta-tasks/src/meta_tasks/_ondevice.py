"""A whole labelled dataset as two tensors on one device: ``OnDeviceDataset``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import TensorDataset


class OnDeviceDataset(TensorDataset):
    """Load every ``(x, y)`` item of a dataset into one data tensor and one label tensor.

    Small data sets then sample without per-item loading. The items' ``x`` are stacked along
    a new first dimension and the labels become one tensor; both move to ``device`` if given.
    On the CPU, when CUDA is available, they are pinned for fast transfers. As learn2learn's
    ``data.OnDeviceDataset``; wrap it in a [`MetaDataset`][meta_tasks.MetaDataset] for tasks.

    Args:
        dataset: An iterable of ``(x, y)`` pairs, ``x`` a tensor (all of one shape) and ``y`` a
            label ``torch.tensor`` accepts.
        device: Where to keep the tensors (default: where the items are).
        transform: Applied to ``x`` on every ``__getitem__``.

    Attributes:
        transform: The transform, as given.

    Raises:
        ValueError: If ``dataset`` is empty.

    Examples:
        >>> import torch
        >>> items = [(torch.full((2,), float(i)), i % 2) for i in range(3)]
        >>> on_device = OnDeviceDataset(items, transform=lambda x: 10 * x)
        >>> on_device.tensors[0].shape, on_device.tensors[1].tolist()
        (torch.Size([3, 2]), [0, 1, 0])
        >>> on_device[2]
        (tensor([20., 20.]), tensor(0))
    """

    def __init__(
        self,
        dataset: Iterable[tuple[Tensor, Any]],
        device: torch.device | str | None = None,
        transform: Callable[[Tensor], Any] | None = None,
    ) -> None:
        pairs = list(dataset)
        if not pairs:
            raise ValueError("OnDeviceDataset got an empty dataset; expected (x, y) items")
        data = torch.stack([x for x, _ in pairs])
        labels = torch.tensor([y for _, y in pairs])
        if device is not None:
            data, labels = data.to(device), labels.to(device)
        if data.device.type == "cpu" and torch.cuda.is_available():
            data, labels = data.pin_memory(), labels.pin_memory()
        super().__init__(data, labels)
        self.transform = transform

    def __getitem__(self, index: int) -> tuple[Any, Tensor]:
        """Item ``index``: ``(transform(x), y)``.

        Args:
            index: The item's index.

        Returns:
            The (transformed) data and its label.
        """
        data, labels = self.tensors
        x, y = data[index], labels[index]
        return (x if self.transform is None else self.transform(x)), y
