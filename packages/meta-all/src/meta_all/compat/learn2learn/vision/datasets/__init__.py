"""learn2learn's ``l2l.vision.datasets``: ``FullOmniglot``, over meta-tasks' Omniglot reader.

``MiniImagenet``, ``TieredImagenet``, ``CIFARFS``, ``FC100`` and ``Quickdraw`` adapt meta-tasks'
readers of the same data sets. ``CUBirds200``, ``DescribableTextures``, ``FGVCAircraft``,
``FGVCFungi`` and ``VGGFlower102`` are meta-tasks' readers themselves (learn2learn's names,
arguments and order).
"""

from __future__ import annotations

import bisect
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from meta_tasks import (
    OMNIGLOT_SUBSETS,
    CUBirds200,
    DescribableTextures,
    FGVCAircraft,
    FGVCFungi,
    Omniglot,
    VGGFlower102,
)
from meta_tasks._vision_files import transform_item
from torch import Tensor
from torch.utils.data import Dataset

from .._benchmark_datasets import CIFARFS as CIFARFS
from .._benchmark_datasets import FC100 as FC100
from .._benchmark_datasets import MiniImagenet as MiniImagenet
from .._benchmark_datasets import Quickdraw as Quickdraw
from .._benchmark_datasets import TieredImagenet as TieredImagenet

__all__ = [
    "CIFARFS",
    "FC100",
    "CUBirds200",
    "DescribableTextures",
    "FGVCAircraft",
    "FGVCFungi",
    "FullOmniglot",
    "MiniImagenet",
    "Quickdraw",
    "TieredImagenet",
    "VGGFlower102",
]

FULL_SUBSETS: tuple[str, ...] = ("background", "evaluation")
SMALL_SUBSETS: tuple[str, ...] = ("background_small",)


def _archives_present(root: Path, subsets: tuple[str, ...]) -> bool:
    return all((root / name).is_file() for s in subsets for name in OMNIGLOT_SUBSETS[s])


class FullOmniglot(Dataset[tuple[Any, Any]]):
    """learn2learn's ``FullOmniglot``: the background and evaluation sets of Omniglot as one.

    1623 character classes of 20 drawings: the 964 background classes first (labels
    ``0 .. 963``), then the 659 evaluation classes (``964 .. 1622``), read by
    [`meta_tasks.Omniglot`][meta_tasks.Omniglot] straight from ``images_background.zip`` and
    ``images_evaluation.zip`` in ``root`` (downloaded there with ``download=True``).

    Items are ``(image, label)`` where ``image`` is a float tensor ``(1, image_size,
    image_size)`` in learn2learn's pixel convention after ``ToTensor()``: background 1.0,
    strokes 0.0 (learn2learn's benchmark inverts it with ``lambda x: 1.0 - x``); ``transform``
    and ``target_transform`` apply to it and to the label. The ``labels`` attribute gives every
    label without loading an image, so ``MetaDataset(FullOmniglot(...))`` is instant.

    When ``root`` lacks the full archives but holds both small background archives
    (``images_background_small1.zip`` and ``images_background_small2.zip``), those are read
    instead (their 242 de-duplicated characters, meta-tasks' ``"background_small"``) with a
    ``UserWarning`` saying so; ``subsets`` records what was read.

    Args:
        root: Directory of the Omniglot zip archives (``~`` is expanded).
        transform: Applied to each image tensor.
        target_transform: Applied to each label.
        download: Fetch missing full archives into ``root``.
        image_size: Side of the images (105, the original, as learn2learn's).
        cache: Keep decoded images in memory.

    Attributes:
        subsets: The meta-tasks Omniglot subsets read, in label order.
        labels: The label of every item.
        num_classes: Number of classes.

    Raises:
        FileNotFoundError: If the archives are missing and ``download`` is false.
        ImportError: If Pillow is not installed.

    Examples:
        >>> import warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")  # a root holding only the small archives
        ...     omniglot = FullOmniglot(root)
        >>> omniglot.subsets, len(omniglot), omniglot.num_classes
        (('background_small',), 4840, 242)
        >>> image, label = omniglot[0]
        >>> tuple(image.shape), label, image.max().item()
        ((1, 105, 105), 0, 1.0)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Callable[[Tensor], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        download: bool = False,
        *,
        image_size: int = 105,
        cache: bool = False,
    ) -> None:
        self.root = Path(os.path.expanduser(root))
        self.transform = transform
        self.target_transform = target_transform
        self.subsets = FULL_SUBSETS
        if not _archives_present(self.root, FULL_SUBSETS) and _archives_present(
            self.root, SMALL_SUBSETS
        ):
            self.subsets = SMALL_SUBSETS
            warnings.warn(
                f"FullOmniglot: {self.root} has no images_background.zip and "
                f"images_evaluation.zip but has the small background archives; reading those "
                f"instead (242 characters, not 1623)",
                UserWarning,
                stacklevel=2,
            )
        self.parts = [
            Omniglot(self.root, subset, image_size=image_size, download=download, cache=cache)
            for subset in self.subsets
        ]
        self.labels: list[int] = []
        self._starts: list[int] = []
        offset = 0
        for part in self.parts:
            self._starts.append(len(self.labels))
            self.labels.extend(offset + label for label in part.labels)
            offset += part.num_classes
        self.num_classes = offset

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """Return ``(image, label)``, each passed through its transform if given.

        Raises:
            IndexError: If ``index`` is out of range.
        """
        size = len(self.labels)
        if not -size <= index < size:
            raise IndexError(f"index {index} is out of range for FullOmniglot with {size} items")
        index %= size
        part = bisect.bisect_right(self._starts, index) - 1
        image = 1.0 - self.parts[part].image(index - self._starts[part])
        return transform_item(image, self.labels[index], self.transform, self.target_transform)

    def __repr__(self) -> str:
        return (
            f"FullOmniglot(root={str(self.root)!r}, subsets={self.subsets}, items={len(self)}, "
            f"classes={self.num_classes})"
        )
