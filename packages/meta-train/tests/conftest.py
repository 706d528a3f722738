"""Shared fixtures for the meta-train tests."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable

import pytest
import torch
from meta_train.cli import main


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
