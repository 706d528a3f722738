"""Shared fixtures for the meta-train tests."""

from __future__ import annotations

import os
import sys

import pytest
import torch


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
