"""What the few-shot vision readers share: splits, lazy imports, fetching, pickles and zips."""

from __future__ import annotations

import io
import os
import pickle
import shutil
import urllib.parse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import torch
from torch import Tensor

from ._archives import (
    check_member_name,
    expected_sha256,
    fetch_file,
    file_sha256,
    open_zip,
    read_member,
)

SPLITS: tuple[str, ...] = ("train", "validation", "test")
"""The splits of the benchmark data sets, as learn2learn names them (its ``mode``)."""

# What a pickle of these data sets may hold: numpy arrays and scalars, and plain containers.
# Anything else (a function, a class of another module) is refused instead of called.
_PICKLE_GLOBALS: frozenset[tuple[str, str]] = frozenset(
    (module, name)
    for core in ("numpy.core", "numpy._core")
    for module, name in (
        (f"{core}.multiarray", "_reconstruct"),
        (f"{core}.multiarray", "scalar"),
        (f"{core}.numeric", "_frombuffer"),
    )
) | {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"),
    ("__builtin__", "object"),
    ("builtins", "object"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),  # how protocol 2 stores bytes
}


def require_numpy(what: str) -> Any:
    """Import numpy, or raise an ``ImportError`` naming the extra that installs it."""
    try:
        import numpy
    except ImportError as exc:
        raise ImportError(f"{what} needs numpy: pip install meta-tasks[images]") from exc
    return numpy


def require_pillow(what: str) -> Any:
    """Import ``PIL.Image``, or raise an ``ImportError`` naming the extra that installs it."""
    try:
        from PIL import Image
    except ImportError as exc:
        raise ImportError(f"{what} needs Pillow: pip install meta-tasks[images]") from exc
    return Image


def transform_item(
    image: Any,
    label: Any,
    transform: Callable[[Any], Any] | None,
    target_transform: Callable[[Any], Any] | None,
) -> tuple[Any, Any]:
    """Return ``(image, label)``, each passed through its transform when one is given."""
    if transform is not None:
        image = transform(image)
    if target_transform is not None:
        label = target_transform(label)
    return image, label


def check_split(split: object) -> str:
    """Return ``split`` after checking it is one of `SPLITS`."""
    if not isinstance(split, str) or split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, got {split!r}")
    return split


def short_split(split: str) -> str:
    """The split as the files name it: ``"val"`` for ``"validation"``."""
    return "val" if split == "validation" else split


def url_join(base_url: str, name: str) -> str:
    """``base_url`` followed by ``name`` quoted for a URL (spaces become ``%20``)."""
    return base_url + urllib.parse.quote(name)


def ensure_file(
    root: Path,
    filename: str,
    *,
    url: str,
    download: bool,
    checksums: Mapping[str, str] | None,
    what: str,
    zip_check: bool = False,
) -> Path:
    """Return ``root/filename``, downloading it from ``url`` first when missing and asked to.

    A file already there is checked against its SHA-256 when one is known (``checksums``, then
    ``root/SHA256SUMS``); a download goes through ``.<name>.part`` and is renamed only once
    complete and verified.

    Raises:
        FileNotFoundError: If the file is missing and ``download`` is false.
        ValueError: If the file fails its known checksum.
    """
    path = root / filename
    if not path.is_file():
        if not download:
            raise FileNotFoundError(
                f"{path} not found; expected {what}; place it there, or pass download=True to "
                f"fetch it from {url}"
            )
        fetch_file(root, filename, url=url, checksums=checksums, zip_check=zip_check)
        return path
    expected = expected_sha256(root, filename, checksums)
    if expected is not None:
        actual = file_sha256(path)
        if actual != expected:
            raise ValueError(
                f"checksum mismatch for {path}: expected SHA-256 {expected}, got {actual}; the "
                f"file is corrupted or not the published one (delete it and download again)"
            )
    return path


class _DataUnpickler(pickle.Unpickler):
    """An unpickler that builds numpy arrays and plain containers, and nothing else."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _PICKLE_GLOBALS:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: expected only numpy arrays, numbers, "
                f"strings, lists and dicts"
            )
        if module.startswith("numpy.core.") and hasattr(require_numpy("unpickling"), "_core"):
            module = "numpy._core." + module.removeprefix("numpy.core.")  # numpy 2's name
        return super().find_class(module, name)


def load_pickle(path: Path, *, encoding: str = "ASCII") -> Any:
    """Unpickle ``path`` allowing only numpy arrays and plain containers.

    Args:
        path: The pickle file.
        encoding: How Python 2 ``str`` objects are decoded (``"latin1"`` for Python 2 pickles
            of numpy arrays).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not a readable pickle of that kind.
    """
    require_numpy(f"reading {path.name}")
    with path.open("rb") as handle:
        try:
            return _DataUnpickler(handle, encoding=encoding).load()
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, IndexError) as exc:
            raise ValueError(f"cannot read {path}: not a valid pickle of arrays ({exc})") from exc


def require_keys(value: object, keys: tuple[str, ...], path: Path) -> Mapping[str, Any]:
    """Return ``value`` after checking it is a dict holding every one of ``keys``."""
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{path} holds a {type(value).__name__}; expected a dict with keys {list(keys)}"
        )
    missing = [key for key in keys if key not in value]
    if missing:
        raise ValueError(
            f"{path} has no key {missing[0]!r}; expected a dict with keys {list(keys)}, got "
            f"{sorted(map(str, value))}"
        )
    return value


def check_image_array(array: Any, path: Path, what: str) -> Any:
    """Check ``array`` is a numpy ``uint8`` array ``(items, height, width, 3)``."""
    numpy = require_numpy(f"reading {path.name}")
    if not isinstance(array, numpy.ndarray) or array.ndim != 4 or array.shape[3] != 3:
        shape = getattr(array, "shape", None)
        raise ValueError(
            f"{path}: {what} must be a numpy array (items, height, width, 3), got "
            f"{type(array).__name__} of shape {shape}"
        )
    if array.dtype != numpy.uint8:
        raise ValueError(f"{path}: {what} must hold uint8 pixels, got dtype {array.dtype}")
    return array


def hwc_to_chw(pixels: Any) -> Tensor:
    """A numpy uint8 image ``(height, width, channels)`` as a tensor ``(channels, height, width)``.

    The pixels are copied, so the source may be read-only.
    """
    return torch.from_numpy(require_numpy("images").array(pixels)).permute(2, 0, 1)


def decode_rgb(data: bytes | IO[bytes], where: str) -> Tensor:
    """Decode an image file (bytes or an open file) to a uint8 tensor ``(3, height, width)``."""
    image_module = require_pillow("decoding images")
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with image_module.open(source) as image:
            rgb = image.convert("RGB")
    except (OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"cannot decode image {where}: {exc}") from exc
    width, height = rgb.size
    pixels = torch.frombuffer(bytearray(rgb.tobytes()), dtype=torch.uint8)
    return pixels.view(height, width, 3).permute(2, 0, 1)


def extract_tree(archive: Path, prefix: str, destination: Path) -> None:
    """Extract the members of ``archive`` under ``prefix`` into ``destination`` atomically.

    The files go into ``.<destination name>.partial`` beside ``destination``, which is renamed
    at the end, so an interrupted extraction leaves no half-filled ``destination``. Member
    names are checked (no absolute paths or ``..``). The archive is deleted afterwards.

    Raises:
        ValueError: If the archive is corrupted, holds an unsafe member name or nothing under
            ``prefix``.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    partial = destination.parent / f".{destination.name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        written = 0
        with open_zip(archive, archive, verified=True) as opened:
            for name in opened.namelist():
                check_member_name(name, archive)
                if name.endswith("/") or not name.startswith(prefix):
                    continue
                target = partial.joinpath(*Path(name[len(prefix) :]).parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(read_member(opened, name, archive))
                written += 1
        if not written:
            raise ValueError(f"{archive} holds no files under {prefix!r}; expected the data set")
        os.replace(partial, destination)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    archive.unlink()


def extract_files(archive: Path, wanted: Mapping[str, Path]) -> None:
    """Extract the members whose base name is a key of ``wanted`` to the path it maps to.

    Each file is written to ``.<name>.part`` beside its target and renamed once complete. The
    archive is deleted afterwards.

    Raises:
        ValueError: If the archive is corrupted, holds an unsafe member name, or lacks one of
            the wanted files.
    """
    with open_zip(archive, archive, verified=True) as opened:
        members = {}
        for name in opened.namelist():
            member = check_member_name(name, archive)
            if member.name in wanted and not name.endswith("/"):
                members[member.name] = name
        missing = sorted(set(wanted) - set(members))
        if missing:
            raise ValueError(f"{archive} has no member {missing[0]!r}; expected {sorted(wanted)}")
        for base, name in members.items():
            target = wanted[base]
            part = target.parent / f".{target.name}.part"
            try:
                part.write_bytes(read_member(opened, name, archive))
                os.replace(part, target)
            finally:
                part.unlink(missing_ok=True)
    archive.unlink()
