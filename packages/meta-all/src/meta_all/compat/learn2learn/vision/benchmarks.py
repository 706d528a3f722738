"""learn2learn's ``l2l.vision.benchmarks``: ``get_tasksets`` and ``omniglot_tasksets``.

As in learn2learn, a benchmark's ``<name>_tasksets`` function returns its train, validation
and test data sets and task transforms, and ``get_tasksets(name, ...)`` builds the three
``TaskDataset``s from them.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from meta_tasks import FilteredMetaDataset, MetaDataset, OnDeviceDataset
from torch import Tensor

from ..data import TaskDataset
from ..data.transforms import ConsecutiveLabels, FusedNWaysKShots, LoadData, RemapLabels
from .datasets import FullOmniglot
from .transforms import RandomClassRotation

__all__ = ["BenchmarkTasksets", "get_tasksets", "list_tasksets", "omniglot_tasksets"]

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


def omniglot_tasksets(
    train_ways: int,
    train_samples: int,
    test_ways: int,
    test_samples: int,
    root: str | os.PathLike[str],
    device: torch.device | str | None = None,
    **kwargs: Any,
) -> tuple[tuple[MetaDataset, MetaDataset, MetaDataset], tuple[list[Any], list[Any], list[Any]]]:
    """learn2learn's ``omniglot_tasksets``: the Omniglot benchmark's data sets and task transforms.

    ``FullOmniglot`` (``l2l.vision.datasets``) at 28x28 with strokes 1.0 on a 0.0 background,
    its classes shuffled with Python's ``random`` module and split as learn2learn does: 1100 /
    100 / 423 of the 1623 classes (the same fractions of a smaller set) for training,
    validation and testing, each split a ``FilteredMetaDataset`` of the one ``MetaDataset``.
    Each split's task transforms are ``FusedNWaysKShots -> LoadData -> RemapLabels ->
    ConsecutiveLabels -> RandomClassRotation([0, 90, 180, 270])``.
    [`get_tasksets`][meta_all.compat.learn2learn.vision.benchmarks.get_tasksets] builds the
    ``TaskDataset``s from them.

    Args:
        train_ways: Classes per training task.
        train_samples: Items per class in a training task (support and query together).
        test_ways: Classes per validation and test task.
        test_samples: Items per class in a validation and test task.
        root: Directory of the Omniglot archives.
        device: If given, every image is loaded once into an ``OnDeviceDataset`` on this
            device, so tasks are sampled from tensors already there.
        **kwargs: Passed to ``FullOmniglot`` (``download``, default ``True``, and ``cache``).

    Returns:
        ``((train, validation, test), (train_transforms, validation_transforms,
        test_transforms))``: three ``FilteredMetaDataset``s and three lists of task
        transforms.

    Raises:
        FileNotFoundError: If the archives are missing and ``download`` is false.

    Examples:
        >>> import random, warnings
        >>> random.seed(0)
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # a root holding only the small archives
        ...     datasets, transforms = omniglot_tasksets(5, 2, 5, 2, root)
        >>> [len(split.labels) for split in datasets], len(transforms[0])
        ([164, 15, 63], 5)
    """
    options = {"download": True, **kwargs}
    omniglot: Any = FullOmniglot(root, transform=_invert, image_size=28, **options)
    if device is not None:
        omniglot = OnDeviceDataset(omniglot, device=device)
    dataset = MetaDataset(omniglot)
    classes = list(range(len(dataset.labels)))
    random.shuffle(classes)  # learn2learn's split: Python's random module decides it
    scale = len(classes) / OMNIGLOT_CLASSES
    train_end, validation_end = (round(bound * scale) for bound in OMNIGLOT_SPLIT)
    train, validation, test = (
        FilteredMetaDataset(dataset, labels)
        for labels in (
            classes[:train_end],
            classes[train_end:validation_end],
            classes[validation_end:],
        )
    )
    train_transforms, validation_transforms, test_transforms = (
        [
            FusedNWaysKShots(split, n=ways, k=samples),
            LoadData(split),
            RemapLabels(split),
            ConsecutiveLabels(split),
            RandomClassRotation(split, ROTATIONS),
        ]
        for split, ways, samples in (
            (train, train_ways, train_samples),
            (validation, test_ways, test_samples),
            (test, test_ways, test_samples),
        )
    )
    return (train, validation, test), (train_transforms, validation_transforms, test_transforms)


_TASKSETS: dict[str, Callable[..., tuple[tuple[Any, ...], tuple[list[Any], ...]]]] = {
    "omniglot": omniglot_tasksets,
}


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

    Calls the benchmark's ``<name>_tasksets`` function (``"omniglot"``:
    [`omniglot_tasksets`][meta_all.compat.learn2learn.vision.benchmarks.omniglot_tasksets])
    for its three data sets and task transforms and wraps each pair in a ``TaskDataset`` of
    ``num_tasks`` tasks. Tasks are ``[images, labels]`` with ``ways * samples`` items;
    ``samples`` counts support and query items together.

    Args:
        name: The benchmark, one of ``list_tasksets()``.
        train_ways: Classes per training task.
        train_samples: Items per class in a training task.
        test_ways: Classes per validation and test task.
        test_samples: Items per class in a validation and test task.
        num_tasks: ``-1`` for endless task sets, else the number of (cached) tasks of each.
        root: Directory of the data (``~`` is expanded).
        device: Passed to the benchmark function: the data is loaded once onto this device
            (``None``: items are loaded when a task is sampled).
        **kwargs: Passed to the benchmark function (for Omniglot to ``FullOmniglot``:
            ``download`` (default ``True``) and ``cache``).

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
    datasets, transforms = _TASKSETS[name](
        train_ways=train_ways,
        train_samples=train_samples,
        test_ways=test_ways,
        test_samples=test_samples,
        root=os.path.expanduser(root),
        device=device,
        **kwargs,
    )
    train, validation, test = (
        TaskDataset(dataset, chain, num_tasks)
        for dataset, chain in zip(datasets, transforms, strict=True)
    )
    return BenchmarkTasksets(train, validation, test)
