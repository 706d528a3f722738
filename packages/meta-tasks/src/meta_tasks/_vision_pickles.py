"""mini-ImageNet, tiered-ImageNet and FC100, read from the pickles learn2learn downloads."""

from __future__ import annotations

import abc
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from ._task import check_index
from ._vision_files import (
    check_image_array,
    check_split,
    decode_rgb,
    ensure_file,
    extract_files,
    hwc_to_chw,
    load_pickle,
    require_keys,
    require_numpy,
    require_pillow,
    short_split,
)

Transform = Callable[[Tensor], Any]

MINI_IMAGENET_URLS: Mapping[str, str] = MappingProxyType(
    {
        "train": "https://www.dropbox.com/s/9g8c6w345s2ek03/mini-imagenet-cache-train.pkl?dl=1",
        "validation": (
            "https://www.dropbox.com/s/ip1b7se3gij3r1b/mini-imagenet-cache-validation.pkl?dl=1"
        ),
        "test": "https://www.dropbox.com/s/ye9jeb5tyz0x01b/mini-imagenet-cache-test.pkl?dl=1",
    }
)
"""Where [`MiniImageNet`][meta_tasks.MiniImageNet] downloads each split's pickle by default
(learn2learn 0.2.0's first choice; a copy is also on Zenodo record 7978538)."""

TIERED_IMAGENET_BASE_URL = "https://zenodo.org/record/7978538/files/tiered-imagenet-"
"""URL prefix of tiered-ImageNet's files (``<prefix>train_images_png.pkl``, ...), learn2learn
0.2.0's first choice."""

FC100_URL = "https://zenodo.org/record/7978538/files/fc100.zip"
"""Where [`FC100`][meta_tasks.FC100] downloads ``fc100.zip`` by default (learn2learn 0.2.0's
first choice)."""


class _SplitImages(Dataset[tuple[Any, int]], abc.ABC):
    """``(image, label)`` items of one split, with ``labels`` known without decoding."""

    labels: list[int]

    def __init__(
        self, root: str | os.PathLike[str], split: str, transform: Transform | None
    ) -> None:
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None, got {type(transform).__name__}")
        self.root = Path(os.path.expanduser(root))
        self.split = check_split(split)
        self.transform = transform

    @property
    def num_classes(self) -> int:
        """Number of distinct labels."""
        return len(set(self.labels))

    @abc.abstractmethod
    def image(self, index: int) -> Tensor:
        """The uint8 image ``(channels, height, width)`` of item ``index`` (no transform)."""

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        """Return ``(image, label)``, the image passed through ``transform`` if given.

        Raises:
            IndexError: If ``index`` is out of range.
        """
        name = type(self).__name__
        index = check_index(
            index, len(self), f"index {{index}} is out of range for {name} with {{size}} items"
        )
        image: Any = self.image(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]

    def __repr__(self) -> str:
        name, root = type(self).__name__, str(self.root)
        return f"{name}(root={root!r}, split={self.split!r}, items={len(self)})"


class MiniImageNet(_SplitImages):
    """mini-ImageNet (Vinyals et al. 2016; Ravi & Larochelle's splits), from its pickles.

    Reads ``<root>/mini-imagenet-cache-<split>.pkl``, the file learn2learn downloads: a dict
    with ``"image_data"``, a uint8 array ``(items, 84, 84, 3)``, and ``"class_dict"``, mapping
    each class name to the indices of its images. Labels number the classes in the dict's
    order (64 train, 16 validation and 20 test classes of 600 images). Items are ``(image,
    label)`` with ``image`` a uint8 tensor ``(3, 84, 84)``; learn2learn's ``MiniImagenet``
    gives the same values as float32.

    Args:
        root: Directory of the pickles (``~`` is expanded).
        split: ``"train"``, ``"validation"`` or ``"test"``.
        download: Fetch a missing pickle from ``url`` (through a ``.part`` file, resumed if
            broken off, checked against ``checksums`` or ``<root>/SHA256SUMS`` when they list
            it, renamed when complete).
        transform: Applied to each image tensor.
        url: Where to download the split's pickle from; default
            ``MINI_IMAGENET_URLS[split]``. learn2learn falls back to a Google Drive copy,
            which is not followed here: offline, or where the default host is unreachable, pass
            the URL of a mirror.
        checksums: ``{file name: sha256 hex}`` to verify the pickle against.

    Attributes:
        labels: The label of every item.
        classes: The class names (ImageNet synsets), indexed by label.

    Raises:
        ValueError: If ``split`` is unknown or the pickle is malformed (the message names the
            file and what was expected).
        FileNotFoundError: If the pickle is missing and ``download`` is false.
        ImportError: If numpy is not installed.

    Examples:
        >>> train = MiniImageNet("~/data", "train", download=True)  # doctest: +SKIP
        >>> image, label = train[0]  # doctest: +SKIP
        >>> image.shape, image.dtype, len(train.classes)  # doctest: +SKIP
        (torch.Size([3, 84, 84]), torch.uint8, 64)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        download: bool = False,
        transform: Transform | None = None,
        url: str | None = None,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(root, split, transform)
        filename = f"mini-imagenet-cache-{self.split}.pkl"
        path = ensure_file(
            self.root,
            filename,
            url=MINI_IMAGENET_URLS[self.split] if url is None else url,
            download=download,
            checksums=checksums,
            what="mini-ImageNet's pickle of this split",
        )
        content = require_keys(load_pickle(path), ("image_data", "class_dict"), path)
        pixels = check_image_array(content["image_data"], path, "'image_data'")
        class_dict = content["class_dict"]
        if not isinstance(class_dict, Mapping):
            raise ValueError(
                f"{path}: 'class_dict' must be a dict of class name -> image indices, got "
                f"{type(class_dict).__name__}"
            )
        self.classes: list[str] = [str(name) for name in class_dict]
        labels = [-1] * len(pixels)
        for label, indices in enumerate(class_dict.values()):
            for index in indices:
                if not 0 <= int(index) < len(pixels) or labels[int(index)] != -1:
                    raise ValueError(
                        f"{path}: 'class_dict' lists image {index} out of range or twice; "
                        f"expected each of the {len(pixels)} images in exactly one class"
                    )
                labels[int(index)] = label
        if -1 in labels:
            raise ValueError(
                f"{path}: image {labels.index(-1)} is in no class of 'class_dict'; expected "
                f"each of the {len(pixels)} images in exactly one class"
            )
        self.labels = labels
        self._pixels = torch.from_numpy(pixels).permute(0, 3, 1, 2)  # a view, no copy

    def image(self, index: int) -> Tensor:
        """The uint8 image ``(3, 84, 84)`` of item ``index`` (no transform)."""
        return self._pixels[index]


class TieredImageNet(_SplitImages):
    """tiered-ImageNet (Ren et al. 2018), from the pickles of PNG files learn2learn downloads.

    Reads ``<root>/tiered-imagenet/<s>_images_png.pkl``, a sequence of PNG-encoded images
    (bytes or uint8 arrays), and ``<root>/tiered-imagenet/<s>_labels.pkl``, a dict whose
    ``"label_specific"`` holds each image's class, where ``<s>`` is ``train``, ``val`` or
    ``test`` (351 / 97 / 160 classes). Items are ``(image, label)`` with ``image`` the decoded
    PNG as a uint8 tensor ``(3, height, width)`` (84 x 84); learn2learn's ``TieredImagenet``
    returns the PIL image.

    Args:
        root: Directory holding ``tiered-imagenet/`` (``~`` is expanded).
        split: ``"train"``, ``"validation"`` or ``"test"``.
        download: Fetch this split's two missing files from ``base_url`` (each through a
            ``.part`` file, resumed if broken off, checked against ``checksums`` when listed,
            keyed ``"tiered-imagenet/<file name>"``). learn2learn fetches all eight files.
        transform: Applied to each image tensor.
        base_url: URL prefix the file names are appended to; default
            ``TIERED_IMAGENET_BASE_URL``. learn2learn falls back to a Google Drive tar,
            which is not followed here: offline, or where the default host is unreachable,
            pass the URL of a mirror.
        checksums: ``{"tiered-imagenet/<file name>": sha256 hex}``.

    Attributes:
        labels: The label of every item.

    Raises:
        ValueError: If ``split`` is unknown, a pickle is malformed or the two disagree in
            length.
        FileNotFoundError: If a file is missing and ``download`` is false.
        ImportError: If numpy (to read the pickles) or Pillow (to decode) is missing.

    Examples:
        >>> test = TieredImageNet("~/data", "test", download=True)  # doctest: +SKIP
        >>> image, label = test[0]  # doctest: +SKIP
        >>> image.shape, test.num_classes  # doctest: +SKIP
        (torch.Size([3, 84, 84]), 160)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        download: bool = False,
        transform: Transform | None = None,
        base_url: str = TIERED_IMAGENET_BASE_URL,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(root, split, transform)
        require_pillow("TieredImageNet")
        short = short_split(self.split)
        paths = [
            ensure_file(
                self.root,
                f"tiered-imagenet/{short}_{kind}.pkl",
                url=f"{base_url}{short}_{kind}.pkl",
                download=download,
                checksums=checksums,
                what=f"tiered-ImageNet's {what}",
            )
            for kind, what in (("images_png", "PNG images"), ("labels", "labels"))
        ]
        images = load_pickle(paths[0], encoding="latin1")
        if not isinstance(images, Sequence) and not hasattr(images, "__array__"):
            raise ValueError(
                f"{paths[0]} holds a {type(images).__name__}; expected a sequence of PNG files"
            )
        content = require_keys(
            load_pickle(paths[1], encoding="latin1"), ("label_specific",), paths[1]
        )
        labels = [int(label) for label in content["label_specific"]]
        if len(labels) != len(images):
            raise ValueError(
                f"{paths[1]} has {len(labels)} labels but {paths[0]} {len(images)} images; "
                f"expected one label per image"
            )
        self.labels = labels
        self._images = images
        self._images_path = paths[0]

    def encoded(self, index: int) -> bytes:
        """The PNG file of item ``index``, as stored."""
        return bytes(memoryview(self._images[index]))

    def image(self, index: int) -> Tensor:
        """The decoded uint8 image ``(3, height, width)`` of item ``index`` (no transform)."""
        return decode_rgb(self.encoded(index), f"{index} of {self._images_path}")


class FC100(_SplitImages):
    """FC100 (Oreshkin et al. 2018), CIFAR-100 split by superclass, from its pickles.

    Reads ``<root>/FC100_<s>.pickle`` (``<s>`` is ``train``, ``val`` or ``test``; 60 / 20 / 20
    classes), a (Python 2) pickle of a dict with ``"data"``, a uint8 array ``(items, 32, 32,
    3)``, and ``"labels"``, each image's CIFAR-100 class. ``download=True`` fetches
    ``fc100.zip`` and extracts the three pickles, as learn2learn does. Items are ``(image,
    label)`` with ``image`` a uint8 tensor ``(3, 32, 32)``; learn2learn's ``FC100`` returns a
    PIL image. Labels are CIFAR-100's (not renumbered).

    Args:
        root: Directory of the pickles (``~`` is expanded).
        split: ``"train"``, ``"validation"`` or ``"test"``.
        download: Fetch ``fc100.zip`` from ``url`` when the pickle is missing (through a
            ``.part`` file, resumed if broken off, checked against ``checksums`` when listed),
            then extract the pickles (each through a ``.part`` file) and delete the zip.
        transform: Applied to each image tensor.
        url: The zip's URL; default ``FC100_URL``. learn2learn falls back to a Google Drive
            copy, which is not followed here: offline, or where the default host is
            unreachable, pass the URL of a mirror.
        checksums: ``{file name: sha256 hex}`` (``"fc100.zip"``, ``"FC100_train.pickle"``...).

    Attributes:
        labels: The label of every item.

    Raises:
        ValueError: If ``split`` is unknown or the pickle or zip is malformed.
        FileNotFoundError: If the pickle is missing and ``download`` is false.
        ImportError: If numpy is not installed.

    Examples:
        >>> train = FC100("~/data", "train", download=True)  # doctest: +SKIP
        >>> image, label = train[0]  # doctest: +SKIP
        >>> image.shape, train.num_classes  # doctest: +SKIP
        (torch.Size([3, 32, 32]), 60)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        download: bool = False,
        transform: Transform | None = None,
        url: str = FC100_URL,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(root, split, transform)
        require_numpy("FC100")
        filename = f"FC100_{short_split(self.split)}.pickle"
        if download and not (self.root / filename).is_file():
            self.root.mkdir(parents=True, exist_ok=True)
            archive = ensure_file(
                self.root,
                "fc100.zip",
                url=url,
                download=True,
                checksums=checksums,
                what="FC100's zip",
                zip_check=True,
            )
            names = [
                f"FC100_{short_split(split)}.pickle" for split in ("train", "validation", "test")
            ]
            extract_files(archive, {name: self.root / name for name in names})
        path = ensure_file(
            self.root,
            filename,
            url=url,
            download=False,
            checksums=checksums,
            what="FC100's pickle of this split (extracted from fc100.zip)",
        )
        content = require_keys(load_pickle(path, encoding="latin1"), ("data", "labels"), path)
        pixels = check_image_array(content["data"], path, "'data'")
        labels = [int(label) for label in content["labels"]]
        if len(labels) != len(pixels):
            raise ValueError(
                f"{path}: {len(labels)} 'labels' for {len(pixels)} images in 'data'; expected "
                f"one label per image"
            )
        self.labels = labels
        self.pixels = pixels
        """The images as stored: a numpy uint8 array ``(items, 32, 32, 3)``."""

    def image(self, index: int) -> Tensor:
        """The uint8 image ``(3, 32, 32)`` of item ``index`` (no transform)."""
        return hwc_to_chw(self.pixels[index])
