"""Shared fixtures: the real Omniglot archives and a small ``meta-train omniglot`` run."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

OMNIGLOT_ROOT = Path(
    os.environ.get(
        "META_OMNIGLOT_ROOT", Path(__file__).resolve().parents[2] / "shared" / "data" / "omniglot"
    )
)


OmniglotArgv = Callable[..., list[str]]


@pytest.fixture
def omniglot_argv() -> OmniglotArgv:
    """``omniglot_argv(out, *extra, iterations=N)``: the argv of a small Omniglot run.

    Skips the test without the small background archive or Pillow.
    """
    if not (OMNIGLOT_ROOT / "images_background_small1.zip").is_file():
        pytest.skip(f"Omniglot archives not found in {OMNIGLOT_ROOT} (set META_OMNIGLOT_ROOT)")
    pytest.importorskip("PIL", reason="Omniglot decoding needs Pillow (meta-tasks[images])")
    return _omniglot_argv


def _omniglot_argv(out: Path, *extra: str, iterations: int) -> list[str]:
    """A small 3-way 1-shot ``meta-train omniglot`` run (2 tasks per meta-update) into ``out``."""
    return [
        sys.executable,
        "-m",
        "meta_train",
        "omniglot",
        "--root",
        str(OMNIGLOT_ROOT),
        "--subset",
        "background_small1",
        "--ways",
        "3",
        "--shots",
        "1",
        "--query-shots",
        "1",
        "--meta-batch",
        "2",
        "--iterations",
        str(iterations),
        "--eval-tasks",
        "2",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]
