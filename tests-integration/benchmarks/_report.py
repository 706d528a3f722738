"""Writing a benchmark's results: atomically, so an interrupted run never leaves half a file.

The text goes to a temporary file beside the target, is flushed to disk, then renamed over
the target: readers (``nox -s bench`` and the docs page) see the old file or the new one.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path``'s contents with ``text`` (temp file, fsync, rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    finally:
        Path(temp).unlink(missing_ok=True)


def write_json(path: Path, payload: object) -> None:
    """Write ``payload`` to ``path`` as indented JSON, atomically."""
    write_atomically(path, json.dumps(payload, indent=2) + "\n")
