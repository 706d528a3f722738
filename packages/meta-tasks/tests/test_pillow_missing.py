"""The Pillow extra is imported lazily and its absence is reported clearly (no Pillow needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from meta_tasks import Omniglot, OmniglotOneShotRuns


def test_import_does_not_load_pillow() -> None:
    code = "import sys, meta_tasks; print('PIL' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "False"


def test_missing_pillow_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match=r"pip install meta-tasks\[images\]"):
        Omniglot(tmp_path, "background")
    with pytest.raises(ImportError, match=r"pip install meta-tasks\[images\]"):
        OmniglotOneShotRuns(tmp_path)
