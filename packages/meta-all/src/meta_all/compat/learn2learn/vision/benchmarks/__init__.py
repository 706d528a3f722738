"""learn2learn's ``l2l.vision.benchmarks``: ``get_tasksets`` and the ``<name>_tasksets`` functions.

As in learn2learn, a benchmark's ``<name>_tasksets`` function returns its train, validation
and test data sets and task transforms, and ``get_tasksets(name, ...)`` builds the three
``TaskDataset``s from them.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, NamedTuple

import torch
from meta_tasks import FilteredMetaDataset, MetaDataset, OnDeviceDataset
from torch import Tensor

from ...data import TaskDataset
from ...data.transforms import (
    ConsecutiveLabels,
    FusedNWaysKShots,
    KShots,
    LoadData,
    NWays,
    RemapLabels,
)
from ..datasets import CIFARFS, FC100, FullOmniglot, MiniImagenet, TieredImagenet
from ..transforms import RandomClassRotation

__all__ = [
    "BenchmarkTasksets",
    "cifarfs_tasksets",
    "fc100_tasksets",
    "get_tasksets",
    "list_tasksets",
    "mini_imagenet_tasksets",
    "omniglot_tasksets",
    "tiered_imagenet_tasksets",
]

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


Splits = tuple[Any, Any, Any]
Chains = tuple[list[Any], list[Any], list[Any]]
AUGMENTATIONS = (None, "normalize")
"""The ``data_augmentation`` values provided (learn2learn's ``"lee2019"`` needs torchvision's
random crops and colour jitter and is not)."""


def _check_augmentation(data_augmentation: object) -> None:
    if data_augmentation not in AUGMENTATIONS:
        raise ValueError(
            f"data_augmentation must be one of {list(AUGMENTATIONS)}, got {data_augmentation!r}"
            + (
                " (learn2learn's lee2019 augmentation needs torchvision; apply it yourself "
                "with transform=)"
                if data_augmentation == "lee2019"
                else ""
            )
        )


def _to_tensor(image: Any) -> Tensor:
    """Do what torchvision's ``ToTensor`` does to a PIL image or a uint8 array.

    ``(H, W[, C])`` uint8 pixels become a float tensor ``(C, H, W)`` in ``[0, 1]``.
    """
    import numpy

    pixels = torch.from_numpy(numpy.array(image, dtype=numpy.uint8))
    if pixels.ndim == 2:
        pixels = pixels.unsqueeze(-1)
    return pixels.permute(2, 0, 1).float().div(255.0)


def _divide_by_255(image: Tensor) -> Tensor:
    return image / 255.0


def _benchmark_chains(
    datasets: Splits, train_ways: int, train_samples: int, test_ways: int, test_samples: int
) -> Chains:
    """Return learn2learn's task transforms of the image benchmarks.

    Validation tasks make their labels consecutive before remapping them, as learn2learn does.
    """
    train, validation, test = datasets
    return (
        [
            NWays(train, train_ways),
            KShots(train, train_samples),
            LoadData(train),
            RemapLabels(train),
            ConsecutiveLabels(train),
        ],
        [
            NWays(validation, test_ways),
            KShots(validation, test_samples),
            LoadData(validation),
            ConsecutiveLabels(validation),
            RemapLabels(validation),
        ],
        [
            NWays(test, test_ways),
            KShots(test, test_samples),
            LoadData(test),
            RemapLabels(test),
            ConsecutiveLabels(test),
        ],
    )


def _meta_datasets(
    datasets: Splits,
    device: torch.device | str | None,
    transform: Callable[[Any], Any] | None,
    *,
    on_device: bool,
) -> Splits:
    """Wrap each split in a ``MetaDataset`` (loaded into an ``OnDeviceDataset`` on ``device``).

    ``transform`` is the splits' own transform, or with ``on_device`` the ``OnDeviceDataset``'s
    (applied to each item taken from the device), as learn2learn places each benchmark's.
    """
    wrapped = []
    for dataset in datasets:
        dataset.transform = None if on_device and device is not None else transform
        if device is None:
            wrapped.append(MetaDataset(dataset))
        else:
            on_device_transform = transform if on_device else None
            loaded = OnDeviceDataset(dataset, device=device, transform=on_device_transform)
            wrapped.append(MetaDataset(loaded))
    return wrapped[0], wrapped[1], wrapped[2]


def mini_imagenet_tasksets(
    train_ways: int = 5,
    train_samples: int = 10,
    test_ways: int = 5,
    test_samples: int = 10,
    root: str | os.PathLike[str] = "~/data",
    data_augmentation: str | None = None,
    device: torch.device | str | None = None,
    *,
    urls: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> tuple[Splits, Chains]:
    """learn2learn's ``mini_imagenet_tasksets``: mini-ImageNet's data sets and task transforms.

    ``MiniImagenet`` (``l2l.vision.datasets``) in ``train``, ``validation`` and ``test``
    modes, downloaded when missing, each a ``MetaDataset``; items are float ``(3, 84, 84)``
    in ``[0, 255]`` (``data_augmentation=None``) or in ``[0, 1]`` (``"normalize"``). Task
    transforms: ``NWays -> KShots -> LoadData -> RemapLabels -> ConsecutiveLabels``
    (validation: ``ConsecutiveLabels`` before ``RemapLabels``, as learn2learn).

    Args:
        train_ways: Classes per training task.
        train_samples: Items per class in a training task (support and query together).
        test_ways: Classes per validation and test task.
        test_samples: Items per class in a validation and test task.
        root: Directory of the pickles.
        data_augmentation: ``None`` or ``"normalize"`` (``"lee2019"`` is not provided).
        device: If given, each split is loaded once into an ``OnDeviceDataset`` there.
        urls: ``{mode: URL}`` to download pickles from instead of
            ``meta_tasks.MINI_IMAGENET_URLS`` (a mirror; needed offline).
        **kwargs: Passed to each ``MiniImagenet`` (``download`` (default ``True``),
            ``checksums``).

    Returns:
        ``((train, validation, test), (train_transforms, validation_transforms,
        test_transforms))``.

    Raises:
        ValueError: If ``data_augmentation`` is not provided.

    Examples:
        >>> datasets, transforms = mini_imagenet_tasksets(root="~/data")  # doctest: +SKIP
        >>> [len(split.labels) for split in datasets]  # doctest: +SKIP
        [64, 16, 20]
    """
    _check_augmentation(data_augmentation)

    def make_split(mode: str, **options: Any) -> MiniImagenet:
        return MiniImagenet(root, mode, url=None if urls is None else urls.get(mode), **options)

    transform = None if data_augmentation is None else _divide_by_255
    ways = (train_ways, train_samples, test_ways, test_samples)
    return _image_tasksets(make_split, ways, device, kwargs, transform, on_device=True)


def _image_tasksets(
    make_split: Callable[..., Any],
    ways: tuple[int, int, int, int],
    device: torch.device | str | None,
    kwargs: dict[str, Any],
    transform: Callable[[Any], Any] | None = _to_tensor,
    *,
    on_device: bool = False,
) -> tuple[Splits, Chains]:
    """An image benchmark's three ``MetaDataset`` splits and their task transforms.

    Each split is ``make_split(mode, download=True, **kwargs)`` (``kwargs`` may override
    ``download``), wrapped by `_meta_datasets` with ``transform`` and ``on_device``; the default
    ``transform`` is the ``ToTensor`` of tiered-ImageNet, CIFAR-FS and FC100. ``ways`` is
    ``(train_ways, train_samples, test_ways, test_samples)``.
    """
    options = {"download": True, **kwargs}
    train, validation, test = (
        make_split(mode, **options) for mode in ("train", "validation", "test")
    )
    splits = _meta_datasets((train, validation, test), device, transform, on_device=on_device)
    return splits, _benchmark_chains(splits, *ways)


def tiered_imagenet_tasksets(
    train_ways: int = 5,
    train_samples: int = 10,
    test_ways: int = 5,
    test_samples: int = 10,
    root: str | os.PathLike[str] = "~/data",
    data_augmentation: str | None = None,
    device: torch.device | str | None = None,
    **kwargs: Any,
) -> tuple[Splits, Chains]:
    """learn2learn's ``tiered_imagenet_tasksets``: tiered-ImageNet's data sets and transforms.

    ``TieredImagenet`` in the three modes, downloaded when missing, its PIL images turned into
    float ``(3, 84, 84)`` tensors in ``[0, 1]`` (``ToTensor``; ``"normalize"`` is the same, as
    in learn2learn), each a ``MetaDataset``, with the task transforms of
    [`mini_imagenet_tasksets`][meta_all.compat.learn2learn.vision.benchmarks.mini_imagenet_tasksets].

    Args:
        train_ways: Classes per training task.
        train_samples: Items per class in a training task (support and query together).
        test_ways: Classes per validation and test task.
        test_samples: Items per class in a validation and test task.
        root: Directory holding ``tiered-imagenet/``.
        data_augmentation: ``None`` or ``"normalize"`` (``"lee2019"`` is not provided).
        device: If given, each split is loaded once into an ``OnDeviceDataset`` there.
        **kwargs: Passed to each ``TieredImagenet`` (``download`` (default ``True``),
            ``base_url``, ``checksums``).

    Returns:
        ``((train, validation, test), (train_transforms, validation_transforms,
        test_transforms))``.

    Raises:
        ValueError: If ``data_augmentation`` is not provided.

    Examples:
        >>> datasets, transforms = tiered_imagenet_tasksets(root="~/data")  # doctest: +SKIP
        >>> [len(split.labels) for split in datasets]  # doctest: +SKIP
        [351, 97, 160]
    """
    _check_augmentation(data_augmentation)
    ways = (train_ways, train_samples, test_ways, test_samples)
    return _image_tasksets(partial(TieredImagenet, root), ways, device, kwargs)


def cifarfs_tasksets(
    train_ways: int = 5,
    train_samples: int = 10,
    test_ways: int = 5,
    test_samples: int = 10,
    root: str | os.PathLike[str] = "~/data",
    device: torch.device | str | None = None,
    **kwargs: Any,
) -> tuple[Splits, Chains]:
    """learn2learn's ``cifarfs_tasksets``: CIFAR-FS's data sets and task transforms.

    ``CIFARFS`` in the three modes, downloaded when missing, its images as float ``(3, 32,
    32)`` tensors in ``[0, 1]`` (``ToTensor``), each a ``MetaDataset``, with the task
    transforms of
    [`mini_imagenet_tasksets`][meta_all.compat.learn2learn.vision.benchmarks.mini_imagenet_tasksets].

    Args:
        train_ways: Classes per training task.
        train_samples: Items per class in a training task (support and query together).
        test_ways: Classes per validation and test task.
        test_samples: Items per class in a validation and test task.
        root: Directory holding ``cifarfs/``.
        device: If given, each split is loaded once into an ``OnDeviceDataset`` there.
        **kwargs: Passed to each ``CIFARFS`` (``download`` (default ``True``), ``url``,
            ``checksums``).

    Returns:
        ``((train, validation, test), (train_transforms, validation_transforms,
        test_transforms))``.

    Examples:
        >>> datasets, transforms = cifarfs_tasksets(root="~/data")  # doctest: +SKIP
        >>> [len(split.labels) for split in datasets]  # doctest: +SKIP
        [64, 16, 20]
    """
    ways = (train_ways, train_samples, test_ways, test_samples)
    return _image_tasksets(partial(CIFARFS, root), ways, device, kwargs)


def fc100_tasksets(
    train_ways: int = 5,
    train_samples: int = 10,
    test_ways: int = 5,
    test_samples: int = 10,
    root: str | os.PathLike[str] = "~/data",
    device: torch.device | str | None = None,
    **kwargs: Any,
) -> tuple[Splits, Chains]:
    """learn2learn's ``fc100_tasksets``: FC100's data sets and task transforms.

    ``FC100`` in the three modes, downloaded when missing, its images as float ``(3, 32,
    32)`` tensors in ``[0, 1]`` (``ToTensor``), each a ``MetaDataset``, with the task
    transforms of
    [`mini_imagenet_tasksets`][meta_all.compat.learn2learn.vision.benchmarks.mini_imagenet_tasksets].

    Args:
        train_ways: Classes per training task.
        train_samples: Items per class in a training task (support and query together).
        test_ways: Classes per validation and test task.
        test_samples: Items per class in a validation and test task.
        root: Directory of the pickles.
        device: If given, each split is loaded once into an ``OnDeviceDataset`` there.
        **kwargs: Passed to each ``FC100`` (``download`` (default ``True``), ``url``,
            ``checksums``).

    Returns:
        ``((train, validation, test), (train_transforms, validation_transforms,
        test_transforms))``.

    Examples:
        >>> datasets, transforms = fc100_tasksets(root="~/data")  # doctest: +SKIP
        >>> [len(split.labels) for split in datasets]  # doctest: +SKIP
        [60, 20, 20]
    """
    ways = (train_ways, train_samples, test_ways, test_samples)
    return _image_tasksets(partial(FC100, root), ways, device, kwargs)


_TASKSETS: dict[str, Callable[..., tuple[tuple[Any, ...], tuple[list[Any], ...]]]] = {
    "omniglot": omniglot_tasksets,
    "mini-imagenet": mini_imagenet_tasksets,
    "tiered-imagenet": tiered_imagenet_tasksets,
    "fc100": fc100_tasksets,
    "cifarfs": cifarfs_tasksets,
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
    [`omniglot_tasksets`][meta_all.compat.learn2learn.vision.benchmarks.omniglot_tasksets];
    ``"mini-imagenet"``, ``"tiered-imagenet"``, ``"fc100"``, ``"cifarfs"``:
    ``mini_imagenet_tasksets``, ``tiered_imagenet_tasksets``, ``fc100_tasksets``,
    ``cifarfs_tasksets``) for its three data sets and task transforms and wraps each pair in a
    ``TaskDataset`` of ``num_tasks`` tasks. Tasks are ``[images, labels]`` with ``ways *
    samples`` items; ``samples`` counts support and query items together.

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
