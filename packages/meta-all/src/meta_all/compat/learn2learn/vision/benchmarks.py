"""learn2learn's ``l2l.vision.benchmarks``: ``get_tasksets`` for the Omniglot benchmark."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from meta_tasks import MetaDataset
from torch import Tensor
from torch.utils.data import default_collate

from ..data import TaskDataset
from ..data.transforms import ConsecutiveLabels, FusedNWaysKShots, LoadData, RemapLabels
from .datasets import FullOmniglot
from .transforms import RandomClassRotation

__all__ = ["BenchmarkTasksets", "get_tasksets", "list_tasksets"]

OMNIGLOT_CLASSES = 1623
"""Characters in the full Omniglot set; learn2learn's split is 1100 / 100 / 423 of them."""
OMNIGLOT_SPLIT = (1100, 1200)
ROTATIONS = [0.0, 90.0, 180.0, 270.0]


class BenchmarkTasksets(NamedTuple):
    """The train, validation and test task sets of a benchmark."""

    train: TaskDataset
    validation: TaskDataset
    test: TaskDataset


def _invert(image: Tensor) -> Tensor:
    """``1.0 - image``: strokes 1.0 on a 0.0 background, as learn2learn's benchmark."""
    return 1.0 - image


class _CollateTo:
    """Collate the items, then move every tensor of the task to ``device``."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def __call__(self, items: list[Any]) -> Any:
        task = default_collate(items)
        return [part.to(self.device) if isinstance(part, Tensor) else part for part in task]


def _omniglot(
    train_ways: int,
    train_samples: int,
    test_ways: int,
    test_samples: int,
    root: str,
    **kwargs: Any,
) -> tuple[MetaDataset, list[list[Any]]]:
    options = {"download": True, **kwargs}
    dataset = MetaDataset(FullOmniglot(root, transform=_invert, image_size=28, **options))
    classes = list(range(len(dataset.labels)))
    random.shuffle(classes)  # learn2learn's split: Python's random module decides it
    scale = len(classes) / OMNIGLOT_CLASSES
    train_end, validation_end = (round(bound * scale) for bound in OMNIGLOT_SPLIT)
    parts = (classes[:train_end], classes[train_end:validation_end], classes[validation_end:])
    shapes = ((train_ways, train_samples), (test_ways, test_samples), (test_ways, test_samples))
    chains = [
        [
            FusedNWaysKShots(dataset, n=ways, k=samples, filter_labels=labels),
            LoadData(dataset),
            RemapLabels(dataset),
            ConsecutiveLabels(dataset),
            RandomClassRotation(dataset, ROTATIONS),
        ]
        for labels, (ways, samples) in zip(parts, shapes, strict=True)
    ]
    return dataset, chains


_TASKSETS: dict[str, Callable[..., tuple[MetaDataset, list[list[Any]]]]] = {"omniglot": _omniglot}


def list_tasksets() -> list[str]:
    """Return the names ``get_tasksets`` accepts."""
    return list(_TASKSETS)


def get_tasksets(
    name: str,
    train_ways: int = 5,
    train_samples: int = 10,
    test_ways: int = 5,
    test_samples: int = 10,
    num_tasks: int = -1,
    root: str = "~/data",
    device: torch.device | str | None = None,
    **kwargs: Any,
) -> BenchmarkTasksets:
    """learn2learn's ``get_tasksets``: train, validation and test task sets of a benchmark.

    ``"omniglot"`` is provided: ``FullOmniglot`` (``l2l.vision.datasets``) at 28x28 (strokes
    1.0), its classes shuffled with Python's ``random`` module and split as
    learn2learn does (1100 / 100 / 423 of the 1623 classes; the same fractions of a smaller
    set), each task ``FusedNWaysKShots -> LoadData -> RemapLabels -> ConsecutiveLabels ->
    RandomClassRotation([0, 90, 180, 270])``. Tasks are ``[images, labels]`` with ``ways *
    samples`` items; ``samples`` counts support and query items together.

    Args:
        name: The benchmark, ``"omniglot"``.
        train_ways: Classes per training task.
        train_samples: Items per class in a training task.
        test_ways: Classes per validation and test task.
        test_samples: Items per class in a validation and test task.
        num_tasks: ``-1`` for endless task sets, else the number of (cached) tasks of each.
        root: Directory of the data.
        device: Move every task's tensors to this device (``None``: leave them on the CPU).
        **kwargs: Passed to the dataset (for Omniglot ``download`` (default ``True``) and
            ``cache``).

    Returns:
        ``BenchmarkTasksets(train, validation, test)``.

    Raises:
        ValueError: If ``name`` is not a provided benchmark.

    Examples:
        >>> import random, warnings
        >>> random.seed(0)
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # a root holding only the small archives
        ...     tasksets = get_tasksets("omniglot", train_samples=2, root=root)
        >>> images, labels = tasksets.train.sample()
        >>> tuple(images.shape), sorted(labels.tolist())
        ((10, 1, 28, 28), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
    """
    if name not in _TASKSETS:
        raise ValueError(f"get_tasksets: unknown benchmark {name!r}; provided: {list_tasksets()}")
    dataset, chains = _TASKSETS[name](
        train_ways, train_samples, test_ways, test_samples, str(root), **kwargs
    )
    collate = None if device is None else _CollateTo(torch.device(device))
    train, validation, test = (
        TaskDataset(dataset, chain, num_tasks, task_collate=collate) for chain in chains
    )
    return BenchmarkTasksets(train, validation, test)
