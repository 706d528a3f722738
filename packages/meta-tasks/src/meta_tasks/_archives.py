"""Locating, downloading, verifying and safely opening zip archives under a data root."""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

OMNIGLOT_BASE_URL = "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/"
"""Directory URL of the official Omniglot archives (the ``python/`` folder of Lake's repo)."""

KNOWN_SHA256: Mapping[str, str] = {
    "all_runs.zip": "437c1eeab0af8484112e1b4cc0f3d541ec727f7c47b9b202da738af9dfd6c325",
    "images_background_small1.zip": (
        "f38eb80f801274ac2b4dff5b24289016bfaba4a7d5bb50deebf27104ad6cb8a4"
    ),
    "images_background_small2.zip": (
        "3ccaa407515a8778e5d0861875af38b17e418f301ad5bb3b5a6b65d901a41c7f"
    ),
}
"""SHA-256 of the official archives this library knows. ``images_background.zip`` and
``images_evaluation.zip`` are not listed: their checksum has to come from ``<root>/SHA256SUMS``
or the ``checksums`` argument, otherwise they are used (or downloaded) unverified."""

SUMS_FILE = "SHA256SUMS"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_CHUNK = 1 << 20


def read_checksum_file(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum``-style file (``<hex digest>  <file name>`` per line).

    Args:
        path: The file to read.

    Returns:
        Lower-case hex digest by file name.

    Raises:
        ValueError: If a non-blank line is not ``<64 hex digits> <name>``.
    """
    sums: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not _HEX64.match(parts[0]):
            raise ValueError(
                f"{path}, line {number}: expected '<64 hex digits>  <file name>', got {line!r}"
            )
        sums[parts[1].strip().lstrip("*")] = parts[0].lower()
    return sums


def expected_sha256(
    root: Path, filename: str, checksums: Mapping[str, str] | None = None
) -> str | None:
    """Return the known SHA-256 of ``filename``, or ``None`` when none is known.

    Looked up in ``checksums``, then ``root/SHA256SUMS``, then the built-in table.
    """
    if checksums is not None and filename in checksums:
        value = checksums[filename]
        if not isinstance(value, str) or not _HEX64.match(value):
            raise ValueError(
                f"checksums[{filename!r}] must be a SHA-256 hex digest (64 hex digits), got "
                f"{value!r}"
            )
        return value.lower()
    sums_path = root / SUMS_FILE
    if sums_path.is_file():
        listed = read_checksum_file(sums_path)
        if filename in listed:
            return listed[filename]
    return KNOWN_SHA256.get(filename)


def _download(url: str, destination: Path, expected: str | None) -> None:
    """Stream ``url`` to a temp file next to ``destination``, verify it, then rename it."""
    root = destination.parent
    root.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=root, prefix=f".{destination.name}.", suffix=".part")
    temp_path = Path(temp_name)
    digest = hashlib.sha256()
    try:
        with os.fdopen(handle, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=60) as response:
                    while chunk := response.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
            except (urllib.error.URLError, OSError) as exc:
                raise OSError(
                    f"could not download {destination.name} from {url} into {root}: {exc}; "
                    f"if you are offline, place {destination.name} in {root} yourself"
                ) from exc
        actual = digest.hexdigest()
        if expected is not None and actual != expected:
            raise ValueError(
                f"checksum mismatch for {destination.name} downloaded from {url}: expected "
                f"SHA-256 {expected}, got {actual}; the file was discarded"
            )
        os.replace(temp_path, destination)
    finally:
        temp_path.unlink(missing_ok=True)
    if expected is None:
        warnings.warn(
            f"no known SHA-256 for {destination.name}: the download from {url} was not "
            f"verified (add its checksum to {root / SUMS_FILE} to verify it)",
            UserWarning,
            stacklevel=4,
        )


def load_archive(
    root: Path,
    filename: str,
    *,
    download: bool,
    base_url: str,
    checksums: Mapping[str, str] | None,
) -> bytes:
    """Return the verified bytes of ``root/filename``, downloading it first if asked to.

    The checksum is checked on the very bytes that are returned (and later opened), so a file
    replaced after the check cannot slip through.
    """
    path = root / filename
    expected = expected_sha256(root, filename, checksums)
    if not path.is_file():
        if not download:
            raise FileNotFoundError(
                f"{filename} not found in {root}; place it there, or pass download=True to "
                f"fetch it from {base_url}{filename}"
            )
        _download(base_url + filename, path, expected)
    data = path.read_bytes()
    if expected is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected:
            raise ValueError(
                f"checksum mismatch for {path}: expected SHA-256 {expected}, got {actual}; the "
                f"file is corrupted or not the official archive (delete it and download again)"
            )
    return data


def check_member_name(name: str, archive: Path) -> PurePosixPath:
    """Refuse absolute paths, drive letters, backslashes and ``..`` (zip-slip)."""
    parts = PurePosixPath(name).parts
    if (
        name.startswith(("/", "\\"))
        or "\\" in name
        or re.match(r"^[A-Za-z]:", name)
        or ".." in parts
        or "\x00" in name
    ):
        raise ValueError(
            f"refusing archive {archive}: member {name!r} has an absolute path or a '..' "
            f"component (zip-slip); expected relative paths inside the archive"
        )
    return PurePosixPath(name)


def open_zip(data: bytes, archive: Path, *, verified: bool) -> zipfile.ZipFile:
    """Open zip ``data`` (read from ``archive``) after checking every member name.

    When no checksum vouched for the bytes (``verified=False``) every member's CRC is checked
    too, so a corrupted archive fails here rather than halfway through training.
    """
    try:
        opened = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ValueError(f"corrupted or truncated archive {archive}: {exc}") from exc
    for name in opened.namelist():
        check_member_name(name, archive)
    if not verified:
        try:
            bad = opened.testzip()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ValueError(f"corrupted or truncated archive {archive}: {exc}") from exc
        if bad is not None:
            raise ValueError(f"corrupted archive {archive}: member {bad!r} fails its CRC check")
    return opened


def read_member(opened: zipfile.ZipFile, name: str, archive: Path) -> bytes:
    """Read one member, turning decompression failures into a clear error."""
    try:
        return opened.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"corrupted archive {archive}: cannot read {name!r}: {exc}") from exc
