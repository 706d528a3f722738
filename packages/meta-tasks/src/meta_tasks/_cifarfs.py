"""CIFAR-FS, read from the folder tree learn2learn extracts from ``cifar100.zip``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from torch import Tensor

from ._vision_files import decode_rgb, ensure_file, extract_tree, require_pillow, short_split
from ._vision_pickles import Transform, _SplitImages

CIFARFS_URL = "https://zenodo.org/record/7978538/files/cifar100.zip"
"""Where [`CIFARFS`][meta_tasks.CIFARFS] downloads ``cifar100.zip`` by default (learn2learn
0.2.0's first choice)."""

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
"""The files of a class folder that are images (torchvision ``ImageFolder``'s list)."""


def _class_images(folder: Path) -> list[Path]:
    """The images under ``folder``, in ``ImageFolder``'s order (sorted walk, sorted names)."""
    found: list[Path] = []
    for directory, _, names in sorted(os.walk(folder, followlinks=True)):
        found.extend(
            Path(directory, name) for name in sorted(names) if name.lower().endswith(IMAGE_SUFFIXES)
        )
    return found


class CIFARFS(_SplitImages):
    """CIFAR-FS (Bertinetto et al. 2019): CIFAR-100 in 64 / 16 / 20 classes, from PNG folders.

    Reads the tree learn2learn leaves under ``<root>/cifarfs``: its processed copy
    ``processed/<s>/<class>/*.png`` when there (``<s>`` is ``train``, ``val`` or ``test``),
    otherwise the extracted zip itself, the classes listed one a line in
    ``cifar100/splits/bertinetto/<s>.txt`` and their images in ``cifar100/data/<class>/``
    (nothing is copied). As torchvision's ``ImageFolder``, labels number the classes in sorted
    name order and each class's images come in sorted order. Items are ``(image, label)`` with
    ``image`` a uint8 tensor ``(3, 32, 32)``; learn2learn's ``CIFARFS`` returns the PIL image.

    Args:
        root: Directory holding ``cifarfs/`` (``~`` is expanded).
        split: ``"train"``, ``"validation"`` or ``"test"``.
        download: When ``cifarfs/cifar100`` is missing, fetch ``cifar100.zip`` from ``url``
            (through a ``.part`` file, resumed if broken off, checked against ``checksums``
            when listed), extract it into ``cifarfs/cifar100`` (through a ``.partial`` folder
            renamed when complete) and delete the zip.
        transform: Applied to each image tensor.
        url: The zip's URL; default ``CIFARFS_URL``. learn2learn falls back to a Google Drive
            copy, which is not followed here: offline, or where the default host is
            unreachable, pass the URL of a mirror.
        checksums: ``{"cifar100.zip": sha256 hex}``.

    Attributes:
        labels: The label of every item.
        classes: The class names, indexed by label.
        samples: ``(image path, label)`` of every item.

    Raises:
        ValueError: If ``split`` is unknown, the split file names a class without a folder, or
            a class has no images.
        FileNotFoundError: If the data is missing and ``download`` is false.
        ImportError: If Pillow is not installed.

    Examples:
        >>> test = CIFARFS("~/data", "test", download=True)  # doctest: +SKIP
        >>> image, label = test[0]  # doctest: +SKIP
        >>> image.shape, len(test.classes)  # doctest: +SKIP
        (torch.Size([3, 32, 32]), 20)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        *,
        download: bool = False,
        transform: Transform | None = None,
        url: str = CIFARFS_URL,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(root, split, transform)
        require_pillow("CIFARFS")
        short = short_split(self.split)
        base = self.root / "cifarfs"
        processed = base / "processed" / short
        if processed.is_dir():
            self.classes = sorted(entry.name for entry in processed.iterdir() if entry.is_dir())
            folders = [processed / name for name in self.classes]
        else:
            if download and not (base / "cifar100").is_dir():
                archive = ensure_file(
                    base,
                    "cifar100.zip",
                    url=url,
                    download=True,
                    checksums=checksums,
                    what="CIFAR-FS's zip",
                    zip_check=True,
                )
                extract_tree(archive, "cifar100/", base / "cifar100")
            split_file = ensure_file(
                base,
                f"cifar100/splits/bertinetto/{short}.txt",
                url=url,
                download=False,
                checksums=checksums,
                what="the class names of this split, one a line (from cifar100.zip)",
            )
            lines = split_file.read_text(encoding="utf-8").splitlines()
            self.classes = sorted({line.strip() for line in lines if line.strip()})
            folders = [base / "cifar100" / "data" / name for name in self.classes]
            for name, folder in zip(self.classes, folders, strict=True):
                if not folder.is_dir():
                    raise ValueError(
                        f"{split_file} lists class {name!r} but {folder} is not a folder; "
                        f"expected one folder of images per listed class"
                    )
        self.samples: list[tuple[Path, int]] = []
        for label, folder in enumerate(folders):
            images = _class_images(folder)
            if not images:
                raise ValueError(f"{folder} holds no images; expected {IMAGE_SUFFIXES} files")
            self.samples.extend((path, label) for path in images)
        self.labels = [label for _, label in self.samples]

    def image(self, index: int) -> Tensor:
        """The decoded uint8 image ``(3, height, width)`` of item ``index`` (no transform)."""
        path = self.samples[index][0]
        return decode_rgb(path.read_bytes(), str(path))
