"""The Omniglot dataset and Lake's 20-way one-shot runs, read straight from the zip archives."""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

import torch
from torch import Tensor

from ._archives import (
    OMNIGLOT_BASE_URL,
    ArchiveDownload,
    ProgressFn,
    expected_sha256,
    fetch_archive,
    load_archive,
    open_zip,
    read_member,
)
from ._task import Task, check_index, check_int

OMNIGLOT_SUBSETS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "background": ("images_background.zip",),
        "evaluation": ("images_evaluation.zip",),
        "background_small1": ("images_background_small1.zip",),
        "background_small2": ("images_background_small2.zip",),
        "background_small": ("images_background_small1.zip", "images_background_small2.zip"),
    }
)
"""Every ``subset`` that [`Omniglot`][meta_tasks.Omniglot] accepts, mapped to the zip archives
it reads (read-only)."""

OMNIGLOT_RUNS_ARCHIVE = "all_runs.zip"
"""The archive of Lake's one-shot runs, read by
[`OmniglotOneShotRuns`][meta_tasks.OmniglotOneShotRuns]."""

OMNIGLOT_RUNS_WAYS = 20
"""Classes per task in Lake's one-shot runs: each of the 20 runs is a 20-way one-shot task."""

OMNIGLOT_IMAGE_SIZE = 28
"""Default side length of the square Omniglot images (the drawings are 105 x 105; few-shot
work since Vinyals et al. 2016, the MAML paper included, resizes them to 28 x 28)."""

Transform = Callable[[Tensor], Tensor]


def _require_pillow() -> Any:
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(
            "decoding Omniglot images needs Pillow: pip install meta-tasks[images]"
        ) from exc
    return Image


def _check_transform(transform: object) -> None:
    if transform is not None and not callable(transform):
        raise TypeError(f"transform must be callable or None, got {type(transform).__name__}")


def _subset_archives(subset: object) -> tuple[str, ...]:
    """The archives of an Omniglot ``subset``, after checking it is one of `OMNIGLOT_SUBSETS`."""
    if not isinstance(subset, str) or subset not in OMNIGLOT_SUBSETS:
        raise ValueError(f"subset must be one of {sorted(OMNIGLOT_SUBSETS)}, got {subset!r}")
    return OMNIGLOT_SUBSETS[subset]


def _natural_key(text: str) -> tuple[object, ...]:
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text))


class _Archives:
    """Verified archive bytes plus per-process ``ZipFile`` handles (fork- and pickle-safe)."""

    def __init__(
        self,
        root: Path,
        filenames: tuple[str, ...],
        *,
        download: bool,
        base_url: str,
        checksums: Mapping[str, str] | None,
    ) -> None:
        self.paths = [root / name for name in filenames]
        self.data: list[bytes] = []
        self.verified: list[bool] = []
        for name in filenames:
            self.data.append(
                load_archive(root, name, download=download, base_url=base_url, checksums=checksums)
            )
            self.verified.append(expected_sha256(root, name, checksums) is not None)
        self._handles: list[zipfile.ZipFile] = []
        self._pid = -1
        self.handles()

    def handles(self) -> list[zipfile.ZipFile]:
        if self._pid != os.getpid():
            self._handles = [
                open_zip(data, path, verified=verified)
                for data, path, verified in zip(self.data, self.paths, self.verified, strict=True)
            ]
            self._pid = os.getpid()
        return self._handles

    def read(self, archive: int, member: str) -> bytes:
        return read_member(self.handles()[archive], member, self.paths[archive])

    def __getstate__(self) -> dict[str, object]:
        state = dict(self.__dict__)
        state["_handles"] = []
        state["_pid"] = -1
        return state


def _decode(image_module: Any, data: bytes, image_size: int, where: str) -> Tensor:
    """PNG bytes -> float32 tensor ``(1, s, s)`` with strokes 1.0 on a 0.0 background."""
    try:
        with image_module.open(io.BytesIO(data)) as image:
            gray = image.convert("L")
    except (OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"cannot decode image {where}: {exc}") from exc
    if gray.size != (image_size, image_size):
        resampling = getattr(image_module, "Resampling", image_module)  # Pillow < 9.1
        gray = gray.resize((image_size, image_size), resampling.BILINEAR)
    pixels = torch.frombuffer(bytearray(gray.tobytes()), dtype=torch.uint8)
    return 1.0 - pixels.view(1, image_size, image_size).to(torch.float32) / 255.0


class _OmniglotImages:
    """The checked options, verified archives and image decoding of both Omniglot readers.

    Base of [`Omniglot`][meta_tasks.Omniglot] and
    [`OmniglotOneShotRuns`][meta_tasks.OmniglotOneShotRuns].
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        filenames: tuple[str, ...],
        *,
        image_size: int,
        download: bool,
        transform: Transform | None,
        base_url: str,
        checksums: Mapping[str, str] | None,
    ) -> None:
        self.image_size = check_int("image_size", image_size)
        _check_transform(transform)
        _require_pillow()
        self.root = Path(root)
        self.transform = transform
        self._archives = _Archives(
            self.root, filenames, download=download, base_url=base_url, checksums=checksums
        )

    def _decode_member(self, archive: int, member: str) -> Tensor:
        """Decode ``member`` of archive number ``archive`` (before ``transform``)."""
        return _decode(
            _require_pillow(),
            self._archives.read(archive, member),
            self.image_size,
            f"{member!r} in {self._archives.paths[archive]}",
        )


class Omniglot(_OmniglotImages):
    """The Omniglot handwritten-characters dataset (Lake et al., 2015), read from its zips.

    Each character (an ``(alphabet, character)`` pair) is a class. Items are
    ``(image, label)`` with ``image`` a float32 tensor of shape ``(1, image_size, image_size)``
    holding strokes as 1.0 on a 0.0 background (the PNGs are inverted), resized with Pillow's
    bilinear filter (which averages over the source area when shrinking). Classes are
    numbered in sorted ``(alphabet, character)`` order and items are grouped by class.

    The archives are read directly (nothing is extracted) and checked before use: the SHA-256
    when one is known (``checksums`` argument, then ``<root>/SHA256SUMS``, then the built-in
    table for the official small archives and ``all_runs.zip``), otherwise every member's CRC;
    member paths that are absolute or contain ``..`` are refused. Labels and class names come
    from the zip directory, so `labels` and [`num_classes`][meta_tasks.Omniglot.num_classes] need no
    decoding. The verified archive bytes stay in memory (a few MB; about 10 MB for ``background``),
    which makes the dataset safe to use from forked ``DataLoader`` workers and picklable.

    ``subset="background_small"`` is the union of ``background_small1`` and
    ``background_small2``: 242 characters, as Greek and Latin appear in both. Each shared
    character becomes one class whose drawings are the union of both archives' drawings by
    file name, the copy in ``images_background_small1.zip`` winning (in the official
    archives the two copies are byte-identical, so each class keeps its 20 drawings).

    Args:
        root: Directory holding the archives (``images_background.zip``,
            ``images_evaluation.zip``, ``images_background_small1.zip``,
            ``images_background_small2.zip``), and optionally ``SHA256SUMS``.
        subset: One of ``"background"``, ``"evaluation"``, ``"background_small1"``,
            ``"background_small2"``, ``"background_small"``.
        image_size: Side of the returned square images (105 keeps the original size).
        download: Fetch missing archives from ``base_url`` into ``root`` as
            [`download_omniglot`][meta_tasks.download_omniglot] does (``.<name>.part`` file,
            resumed if an earlier download broke off, verified, then renamed). A download whose
            checksum is unknown is used with a ``UserWarning`` saying it was not verified.
        transform: Optional callable applied to each image tensor on access (after caching).
        cache: Keep decoded images in memory, so each image is decoded at most once.
        base_url: Directory URL the archives are downloaded from.
        checksums: Extra ``{file name: sha256 hex}`` entries, taking precedence over
            ``SHA256SUMS`` and the built-in table.

    Attributes:
        labels: Class label of every item (list of int), without decoding any image.
        classes: ``(alphabet, character)`` of every class, indexed by label.
        num_classes: Number of classes.

    Raises:
        ValueError: If ``subset`` is unknown, an archive is corrupted or truncated, fails its
            checksum, holds an unsafe member path, or holds no images.
        FileNotFoundError: If an archive is missing and ``download`` is false.
        OSError: If a download fails (the message names the file, URL and directory).
        ImportError: If Pillow is not installed.

    Examples:
        >>> dataset = Omniglot(root, "background_small1")
        >>> len(dataset), dataset.num_classes, dataset.classes[0]
        (2720, 136, ('Balinese', 'character01'))
        >>> image, label = dataset[0]
        >>> tuple(image.shape), label
        ((1, 28, 28), 0)
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        subset: str,
        *,
        image_size: int = OMNIGLOT_IMAGE_SIZE,
        download: bool = False,
        transform: Transform | None = None,
        cache: bool = False,
        base_url: str = OMNIGLOT_BASE_URL,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            root,
            _subset_archives(subset),
            image_size=image_size,
            download=download,
            transform=transform,
            base_url=base_url,
            checksums=checksums,
        )
        self.subset = subset
        self.cache = bool(cache)
        drawings: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
        for archive_index, handle in enumerate(self._archives.handles()):
            found = 0
            for name in handle.namelist():
                parts = name.split("/")
                if not name.lower().endswith(".png") or parts[0] == "__MACOSX":
                    continue
                if len(parts) < 3:
                    raise ValueError(
                        f"unexpected member {name!r} in {self._archives.paths[archive_index]}: "
                        f"expected <alphabet>/<character>/<drawing>.png under a top folder"
                    )
                key = (parts[-3], parts[-2])
                drawings.setdefault(key, {}).setdefault(parts[-1], (archive_index, name))
                found += 1
            if found == 0:
                raise ValueError(
                    f"archive {self._archives.paths[archive_index]} holds no PNG images; "
                    f"expected <alphabet>/<character>/<drawing>.png members"
                )
        self.classes: list[tuple[str, str]] = sorted(
            drawings, key=lambda key: (_natural_key(key[0]), _natural_key(key[1]))
        )
        self.labels: list[int] = []
        self._items: list[tuple[int, str]] = []
        for label, key in enumerate(self.classes):
            for drawing in sorted(drawings[key], key=_natural_key):
                self._items.append(drawings[key][drawing])
                self.labels.append(label)
        self._decoded: dict[int, Tensor] = {}

    @property
    def num_classes(self) -> int:
        """Number of character classes."""
        return len(self.classes)

    @property
    def alphabets(self) -> list[str]:
        """Sorted names of the alphabets present."""
        return sorted({alphabet for alphabet, _ in self.classes}, key=_natural_key)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return (
            f"Omniglot(root={str(self.root)!r}, subset={self.subset!r}, "
            f"image_size={self.image_size}, items={len(self)}, classes={self.num_classes})"
        )

    def image(self, index: int) -> Tensor:
        """Return the decoded image of item ``index`` (before ``transform``).

        Args:
            index: Item index (negative counts from the end).

        Returns:
            Float32 tensor ``(1, image_size, image_size)``, strokes 1.0 on 0.0. With
            ``cache=True`` the cached tensor itself is returned: do not modify it in place.

        Raises:
            TypeError: If ``index`` is not an int.
            IndexError: If ``index`` is out of range.
        """
        index = check_index(
            index, len(self._items), "index {index} is out of range for Omniglot with {size} items"
        )
        if self.cache:
            cached = self._decoded.get(index)
            if cached is not None:
                return cached
        image = self._decode_member(*self._items[index])
        if self.cache:
            self._decoded[index] = image
        return image

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        """Return ``(image, label)`` for item ``index``.

        Args:
            index: Item index (negative counts from the end).

        Returns:
            The (transformed) image tensor and its class label.

        Raises:
            IndexError: If ``index`` is out of range.
        """
        image = self.image(index)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.labels[index]

    def member(self, index: int) -> str:
        """Return the archive member path of item ``index`` (e.g. to identify the drawer).

        Args:
            index: Item index.

        Returns:
            The member path inside its zip archive.
        """
        return self._items[index][1]


_RUN_MEMBER = re.compile(r"^(run\d+)/(training|test)/([^/]+\.png)$")


class OmniglotOneShotRuns(_OmniglotImages):
    """Lake's 20-way within-alphabet one-shot classification benchmark (``all_runs.zip``).

    Item ``r`` is run ``r`` (runs in ``run01 .. run20`` order) as a [`Task`][meta_tasks.Task]: the
    20 support images are ``runNN/training/class01.png .. class20.png`` with labels ``0 .. 19`` in
    that order, and the 20 query images are ``runNN/test/item01.png .. item20.png``, each
    labelled with the support class that ``runNN/class_labels.txt`` names for it. Images are
    processed as in [`Omniglot`][meta_tasks.Omniglot] (float32 ``(1, s, s)``, strokes 1.0 on 0.0).

    Args:
        root: Directory holding ``all_runs.zip`` (and optionally ``SHA256SUMS``).
        image_size: Side of the returned square images.
        download: Fetch ``all_runs.zip`` from ``base_url`` if it is missing.
        transform: Optional callable applied to each image tensor.
        base_url: Directory URL the archive is downloaded from.
        checksums: Extra ``{file name: sha256 hex}`` entries (see
            [`Omniglot`][meta_tasks.Omniglot]).

    Attributes:
        run_names: ``["run01", ..., "run20"]``.

    Raises:
        ValueError: If the archive is corrupted, fails its checksum, holds an unsafe member
            path, or a run's ``class_labels.txt`` does not label each query image exactly once
            with an existing training image.
        FileNotFoundError: If the archive is missing and ``download`` is false.
        ImportError: If Pillow is not installed.

    Examples:
        >>> runs = OmniglotOneShotRuns(root)
        >>> task = runs[0]
        >>> len(runs), tuple(task.support_x.shape), tuple(task.query_y.shape)
        (20, (20, 1, 28, 28), (20,))
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        image_size: int = OMNIGLOT_IMAGE_SIZE,
        download: bool = False,
        transform: Transform | None = None,
        base_url: str = OMNIGLOT_BASE_URL,
        checksums: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            root,
            (OMNIGLOT_RUNS_ARCHIVE,),
            image_size=image_size,
            download=download,
            transform=transform,
            base_url=base_url,
            checksums=checksums,
        )
        path = self._archives.paths[0]
        handle = self._archives.handles()[0]
        members: dict[str, dict[str, list[str]]] = {}
        for name in handle.namelist():
            match = _RUN_MEMBER.match(name)
            if match:
                run, split, _ = match.groups()
                members.setdefault(run, {"training": [], "test": []})[split].append(name)
        if not members:
            raise ValueError(f"archive {path} holds no runNN/training or runNN/test images")
        self.run_names: list[str] = sorted(members, key=_natural_key)
        self._runs: list[tuple[list[str], list[str], list[int]]] = []
        for run in self.run_names:
            training = sorted(members[run]["training"], key=_natural_key)
            test = sorted(members[run]["test"], key=_natural_key)
            labels_name = f"{run}/class_labels.txt"
            try:
                text = read_member(handle, labels_name, path).decode("utf-8")
            except KeyError as exc:
                raise ValueError(f"archive {path} has no {labels_name}") from exc
            answer: dict[str, str] = {}
            for number, line in enumerate(text.splitlines(), start=1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) != 2:
                    raise ValueError(
                        f"{labels_name} in {path}, line {number}: expected '<test image> "
                        f"<training image>', got {line!r}"
                    )
                if fields[0] in answer:
                    raise ValueError(f"{labels_name} in {path} labels {fields[0]} twice")
                answer[fields[0]] = fields[1]
            if sorted(answer) != sorted(test):
                raise ValueError(
                    f"{labels_name} in {path} labels {len(answer)} images but {run}/test holds "
                    f"{len(test)}; expected each test image labelled exactly once"
                )
            position = {name: label for label, name in enumerate(training)}
            unknown = sorted(set(answer.values()) - set(position))
            if unknown:
                raise ValueError(
                    f"{labels_name} in {path} refers to training images that are not in the "
                    f"archive: {unknown[:5]}"
                )
            self._runs.append((training, test, [position[answer[name]] for name in test]))

    def __len__(self) -> int:
        return len(self._runs)

    def __repr__(self) -> str:
        return f"OmniglotOneShotRuns(root={str(self.root)!r}, runs={len(self)})"

    def _load(self, names: list[str]) -> Tensor:
        images = []
        for name in names:
            image = self._decode_member(0, name)
            images.append(self.transform(image) if self.transform is not None else image)
        return torch.stack(images)

    def __getitem__(self, index: int) -> Task:
        """Return run ``index`` as a 20-way one-shot [`Task`][meta_tasks.Task].

        Args:
            index: Run index (negative counts from the end).

        Returns:
            A task with ``support_x`` ``(20, 1, s, s)``, ``support_y`` ``0 .. 19`` (int64),
            ``query_x`` ``(20, 1, s, s)`` and ``query_y`` the correct support label of each
            query image (int64).

        Raises:
            TypeError: If ``index`` is not an int.
            IndexError: If ``index`` is out of range.
        """
        index = check_index(
            index, len(self._runs), "run index {index} is out of range for {size} runs"
        )
        training, test, query_labels = self._runs[index]
        return Task(
            self._load(training),
            torch.arange(len(training), dtype=torch.int64),
            self._load(test),
            torch.tensor(query_labels, dtype=torch.int64),
        )


def download_omniglot(
    root: str | os.PathLike[str],
    *,
    subsets: str | Sequence[str] = "background_small",
    include_runs: bool = True,
    base_url: str = OMNIGLOT_BASE_URL,
    checksums: Mapping[str, str] | None = None,
    progress: ProgressFn | None = None,
) -> list[ArchiveDownload]:
    """Download the Omniglot archives that [`Omniglot`][meta_tasks.Omniglot] reads into ``root``.

    Each archive goes to ``<root>/.<name>.part`` first and is renamed into place only after it
    passed every check: its SHA-256 (from ``checksums``, then ``<root>/SHA256SUMS``, then the
    built-in table of the official small archives and ``all_runs.zip``) and its zip directory
    (every member name relative and free of ``..``; every member's CRC as well when no checksum
    is known, and then a ``UserWarning`` says the download was not verified). A failed check
    deletes the file. A transfer that breaks off keeps its ``.part`` file, and the next call
    continues it with an HTTP ``Range`` request (starting over when the server sends the whole
    file instead). Archives already in ``root`` are checked the same way and not fetched.
    Concurrent calls on one ``root`` (several ranks, say) take turns on each archive.

    Args:
        root: Directory to download into (created if missing).
        subsets: One subset name or several, as [`Omniglot`][meta_tasks.Omniglot] accepts
            them (see `OMNIGLOT_SUBSETS`); their archives are fetched once each.
        include_runs: Also fetch ``all_runs.zip``, Lake's 20 one-shot runs read by
            [`OmniglotOneShotRuns`][meta_tasks.OmniglotOneShotRuns].
        base_url: Directory URL the archives are downloaded from (a mirror, or a local
            ``file://`` folder).
        checksums: Extra ``{file name: sha256 hex}`` entries, taking precedence over
            ``SHA256SUMS`` and the built-in table.
        progress: Called as ``progress(file name, bytes received, total bytes or None)``
            after each chunk of a transfer.

    Returns:
        One [`ArchiveDownload`][meta_tasks.ArchiveDownload] per archive, in the order fetched,
        saying whether it was downloaded, resumed or already present, with its size and digest.

    Raises:
        ValueError: If a subset is unknown, or an archive fails its checksum (the message names
            the file, the expected and the actual digest), is not a readable zip, or holds a
            member path that would escape ``root``.
        TypeError: If ``include_runs`` is not a bool or ``progress`` is not callable.
        NotADirectoryError: If ``root`` exists and is not a directory.
        OSError: If a transfer fails (the message names the file, URL and directory, and how
            many bytes were kept for resuming).

    Examples:
        >>> results = download_omniglot(root)  # the archives are there already: nothing fetched
        >>> [(result.path.name, result.status, result.verified) for result in results]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('images_background_small1.zip', 'present', True),
         ('images_background_small2.zip', 'present', True), ('all_runs.zip', 'present', True)]
    """
    names = _download_names(subsets, include_runs)
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be callable or None, got {type(progress).__name__}")
    folder = Path(root)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"root {str(folder)!r} exists and is not a directory")
    results = []
    for name in names:  # a plain loop keeps the unverified-download warning's stacklevel right
        results.append(
            fetch_archive(folder, name, base_url=base_url, checksums=checksums, progress=progress)
        )
    return results


def _download_names(subsets: str | Sequence[str], include_runs: bool) -> list[str]:
    """The archive names of ``subsets`` (each once, in order), then the runs' if asked for."""
    if not isinstance(include_runs, bool):
        raise TypeError(f"include_runs must be a bool, got {type(include_runs).__name__}")
    chosen = (subsets,) if isinstance(subsets, str) else tuple(subsets)
    names = [name for subset in chosen for name in _subset_archives(subset)]
    if include_runs:
        names.append(OMNIGLOT_RUNS_ARCHIVE)
    return list(dict.fromkeys(names))
