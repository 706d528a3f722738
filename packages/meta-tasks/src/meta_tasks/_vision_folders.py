"""Meta-Dataset's image-folder benchmarks in learn2learn's on-disk layout.

CUB-200-2011, the Describable Textures Dataset, FGVC-Aircraft, FGVCx Fungi and VGG Flowers 102,
read from the folders learn2learn 0.2.0's downloaders leave under ``root``, with its class
splits (`_vision_splits`), labels and item types (Pillow images).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tarfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple, TypeVar

from torch.utils.data import Dataset

from ._archives import check_member_name, fetch_file
from ._vision_files import require_pillow, transform_item
from ._vision_splits import (
    AIRCRAFT_SPLITS,
    CUB_IMAGENET_DUPLICATES,
    CUB_SPLITS,
    DTD_SPLITS,
    FLOWERS_SPLITS,
    FUNGI_SPLITS,
)

VISION_FOLDER_URLS: Mapping[str, str] = MappingProxyType(
    {
        "CUB_200_2011.tgz": "https://zenodo.org/record/8000562/files/CUB_200_2011.tgz",
        "dtd-r1.0.1.tar.gz": "https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz",
        "fgvc-aircraft-2013b.tar.gz": (
            "http://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz"
        ),
        "fungi_train_val.tgz": "https://labs.gbif.org/fgvcx/2018/fungi_train_val.tgz",
        "train_val_annotations.tgz": "https://labs.gbif.org/fgvcx/2018/train_val_annotations.tgz",
        "102flowers.tgz": "http://www.robots.ox.ac.uk/~vgg/data/flowers/102/102flowers.tgz",
        "imagelabels.mat": "http://www.robots.ox.ac.uk/~vgg/data/flowers/102/imagelabels.mat",
    }
)
"""Where ``download=True`` fetches each file from, by file name (learn2learn 0.2.0's URLs;
read-only). Pass ``urls={file name: URL}`` to a data set to use a mirror instead."""

VISION_FOLDER_MODES: tuple[str, ...] = ("train", "validation", "test", "all")
"""The ``mode`` values the image-folder data sets accept, as learn2learn names them."""

Box = tuple[int, int, int, int]
_Class = TypeVar("_Class", str, int)


def _check_mode(mode: object) -> str:
    if not isinstance(mode, str) or mode not in VISION_FOLDER_MODES:
        raise ValueError(f"mode must be one of {list(VISION_FOLDER_MODES)}, got {mode!r}")
    return mode


def _split(splits: Mapping[str, tuple[_Class, ...]], mode: str) -> tuple[_Class, ...]:
    """The classes of ``mode`` in label order; ``"all"`` joins the splits in their listed order."""
    if mode == "all":
        return tuple(value for split in splits.values() for value in split)
    return splits[mode]


def _check_callable(value: object, name: str) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{name} must be callable or None, got {type(value).__name__}")


def _url(name: str, urls: Mapping[str, str] | None) -> str:
    if urls is not None and name in urls:
        return urls[name]
    return VISION_FOLDER_URLS[name]


def _extract_tar(archive: Path, folder: Path) -> None:
    """Extract the regular files and folders of ``archive`` into ``folder``, atomically.

    Everything goes to ``.<archive>.partial`` first; each top-level entry is then renamed into
    ``folder``. Links, devices and unsafe names (absolute, ``..``) are refused.
    """
    partial = folder / f".{archive.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        try:
            opened = tarfile.open(archive, "r:*")  # noqa: SIM115 - closed by the `with` below
        except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{archive} is not a readable tar archive: {exc}") from exc
        with opened:
            try:
                for member in opened:
                    name = member.name.removeprefix("./")
                    if not name or name == ".":
                        continue
                    target = partial.joinpath(*check_member_name(name, archive).parts)
                    if member.isdir():
                        target.mkdir(parents=True, exist_ok=True)
                    elif member.isfile():
                        source = opened.extractfile(member)
                        if source is None:  # pragma: no cover - isfile() members always have data
                            raise ValueError(f"cannot read member {name!r} of {archive}")
                        target.parent.mkdir(parents=True, exist_ok=True)
                        with source, target.open("wb") as handle:
                            shutil.copyfileobj(source, handle)
                    else:
                        raise ValueError(
                            f"refusing archive {archive}: member {name!r} is a link or a special "
                            f"file; expected only regular files and folders"
                        )
            except (tarfile.TarError, EOFError, zlib.error) as exc:
                raise ValueError(f"corrupted or truncated archive {archive}: {exc}") from exc
        if not partial.is_dir():
            raise ValueError(f"{archive} holds no files; expected the data set")
        for entry in sorted(partial.iterdir()):
            destination = folder / entry.name
            if destination.is_dir() and any(destination.iterdir()):
                raise FileExistsError(
                    f"{destination} already exists; remove it to extract {archive.name} again"
                )
            os.replace(entry, destination)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
        archive.unlink(missing_ok=True)


class _Downloads(NamedTuple):
    """Where a reader's files live and what its ``download``, ``urls`` and ``checksums`` allow."""

    folder: Path
    enabled: bool
    urls: Mapping[str, str] | None
    checksums: Mapping[str, str] | None

    def fetch(self, archive: str, missing: Path, what: str, *, extract: bool = True) -> None:
        """Provide ``missing`` (``what``): download ``archive`` into ``folder`` and extract it.

        ``extract=False`` keeps a file that is not a tar archive as downloaded. On failure
        nothing is left but what was there before (and a resumable ``.part`` of an interrupted
        transfer); a ``folder`` created here and left empty is removed.

        Raises:
            FileNotFoundError: If downloads are off, naming ``missing``, ``what`` and where
                ``archive`` can be fetched from.
        """
        if not self.enabled:
            raise FileNotFoundError(
                f"{missing} not found; expected {what}; pass download=True to fetch {archive} "
                f"from {VISION_FOLDER_URLS[archive]} (or urls={{{archive!r}: <mirror URL>}})"
            )
        folder = self.folder
        created = not folder.exists()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            url = _url(archive, self.urls)
            fetch_file(folder, archive, url=url, checksums=self.checksums, zip_check=False)
            if extract:
                _extract_tar(folder / archive, folder)
        except BaseException:
            if created and folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
            raise


def _image_files(folder: Path, what: str) -> list[Path]:
    """The files of a class folder, by name, leaving out hidden ones (``.directory``)."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} not found; expected the class folder of {what}")
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))


def _read_lines(path: Path, what: str) -> list[str]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; expected {what}")
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


class _ImageFolderDataset(Dataset[tuple[Any, Any]]):
    """Items ``(image path, label)``, images opened with Pillow on access."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str,
        transform: Callable[[Any], Any] | None,
        target_transform: Callable[[int], Any] | None,
    ) -> None:
        self.root = Path(os.path.expanduser(root))
        self.mode = _check_mode(mode)
        _check_callable(transform, "transform")
        _check_callable(target_transform, "target_transform")
        self.transform = transform
        self.target_transform = target_transform
        self.classes: list[str] = []
        self.paths: list[Path] = []
        self.labels: list[int] = []
        self.boxes: list[Box] | None = None
        self._rgb = True

    @property
    def num_classes(self) -> int:
        """Number of classes in ``mode``."""
        return len(self.classes)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """Return ``(image, label)``, each passed through its transform if given.

        Raises:
            IndexError: If ``index`` is out of range.
            FileNotFoundError: If the image file is gone.
            ValueError: If the image file cannot be decoded.
        """
        size = len(self.paths)
        if not -size <= index < size:
            raise IndexError(f"index {index} is out of range for {type(self).__name__} of {size}")
        index %= size
        path = self.paths[index]
        image_module = require_pillow(f"{type(self).__name__} images")
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found; expected an image of {type(self).__name__}")
        try:
            with image_module.open(path) as opened:
                image: Any = opened.convert("RGB") if self._rgb else opened.copy()
        except (OSError, ValueError, SyntaxError) as exc:
            raise ValueError(f"cannot decode image {path}: {exc}") from exc
        if self.boxes is not None:
            image = image.crop(self.boxes[index])
        return transform_item(image, self.labels[index], self.transform, self.target_transform)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root={str(self.root)!r}, mode={self.mode!r}, items={len(self)},"
            f" classes={self.num_classes})"
        )


class CUBirds200(_ImageFolderDataset):
    """Caltech-UCSD Birds 200 (2011) in Meta-Dataset's class splits, as learn2learn reads it.

    Reads ``<root>/cubirds200/CUB_200_2011/images/<class>/<image>.jpg``, the tree that
    ``CUB_200_2011.tgz`` extracts to. Labels are the class's position in its split (in
    ``"all"``: train, test, then validation classes). Images within a class are in file-name
    order. The ILSVRC-2012 duplicates of learn2learn's list are left out unless
    ``include_imagenet_duplicates``.

    Args:
        root: The data root (``~`` is expanded).
        mode: ``"train"`` (140 classes), ``"validation"`` (30), ``"test"`` (30) or ``"all"``.
        transform: Applied to each RGB Pillow image.
        target_transform: Applied to each label.
        download: Fetch and extract ``CUB_200_2011.tgz`` when the images are missing.
        include_imagenet_duplicates: Keep the images that are also in ILSVRC-2012.
        bounding_box_crop: Crop each image to its box in ``bounding_boxes.txt`` (matched
            through ``images.txt``).
        urls: File name to URL, overriding `VISION_FOLDER_URLS`.
        checksums: File name to SHA-256 of the downloads.

    Attributes:
        classes: Class folder names in label order.
        paths: Image file of every item.
        labels: Label of every item.
        boxes: Crop box ``(left, top, right, bottom)`` of every item, or ``None``.

    Raises:
        ValueError: If ``mode`` is unknown or an annotation file is malformed.
        FileNotFoundError: If a folder or file is missing and ``download`` is false.

    Examples:
        >>> birds = CUBirds200(root, mode="test")  # doctest: +SKIP
        >>> image, label = birds[0]  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str = "all",
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        download: bool = False,
        include_imagenet_duplicates: bool = False,
        bounding_box_crop: bool = False,
        *,
        urls: Mapping[str, str] | None = None,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(root, mode, transform, target_transform)
        folder = self.root / "cubirds200"
        base = folder / "CUB_200_2011"
        images = base / "images"
        if not images.is_dir():
            downloads = _Downloads(folder, download, urls, checksums)
            downloads.fetch("CUB_200_2011.tgz", images, "the CUB-200-2011 images folder")
        self.include_imagenet_duplicates = include_imagenet_duplicates
        self.bounding_box_crop = bounding_box_crop
        skipped = set(_split(CUB_IMAGENET_DUPLICATES, self.mode))
        if include_imagenet_duplicates:
            skipped = set()
        boxes = _cub_boxes(base) if bounding_box_crop else None
        self.classes = list(_split(CUB_SPLITS, self.mode))
        self.boxes = [] if boxes is not None else None
        for label, name in enumerate(self.classes):
            for path in _image_files(images / name, f"CUB-200-2011 class {name}"):
                if path.name in skipped:
                    continue
                if boxes is not None and self.boxes is not None:
                    relative = f"{name}/{path.name}"
                    if relative not in boxes:
                        raise ValueError(
                            f"{base / 'images.txt'} has no entry for {relative}; expected one "
                            f"line '<id> {relative}' for every image"
                        )
                    self.boxes.append(boxes[relative])
                self.paths.append(path)
                self.labels.append(label)


def _split_line(line: str, path: Path, number: int, fields: int, what: str) -> list[str]:
    parts = line.split()
    if len(parts) != fields:
        raise ValueError(f"{path}, line {number}: expected {what}, got {line!r}")
    return parts


def _cub_boxes(base: Path) -> dict[str, Box]:
    """``class/image`` -> crop box, from ``images.txt`` and ``bounding_boxes.txt``."""
    index_path, boxes_path = base / "images.txt", base / "bounding_boxes.txt"
    names = {}
    for number, line in enumerate(_read_lines(index_path, "'<id> <class>/<image>' lines"), 1):
        image_id, name = _split_line(line, index_path, number, 2, "'<id> <class>/<image>'")
        names[image_id] = name
    boxes = {}
    what = "'<id> <x> <y> <width> <height>'"
    for number, line in enumerate(_read_lines(boxes_path, f"{what} lines"), 1):
        image_id, *numbers = _split_line(line, boxes_path, number, 5, what)
        if image_id not in names:
            raise ValueError(
                f"{boxes_path}, line {number}: image id {image_id} is not in images.txt"
            )
        try:
            x, y, width, height = (int(float(value)) for value in numbers)
        except ValueError as exc:
            raise ValueError(f"{boxes_path}, line {number}: expected {what}, got {line!r}") from exc
        boxes[names[image_id]] = (x, y, x + width, y + height)
    return boxes


class DescribableTextures(_ImageFolderDataset):
    """The Describable Textures Dataset (DTD) in Meta-Dataset's class splits.

    Reads ``<root>/describable_textures/dtd/images/<class>/<image>.jpg``, the tree that
    ``dtd-r1.0.1.tar.gz`` extracts to (hidden files such as ``.directory`` are skipped). Labels
    are the class's position in its split (``"all"``: train, test, validation classes); images
    are opened on access (learn2learn decodes them all up front).

    Args:
        root: The data root (``~`` is expanded).
        mode: ``"train"`` (33 classes), ``"validation"`` (7), ``"test"`` (7) or ``"all"``.
        transform: Applied to each RGB Pillow image.
        target_transform: Applied to each label.
        download: Fetch and extract ``dtd-r1.0.1.tar.gz`` when the images are missing.
        urls: File name to URL, overriding `VISION_FOLDER_URLS`.
        checksums: File name to SHA-256 of the downloads.

    Attributes:
        classes: Texture names in label order.
        paths: Image file of every item.
        labels: Label of every item.

    Raises:
        ValueError: If ``mode`` is unknown.
        FileNotFoundError: If a folder is missing and ``download`` is false.

    Examples:
        >>> textures = DescribableTextures(root, mode="validation")  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str = "all",
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        download: bool = False,
        *,
        urls: Mapping[str, str] | None = None,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(root, mode, transform, target_transform)
        folder = self.root / "describable_textures"
        images = folder / "dtd" / "images"
        if not images.is_dir():
            downloads = _Downloads(folder, download, urls, checksums)
            downloads.fetch("dtd-r1.0.1.tar.gz", images, "the DTD images folder")
        self.classes = list(_split(DTD_SPLITS, self.mode))
        for label, name in enumerate(self.classes):
            for path in _image_files(images / name, f"DTD texture {name}"):
                self.paths.append(path)
                self.labels.append(label)


AIRCRAFT_VARIANT_FILES: tuple[str, ...] = (
    "images_variant_train.txt",
    "images_variant_val.txt",
    "images_variant_test.txt",
)


class FGVCAircraft(_ImageFolderDataset):
    """FGVC-Aircraft 2013b by variant, in Meta-Dataset's class splits.

    Reads ``<root>/fgvc_aircraft/fgvc-aircraft-2013b/data/``: the variant of every image from
    ``images_variant_{train,val,test}.txt`` (``<image id> <variant>`` lines, in that order)
    and the images from ``images/<image id>.jpg``. Labels are the variant's position in its
    split (``"all"``: train, validation, test variants).

    Args:
        root: The data root (``~`` is expanded).
        mode: ``"train"`` (70 variants), ``"validation"`` (15), ``"test"`` (15) or ``"all"``.
        transform: Applied to each RGB Pillow image.
        target_transform: Applied to each label.
        download: Fetch and extract ``fgvc-aircraft-2013b.tar.gz`` when the data are missing.
        bounding_box_crop: Crop each image to its box in ``images_box.txt``.
        urls: File name to URL, overriding `VISION_FOLDER_URLS`.
        checksums: File name to SHA-256 of the downloads.

    Attributes:
        classes: Variant names in label order.
        paths: Image file of every item.
        labels: Label of every item.
        boxes: Crop box ``(left, top, right, bottom)`` of every item, or ``None``.

    Raises:
        ValueError: If ``mode`` is unknown or an annotation file is malformed.
        FileNotFoundError: If a folder or file is missing and ``download`` is false.

    Examples:
        >>> aircraft = FGVCAircraft(root, mode="train", bounding_box_crop=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str = "all",
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        download: bool = False,
        bounding_box_crop: bool = False,
        *,
        urls: Mapping[str, str] | None = None,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(root, mode, transform, target_transform)
        folder = self.root / "fgvc_aircraft"
        data = folder / "fgvc-aircraft-2013b" / "data"
        if not (data / "images").is_dir():
            downloads = _Downloads(folder, download, urls, checksums)
            downloads.fetch(
                "fgvc-aircraft-2013b.tar.gz", data / "images", "the FGVC-Aircraft images folder"
            )
        self.bounding_box_crop = bounding_box_crop
        self.classes = list(_split(AIRCRAFT_SPLITS, self.mode))
        positions = {name: label for label, name in enumerate(self.classes)}
        boxes = _aircraft_boxes(data / "images_box.txt") if bounding_box_crop else None
        self.boxes = [] if boxes is not None else None
        for filename in AIRCRAFT_VARIANT_FILES:
            path = data / filename
            for number, line in enumerate(_read_lines(path, "'<image id> <variant>' lines"), 1):
                image_id, _, variant = line.strip().partition(" ")
                if not variant.strip():
                    raise ValueError(
                        f"{path}, line {number}: expected '<image id> <variant>', got {line!r}"
                    )
                label = positions.get(variant.strip())
                if label is None:
                    continue
                if boxes is not None and self.boxes is not None:
                    if image_id not in boxes:
                        raise ValueError(
                            f"{data / 'images_box.txt'} has no box for image {image_id}; expected "
                            f"'<image id> <xmin> <ymin> <xmax> <ymax>' for every image"
                        )
                    self.boxes.append(boxes[image_id])
                self.paths.append(data / "images" / f"{image_id}.jpg")
                self.labels.append(label)


def _aircraft_boxes(path: Path) -> dict[str, Box]:
    what = "'<image id> <xmin> <ymin> <xmax> <ymax>'"
    boxes = {}
    for number, line in enumerate(_read_lines(path, f"{what} lines"), 1):
        image_id, *numbers = _split_line(line, path, number, 5, what)
        try:
            left, top, right, bottom = (int(value) for value in numbers)
        except ValueError as exc:
            raise ValueError(f"{path}, line {number}: expected {what}, got {line!r}") from exc
        boxes[image_id] = (left, top, right, bottom)
    return boxes


class FGVCFungi(_ImageFolderDataset):
    """The FGVCx 2018 Fungi competition images in Meta-Dataset's class splits.

    Reads ``<root>/fgvc_fungi/train.json`` and ``val.json`` (COCO-style ``images`` and
    ``annotations`` lists, paired by position, each image's ``file_name`` relative to
    ``fgvc_fungi/``) and the images they name (``images/<class>/<file>``), the trees that
    ``fungi_train_val.tgz`` and ``train_val_annotations.tgz`` extract to. Labels are the
    category id's position in its split (``"all"``: train, validation, test). Images are
    returned in their own mode, as learn2learn's. Use of the data is subject to the
    competition's terms (github.com/visipedia/fgvcx_fungi_comp).

    Args:
        root: The data root (``~`` is expanded).
        mode: ``"train"`` (994 classes), ``"validation"`` (200), ``"test"`` (200) or ``"all"``.
        transform: Applied to each Pillow image.
        target_transform: Applied to each label.
        download: Fetch and extract the two archives when their files are missing.
        urls: File name to URL, overriding `VISION_FOLDER_URLS`.
        checksums: File name to SHA-256 of the downloads.

    Attributes:
        classes: Category ids (as strings) in label order.
        paths: Image file of every item.
        labels: Label of every item.

    Raises:
        ValueError: If ``mode`` is unknown or an annotation file is malformed.
        FileNotFoundError: If a file is missing and ``download`` is false.

    Examples:
        >>> fungi = FGVCFungi(root, mode="test")  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str = "all",
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        download: bool = False,
        *,
        urls: Mapping[str, str] | None = None,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(root, mode, transform, target_transform)
        self._rgb = False
        folder = self.root / "fgvc_fungi"
        needed = (
            (folder / "images", "fungi_train_val.tgz", "the Fungi images folder"),
            (folder / "train.json", "train_val_annotations.tgz", "the Fungi annotations"),
        )
        downloads = _Downloads(folder, download, urls, checksums)
        for path, archive, what in needed:
            if not path.exists():
                downloads.fetch(archive, path, what)
        categories = _split(FUNGI_SPLITS, self.mode)
        self.classes = [str(category) for category in categories]
        positions = {category: label for label, category in enumerate(categories)}
        for name in ("train.json", "val.json"):
            for file_name, category in _fungi_annotations(folder / name):
                label = positions.get(category)
                if label is not None:
                    self.paths.append(folder.joinpath(*check_member_name(file_name, folder).parts))
                    self.labels.append(label)


def _fungi_annotations(path: Path) -> Iterator[tuple[str, int]]:
    """``(file name, category id)`` of every image of a Fungi annotation file."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; expected the Fungi annotations (JSON)")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    expected = "a JSON object with lists 'images' ({id, file_name}) and 'annotations' "
    expected += "({image_id, category_id}) of equal length"
    if not isinstance(content, dict):
        raise ValueError(f"{path}: expected {expected}, got {type(content).__name__}")
    images, annotations = content.get("images"), content.get("annotations")
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise ValueError(f"{path}: expected {expected}")
    if len(images) != len(annotations):
        raise ValueError(
            f"{path}: {len(images)} images but {len(annotations)} annotations; expected {expected}"
        )
    for position, (image, annotation) in enumerate(zip(images, annotations, strict=True)):
        try:
            image_id, file_name = image["id"], image["file_name"]
            annotated, category = annotation["image_id"], annotation["category_id"]
        except (KeyError, TypeError) as exc:
            raise ValueError(
                f"{path}, entry {position}: missing {exc}; expected {expected}"
            ) from exc
        if image_id != annotated or not isinstance(file_name, str) or not isinstance(category, int):
            raise ValueError(
                f"{path}, entry {position}: image id {image_id!r} with annotation for "
                f"{annotated!r}; expected matching ids, a string file_name and an int category_id"
            )
        yield file_name, category


class VGGFlower102(_ImageFolderDataset):
    """Oxford VGG Flowers 102 in Meta-Dataset's class splits.

    Reads ``<root>/vgg_flower102/jpg/image_<NNNNN>.jpg`` (what ``102flowers.tgz`` extracts to)
    and the 1-based class of every image from ``imagelabels.mat`` (a MATLAB 5 file whose
    ``labels`` array holds one number per image, read without scipy). Labels are the class
    number's position in its split (``"all"``: class number - 1). Images are returned in their
    own mode, as learn2learn's.

    Args:
        root: The data root (``~`` is expanded).
        mode: ``"train"`` (71 classes), ``"validation"`` (15), ``"test"`` (16) or ``"all"``.
        transform: Applied to each Pillow image.
        target_transform: Applied to each label.
        download: Fetch ``102flowers.tgz`` (extracted) and ``imagelabels.mat`` when missing.
        urls: File name to URL, overriding `VISION_FOLDER_URLS`.
        checksums: File name to SHA-256 of the downloads.

    Attributes:
        classes: Class numbers (as strings) in label order.
        paths: Image file of every item.
        labels: Label of every item.

    Raises:
        ValueError: If ``mode`` is unknown or ``imagelabels.mat`` is malformed.
        FileNotFoundError: If a file is missing and ``download`` is false.

    Examples:
        >>> flowers = VGGFlower102(root, mode="validation")  # doctest: +SKIP
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        mode: str = "all",
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[int], Any] | None = None,
        download: bool = False,
        *,
        urls: Mapping[str, str] | None = None,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(root, mode, transform, target_transform)
        self._rgb = False
        folder = self.root / "vgg_flower102"
        needed = (
            (folder / "jpg", "102flowers.tgz", "the Flowers images folder", True),
            (folder / "imagelabels.mat", "imagelabels.mat", "the Flowers labels", False),
        )
        downloads = _Downloads(folder, download, urls, checksums)
        for path, name, what, extract in needed:
            if not path.exists():
                downloads.fetch(name, path, what, extract=extract)
        numbers = tuple(range(1, 103)) if self.mode == "all" else FLOWERS_SPLITS[self.mode]
        self.classes = [str(number) for number in numbers]
        positions = {number: label for label, number in enumerate(numbers)}
        labels_path = folder / "imagelabels.mat"
        variables = read_mat_v5(labels_path)
        if "labels" not in variables:
            raise ValueError(
                f"{labels_path} has no variable 'labels'; expected one class number per image, "
                f"got variables {sorted(variables)}"
            )
        for index, value in enumerate(variables["labels"][1], start=1):
            if value != int(value) or not 1 <= value <= 102:
                raise ValueError(
                    f"{labels_path}: label {value!r} of image {index}; expected class numbers "
                    f"1 to 102"
                )
            label = positions.get(int(value))
            if label is not None:
                self.paths.append(folder / "jpg" / f"image_{index:05d}.jpg")
                self.labels.append(label)


_MAT_NUMBERS = {1: "b", 2: "B", 3: "h", 4: "H", 5: "i", 6: "I", 7: "f", 9: "d", 12: "q", 13: "Q"}
_MAT_MATRIX, _MAT_COMPRESSED = 14, 15
_MAT_NUMERIC_CLASSES = range(6, 16)  # mxDOUBLE .. mxUINT64


def read_mat_v5(path: Path) -> dict[str, tuple[tuple[int, ...], list[float]]]:
    """Read the real numeric arrays of a MATLAB 5 (``-v5``/``-v6``/``-v7``) ``.mat`` file.

    Enough of the format for ``imagelabels.mat``: numeric matrices, compressed or not, in
    either byte order; cells, structs, strings and sparse arrays are skipped, and complex
    arrays yield their real part.

    Args:
        path: The ``.mat`` file.

    Returns:
        Variable name to ``(dimensions, values in column-major order)``.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not a MATLAB 5 file or is truncated or malformed.
    """
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; expected a MATLAB 5 .mat file")
    data = path.read_bytes()
    marks = {b"IM": "<", b"MI": ">"}
    if len(data) < 128 or data[126:128] not in marks:
        raise ValueError(
            f"{path} is not a MATLAB 5 .mat file: expected a 128-byte header ending in 'IM' or "
            f"'MI' (MATLAB 7.3 files are HDF5 and not supported)"
        )
    order = marks[data[126:128]]
    variables: dict[str, tuple[tuple[int, ...], list[float]]] = {}
    try:
        for kind, payload in _mat_elements(data, 128, order, path):
            if kind == _MAT_COMPRESSED:
                try:
                    inner = zlib.decompress(payload)
                except zlib.error as exc:
                    raise ValueError(f"{path}: corrupted compressed element: {exc}") from exc
                elements = list(_mat_elements(inner, 0, order, path))
            else:
                elements = [(kind, payload)]
            for inner_kind, inner_payload in elements:
                if inner_kind == _MAT_MATRIX:
                    matrix = _mat_matrix(inner_payload, order, path)
                    if matrix is not None:
                        variables[matrix[0]] = matrix[1]
    except struct.error as exc:
        raise ValueError(f"{path}: truncated or malformed MATLAB 5 data: {exc}") from exc
    return variables


def _mat_elements(data: bytes, offset: int, order: str, path: Path) -> Iterator[tuple[int, bytes]]:
    """``(data type, payload)`` of each data element from ``offset`` on."""
    while offset + 8 <= len(data):
        first, second = struct.unpack_from(order + "II", data, offset)
        if first >> 16:  # small data element: type and size share the first word
            kind, size = first & 0xFFFF, first >> 16
            if size > 4:
                raise ValueError(f"{path}: small data element of {size} bytes at {offset}")
            yield kind, data[offset + 4 : offset + 4 + size]
            offset += 8
            continue
        start = offset + 8
        if start + second > len(data):
            raise ValueError(
                f"{path}: element at byte {offset} needs {second} bytes, the file ends first"
            )
        yield first, data[start : start + second]
        offset = start + second + (0 if first == _MAT_COMPRESSED else -second % 8)


def _mat_matrix(
    payload: bytes, order: str, path: Path
) -> tuple[str, tuple[tuple[int, ...], list[float]]] | None:
    """Name, dimensions and real values of a numeric miMATRIX, or ``None`` for other classes."""
    parts = list(_mat_elements(payload, 0, order, path))
    if len(parts) < 3:
        return None  # an empty matrix
    (_, flags), (_, dims), (_, name) = parts[:3]
    if len(flags) < 4 or (struct.unpack_from(order + "I", flags)[0] & 0xFF) not in range(6, 16):
        return None
    dimensions = struct.unpack(order + f"{len(dims) // 4}i", dims[: len(dims) // 4 * 4])
    count = 1
    for size in dimensions:
        count *= size
    if count == 0:
        return name.decode("ascii", "replace"), (dimensions, [])
    if len(parts) < 4 or parts[3][0] not in _MAT_NUMBERS:
        raise ValueError(f"{path}: variable {name!r} has no numeric data; expected a real array")
    kind, raw = parts[3]
    code = _MAT_NUMBERS[kind]
    if len(raw) != count * struct.calcsize(code):
        raise ValueError(
            f"{path}: variable {name.decode('ascii', 'replace')!r} of dimensions {dimensions} "
            f"holds {len(raw)} bytes of type {code!r}; expected {count} values"
        )
    values = [float(value) for value in struct.unpack(order + f"{count}{code}", raw)]
    return name.decode("ascii", "replace"), (dimensions, values)
