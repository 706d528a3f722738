"""The papers' settings shipped in ``docs/configs/``: each one is a valid ``meta-train`` config.

Nothing is trained: each file goes through the command line's own reader (``--config FILE
--print-config``), which checks every key and value as the flag itself would, and the resolved
configuration it prints must hold the file's values unchanged.
"""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest
from meta_train.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((REPO_ROOT / "docs" / "configs").glob("*.toml"))
PAPERS = {
    "omniglot_maml_5way1shot.toml",
    "omniglot_maml_20way1shot.toml",
    "omniglot_protonet_5way1shot.toml",
    "omniglot_protonet_20way1shot.toml",
    "omniglot_mamlpp_5way1shot.toml",
    "sinusoid_maml.toml",
}


def _load(path: Path) -> dict[str, object]:
    with path.open("rb") as file:
        return tomllib.load(file)


def test_every_paper_setting_ships():
    assert {path.name for path in CONFIGS} >= PAPERS


@pytest.mark.parametrize("path", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_config_is_accepted_and_read_back_unchanged(path, capsys):
    table = _load(path)
    assert main([str(table["command"]), "--config", str(path), "--print-config"]) == 0
    printed = tomllib.loads(capsys.readouterr().out)
    assert {key: printed.get(key) for key in table} == table


@pytest.mark.parametrize("path", CONFIGS, ids=[path.stem for path in CONFIGS])
def test_config_trains_on_the_full_set_with_a_user_supplied_root(path):
    table = _load(path)
    assert "root" not in table  # the user's download directory, given with --root
    assert table.get("eval-tasks") == 600
    if table["command"] == "omniglot":
        assert table["subset"] == "background"


def test_results_page_lists_every_config(monkeypatch):
    script = REPO_ROOT / "tests-integration" / "results" / "run_all.py"
    spec = importlib.util.spec_from_file_location("run_all", script)
    assert spec is not None
    assert spec.loader is not None
    run_all = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "run_all", run_all)  # its dataclasses look themselves up
    spec.loader.exec_module(run_all)
    page = "\n".join(run_all.config_lines())
    for path in CONFIGS:
        data = " --root DATA" if _load(path)["command"] == "omniglot" else ""
        assert f"--config docs/configs/{path.name}{data}`" in page
