"""Locating, downloading, verifying and safely opening zip archives under a data root."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import io
import os
import re
import sys
import urllib.error
import urllib.request
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO, Literal, NamedTuple

if sys.platform != "win32":
    import fcntl

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
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-\d+/(?:\d+|\*)$")

DownloadStatus = Literal["downloaded", "resumed", "present"]
ProgressFn = Callable[[str, int, int | None], None]
"""``progress(file name, bytes received so far, total bytes or None)``, called per chunk."""


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


class ArchiveDownload(NamedTuple):
    """What [`download_omniglot`][meta_tasks.download_omniglot] did for one archive.

    Attributes:
        path: Where the archive now is, ``<root>/<file name>``.
        status: ``"downloaded"`` (fetched from its first byte), ``"resumed"`` (an earlier
            partial download was continued) or ``"present"`` (already there; checked, nothing
            fetched).
        size: Size of the archive in bytes.
        sha256: SHA-256 hex digest of the archive.
        verified: Whether that digest matched a known checksum; if not, only the zip's member
            names and CRCs were checked.
    """

    path: Path
    status: DownloadStatus
    size: int
    sha256: str
    verified: bool


def file_sha256(path: Path) -> str:
    """Return the SHA-256 hex digest of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_digest(path: Path, actual: str, expected: str | None) -> None:
    """Refuse a stored archive whose SHA-256 is not the known one."""
    if expected is not None and actual != expected:
        raise ValueError(
            f"checksum mismatch for {path}: expected SHA-256 {expected}, got {actual}; the "
            f"file is corrupted or not the official archive (delete it and download again)"
        )


def fetch_archive(
    root: Path,
    filename: str,
    *,
    base_url: str,
    checksums: Mapping[str, str] | None,
    progress: ProgressFn | None = None,
) -> ArchiveDownload:
    """Make sure ``root/filename`` is there and checked, downloading (or resuming) it if not.

    An archive already present is hashed and its zip directory checked; nothing is fetched.
    """
    return fetch_file(
        root, filename, url=base_url + filename, checksums=checksums, progress=progress
    )


def fetch_file(
    root: Path,
    filename: str,
    *,
    url: str,
    checksums: Mapping[str, str] | None,
    progress: ProgressFn | None = None,
    zip_check: bool = True,
) -> ArchiveDownload:
    """Make sure ``root/filename`` is there and checked, downloading (or resuming) ``url``.

    As ``fetch_archive`` for a file whose URL is not ``<base URL><file name>``; with
    ``zip_check=False`` the file is not a zip (a pickle, a ``.npy``) and only its SHA-256,
    when one is known, is checked.
    """
    path = root / filename
    expected = expected_sha256(root, filename, checksums)
    if path.is_file():
        return _checked_present(path, expected, zip_check=zip_check)
    return _download(url, path, expected, progress, zip_check=zip_check)


def _checked_present(
    path: Path, expected: str | None, *, zip_check: bool = True
) -> ArchiveDownload:
    """Hash (and zip-check) a file that is already in place."""
    actual = file_sha256(path)
    _check_digest(path, actual, expected)
    if zip_check:
        open_zip(path, path, verified=expected is not None).close()
    return ArchiveDownload(path, "present", path.stat().st_size, actual, expected is not None)


@contextlib.contextmanager
def _locked_part(part: Path) -> Iterator[BinaryIO]:
    """Open the partial download ``part`` for appending, holding an exclusive lock on it.

    Two processes fetching the same archive (``torchrun`` ranks, say) then take turns instead
    of appending to one file; the lock is retaken when the locked file is no longer the one at
    ``part`` (the holder renamed or deleted it meanwhile).
    """
    while True:
        handle = part.open("a+b")
        try:
            if sys.platform != "win32":
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                current = os.path.samestat(os.fstat(handle.fileno()), part.stat())
            except FileNotFoundError:
                current = False
            if current:
                yield handle
                return
        finally:
            handle.close()


# ``response`` is what ``urllib.request.urlopen`` returns, which typeshed types as ``Any``.
def _content_start(response: Any) -> int | None:
    """The first byte of a ``206 Partial Content`` body, from its ``Content-Range`` header."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
    return int(match.group(1)) if match else None


def _open_from(url: str, offset: int) -> tuple[Any, int]:
    """Open ``url`` asking for the bytes from ``offset`` on.

    Returns:
        The response and the offset its body really starts at: ``offset`` when the server
        answered ``206`` for that range, otherwise 0 (it sent the whole file, ``200``, or
        could not serve the range, in which case the whole file is requested again).
    """
    headers = {"Range": f"bytes={offset}-"} if offset else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=60)
    except urllib.error.HTTPError as exc:
        if exc.code != HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE or not offset:
            raise
        exc.close()
        return _open_from(url, 0)
    if offset and getattr(response, "status", None) == HTTPStatus.PARTIAL_CONTENT:
        if _content_start(response) == offset:
            return response, offset
        response.close()
        return _open_from(url, 0)
    return response, 0


def _total_size(response: Any, offset: int) -> int | None:
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None and length.isdigit() else None


def _stream(url: str, part: BinaryIO, name: str, progress: ProgressFn | None) -> DownloadStatus:
    """Append ``url``'s bytes to ``part``, continuing what it holds when the server allows."""
    response, offset = _open_from(url, part.seek(0, os.SEEK_END))
    with response:
        if offset == 0:
            part.truncate(0)
        total = _total_size(response, offset)
        received = offset
        while chunk := response.read(_CHUNK):
            part.write(chunk)
            received += len(chunk)
            if progress is not None:
                progress(name, received, total)
    part.flush()
    if total is not None and received != total:  # read(n) returns short data, never raises
        raise OSError(f"the transfer stopped after {received} of {total} bytes")
    return "resumed" if offset else "downloaded"


def _download(
    url: str,
    destination: Path,
    expected: str | None,
    progress: ProgressFn | None = None,
    *,
    zip_check: bool = True,
) -> ArchiveDownload:
    """Fetch ``url`` into ``destination`` through ``.<name>.part``, verify it, then rename it.

    A partial file left by an interrupted download is continued with an HTTP range request.
    The whole file is hashed at the end; a mismatch, a corrupted zip or an unsafe member
    name deletes it.
    """
    root = destination.parent
    root.mkdir(parents=True, exist_ok=True)
    part_path = root / f".{destination.name}.part"
    with _locked_part(part_path) as part:
        if destination.is_file():  # another process finished it while we waited for the lock
            if part.seek(0, os.SEEK_END) == 0:
                part_path.unlink()
            return _checked_present(destination, expected, zip_check=zip_check)
        try:
            status = _stream(url, part, destination.name, progress)
        except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
            raise _download_error(url, destination, part, part_path, exc) from exc
        result = _verify_part(part_path, destination, expected, url, status, zip_check=zip_check)
        if sys.platform == "win32":
            part.close()  # Windows cannot rename an open file (and has no flock to keep)
        os.replace(part_path, destination)
    if expected is None:
        warnings.warn(
            f"no known SHA-256 for {destination.name}: the download from {url} was not "
            f"verified (add its checksum to {root / SUMS_FILE} to verify it)",
            UserWarning,
            stacklevel=4,
        )
    return result


def _download_error(
    url: str, destination: Path, part: BinaryIO, part_path: Path, exc: Exception
) -> OSError:
    """The error of a failed transfer; the bytes received so far stay in ``part_path``."""
    kept = part.seek(0, os.SEEK_END)
    if kept == 0:
        part_path.unlink()
    resume = f" ({kept} bytes kept in {part_path.name}: run again to resume)" if kept else ""
    root, name = destination.parent, destination.name
    return OSError(
        f"could not download {name} from {url} into {root}: {exc}; "
        f"if you are offline, place {name} in {root} yourself{resume}"
    )


def _verify_part(
    part: Path,
    destination: Path,
    expected: str | None,
    url: str,
    status: DownloadStatus,
    *,
    zip_check: bool = True,
) -> ArchiveDownload:
    """Hash (and zip-check) a finished download, deleting it if it fails."""
    try:
        actual = file_sha256(part)
        if expected is not None and actual != expected:
            raise ValueError(
                f"checksum mismatch for {destination.name} downloaded from {url}: expected "
                f"SHA-256 {expected}, got {actual}; the file was discarded"
            )
        if zip_check:
            open_zip(part, destination, verified=expected is not None).close()
    except ValueError:
        part.unlink(missing_ok=True)
        raise
    return ArchiveDownload(destination, status, part.stat().st_size, actual, expected is not None)


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
        _check_digest(path, hashlib.sha256(data).hexdigest(), expected)
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


def open_zip(data: bytes | Path, archive: Path, *, verified: bool) -> zipfile.ZipFile:
    """Open zip ``data`` (the bytes of ``archive``, or a file) after checking every member name.

    When no checksum vouched for the bytes (``verified=False``) every member's CRC is checked
    too, so a corrupted archive fails here rather than halfway through training.
    """
    try:
        opened = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"corrupted or truncated archive {archive}: {exc}") from exc
    try:
        _check_members(opened, archive, verified=verified)
    except ValueError:
        opened.close()
        raise
    return opened


def _check_members(opened: zipfile.ZipFile, archive: Path, *, verified: bool) -> None:
    for name in opened.namelist():
        check_member_name(name, archive)
    if not verified:
        try:
            bad = opened.testzip()
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as exc:
            raise ValueError(f"corrupted or truncated archive {archive}: {exc}") from exc
        if bad is not None:
            raise ValueError(f"corrupted archive {archive}: member {bad!r} fails its CRC check")


def read_member(opened: zipfile.ZipFile, name: str, archive: Path) -> bytes:
    """Read one member, turning decompression failures into a clear error."""
    try:
        return opened.read(name)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"corrupted archive {archive}: cannot read {name!r}: {exc}") from exc
