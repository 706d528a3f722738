"""Atomic file writes: a temp file in the target's directory, then ``os.replace``."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

PathLike = str | os.PathLike[str]


def _file_mode(destination: Path) -> int:
    """Keep an existing file's permissions; new files get ``0o666`` minus the umask."""
    try:
        return destination.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _temp_file_beside(destination: Path) -> tuple[int, Path]:
    """Create the parent directory if missing and an empty temp file in it: ``(fd, path)``."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent
    )
    return handle, Path(temp_name)


def check_writable(path: PathLike) -> Path:
    """Make sure `atomic_write` can write ``path`` now, before any costly work is done.

    Creates the parent directory if missing, then creates and removes a temp file there
    (the only reliable test: ``os.access`` ignores ACLs, read-only mounts and root).

    Args:
        path: The file that will be written later.

    Returns:
        The destination as a `pathlib.Path`.

    Raises:
        IsADirectoryError: If ``path`` is an existing directory.
        OSError: If the directory cannot be created or written (e.g. ``PermissionError``,
            or ``FileExistsError``/``NotADirectoryError`` when a parent is a file).
    """
    destination = Path(path)
    if destination.is_dir():
        raise IsADirectoryError(errno.EISDIR, "is a directory", str(destination))
    handle, temp_path = _temp_file_beside(destination)
    os.close(handle)
    temp_path.unlink()
    return destination


def atomic_write(path: PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` atomically with ``write(binary_file)``.

    The data goes to a temp file in the same directory, is flushed and fsynced, and only then
    replaces ``path`` (``os.replace`` is atomic on POSIX and Windows). If anything raises on
    the way (``write``, the flush, the rename, or a ``KeyboardInterrupt``), the temp file is
    removed and any previous ``path`` is left untouched.

    Args:
        path: Destination file; its parent directory is created if missing.
        write: Callback that writes the whole content to the binary file it is given.

    Returns:
        The destination as a `pathlib.Path`.
    """
    destination = Path(path)
    handle, temp_path = _temp_file_beside(destination)
    try:
        with os.fdopen(handle, "wb") as file:
            os.chmod(temp_path, _file_mode(destination))
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp_path, destination)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temp_path.unlink()
        raise
    return destination


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically, as `atomic_write` does.

    Args:
        path: Destination file; its parent directory is created if missing.
        text: The whole content.

    Returns:
        The destination as a `pathlib.Path`.
    """
    data = text.encode("utf-8")
    return atomic_write(path, lambda file: file.write(data))
