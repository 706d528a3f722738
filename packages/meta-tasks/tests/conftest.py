"""Shared fixtures for the meta-tasks tests."""

from __future__ import annotations

import os

import pytest
import torch


@pytest.fixture
def device() -> torch.device:
    """The device under test, from ``META_TEST_DEVICE`` (``cpu`` unless nox says ``cuda``)."""
    return torch.device(os.environ.get("META_TEST_DEVICE", "cpu"))
