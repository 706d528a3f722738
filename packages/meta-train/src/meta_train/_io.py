"""Atomic file writes: a temp file in the target's directory, then ``os.replace``."""

from __future__ import annotations

import contextlib
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


def atomic_write(path: PathLike, write: Callable[[BinaryIO], object]) -> Path:
    """Write ``path`` atomically with ``write(binary_file)``.

    The data goes to a temp file in the same directory, is flushed and fsynced, and only then
    replaces ``path`` (``os.replace`` is atomic on POSIX and Windows). If ``write`` raises,
    the temp file is removed and any previous ``path`` is left untouched.

    Args:
        path: Destination file; its parent directory is created if missing.
        write: Callback that writes the whole content to the binary file it is given.

    Returns:
        The destination as a `pathlib.Path`.
    """
    destination = Path(path)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(
        prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent
    )
    temp_path = Path(temp_name)
    try:
        os.chmod(temp_path, _file_mode(destination))
        with os.fdopen(handle, "wb") as file:
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
