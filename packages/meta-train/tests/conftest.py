"""Shared fixtures for the meta-train tests."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from meta_train.cli import main

#: The real Omniglot archives: ``META_OMNIGLOT_ROOT``, else ``../shared/data/omniglot``.
OMNIGLOT_ROOT = Path(
    os.environ.get(
        "META_OMNIGLOT_ROOT",
        Path(__file__).resolve().parents[3].parent / "shared" / "data" / "omniglot",
    )
)


@pytest.fixture
def device() -> torch.device:
    """The device under test, from ``META_TEST_DEVICE`` (``cpu`` unless nox says ``cuda``)."""
    return torch.device(os.environ.get("META_TEST_DEVICE", "cpu"))


@pytest.fixture
def no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hide matplotlib, so CLI runs skip their plots (tested elsewhere) and stay fast."""
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


@pytest.fixture
def one_line_error(capsys: pytest.CaptureFixture[str]) -> Callable[[list[str]], str]:
    """Run ``meta-train`` with an argv, expect exit status 2 and one stderr line; return it.

    The line is ``meta-train[ <command>]: error: <message>``, with no usage or traceback.
    """

    def error_line(argv: list[str]) -> str:
        with pytest.raises(SystemExit) as excinfo:
            main(argv)
        assert excinfo.value.code == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err, err
        assert "usage:" not in err, err
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert re.match(r"meta-train( \w+)?: error: ", lines[0]), lines[0]
        return lines[0]

    return error_line


@pytest.fixture(scope="session")
def omniglot_archives() -> Callable[..., Path]:
    """``link(folder, *names)``: ``folder/root`` holding only the named real Omniglot archives.

    The test is skipped when an archive is missing (set ``META_OMNIGLOT_ROOT``) or Pillow,
    which decodes the images, is not installed.
    """

    def link(folder: Path, *names: str) -> Path:
        missing = [name for name in names if not (OMNIGLOT_ROOT / name).is_file()]
        if missing:
            pytest.skip(
                f"{', '.join(missing)} not found in {OMNIGLOT_ROOT} (set META_OMNIGLOT_ROOT)"
            )
        pytest.importorskip("PIL", reason="Omniglot decoding needs Pillow (meta-tasks[images])")
        root = folder / "root"
        root.mkdir(exist_ok=True)
        for name in names:
            (root / name).symlink_to(OMNIGLOT_ROOT / name)
        return root

    return link
