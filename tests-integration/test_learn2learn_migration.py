"""A learn2learn training script runs with only its import changed; the sampling benchmark runs.

``migration/maml_omniglot_learn2learn.py`` is MAML on Omniglot in learn2learn's idiom
(``get_tasksets``, ``l2l.algorithms.MAML``, ``learner.adapt``, ``OmniglotCNN``); it runs here
for a few iterations on the real data in ``../shared/data/omniglot``.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "migration" / "maml_omniglot_learn2learn.py"
GUIDE = HERE.parent / "docs" / "migration" / "learn2learn.md"
OMNIGLOT_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", HERE.parents[1] / "shared" / "data" / "omniglot")
)
needs_omniglot = pytest.mark.skipif(
    not (OMNIGLOT_ROOT / "images_background_small2.zip").is_file(),
    reason=f"Omniglot archives not found in {OMNIGLOT_ROOT}",
)
IMPORT = "import meta_all.compat.learn2learn as l2l  # learn2learn: import learn2learn as l2l"


def run(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, check=False, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_the_script_differs_from_learn2learn_only_in_its_import():
    lines = SCRIPT.read_text().splitlines()
    package = re.compile(r"\bmeta_(functional|nn|optim|algos|tasks|train|all)\b")
    assert [line for line in lines if package.search(line)] == [IMPORT]
    original = [line.replace(IMPORT, "import learn2learn as l2l") for line in lines]
    assert original.count("import learn2learn as l2l") == 1
    assert not any(package.search(line) for line in original)
    for idiom in ("get_tasksets(", "l2l.algorithms.MAML(", "learner.adapt(", "OmniglotCNN("):
        assert idiom in SCRIPT.read_text()


def test_the_migration_guide_shows_the_script_and_the_changed_line():
    guide = GUIDE.read_text()
    assert f'--8<-- "tests-integration/migration/{SCRIPT.name}"' in guide
    assert "-import learn2learn as l2l" in guide
    assert "+import meta_all.compat.learn2learn as l2l" in guide


@needs_omniglot
@pytest.mark.data
def test_learn2learn_maml_omniglot_script_runs_on_the_real_data():
    stdout = run(
        str(SCRIPT),
        "--root",
        str(OMNIGLOT_ROOT),
        "--iterations",
        "3",
        "--meta-batch-size",
        "4",
    )
    assert re.findall(r"^Iteration (\d+)$", stdout, flags=re.MULTILINE) == ["0", "1", "2"]
    for name in ("Meta Train Error", "Meta Valid Error", "Meta Test Error"):
        values = [float(v) for v in re.findall(rf"^{name} (\S+)$", stdout, flags=re.MULTILINE)]
        assert values
        assert all(math.isfinite(v) and v > 0 for v in values)
    accuracy = re.search(r"^Meta Test Accuracy (\S+)$", stdout, flags=re.MULTILINE)
    assert accuracy is not None
    assert 0.0 <= float(accuracy.group(1)) <= 1.0


@needs_omniglot
@pytest.mark.data
def test_task_description_benchmark_runs(tmp_path):
    out = tmp_path / "task_descriptions.json"
    stdout = run(
        str(HERE / "benchmarks" / "task_descriptions.py"),
        "--root",
        str(OMNIGLOT_ROOT),
        "--quick",
        "--json",
        str(out),
    )
    assert "| descriptions: FusedNWaysKShots, LoadData, RemapLabels |" in stdout
    report = json.loads(out.read_text())
    assert report["target_per_second"] == 2000.0
    rates = [row["median"] for row in report["results"].values()]
    assert len(rates) == 4
    assert all(rate > 0 for rate in rates)
