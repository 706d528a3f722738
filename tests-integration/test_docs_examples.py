"""The code in README.md and docs/ runs (with smaller iteration counts where it trains)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)

# Names the migration guides assume the reader already has.
TOY_PROBLEM = """
import torch
import torch.nn.functional as F
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
net = model
loss_fn = F.cross_entropy
support_x, support_y = torch.randn(6, 4), torch.arange(3).repeat(2)
query_x, query_y = torch.randn(9, 4), torch.arange(3).repeat(3)
from meta_all import Task
tasks = [Task(support_x, support_y, query_x, query_y) for _ in range(2)]
support_x, support_y, query_x, query_y = (
    torch.stack([support_x] * 2), torch.stack([support_y] * 2),
    torch.stack([query_x] * 2), torch.stack([query_y] * 2),
)
data_train = (tasks[0].support_x, tasks[0].support_y)
data_test = (tasks[0].query_x, tasks[0].query_y)
"""

SINGLE_TASK = (
    TOY_PROBLEM
    + """
support_x, support_y, query_x, query_y = support_x[0], support_y[0], query_x[0], query_y[0]
"""
)


def python_blocks(path: Path) -> list[str]:
    return BLOCK.findall(path.read_text())


def run(code: str) -> None:
    exec(compile(code, "<docs>", "exec"), {"__name__": "__docs__"})


def test_readme_example_prints_what_it_learned(capsys):
    (example,) = python_blocks(ROOT / "README.md")
    run(example)
    printed = capsys.readouterr().out
    match = re.fullmatch(
        r"query MSE on 100 new tasks: (\S+) before adapting, (\S+) after one step\n", printed
    )
    assert match is not None, printed
    before, after = (float(value) for value in match.groups())
    assert after < 0.7 * before, printed


def test_quickstart_runs():
    code = "\n".join(python_blocks(ROOT / "docs" / "quickstart.md"))
    shortened = code.replace("range(1000)", "range(2)").replace("fit(1000", "fit(2")
    assert shortened != code, "the quickstart's iteration counts changed: update this test"
    run(shortened)


def test_higher_migration_native_version_runs():
    blocks = python_blocks(ROOT / "docs" / "migration" / "higher.md")
    run(SINGLE_TASK + blocks[-1])


@pytest.mark.parametrize("index", [0, 1])
def test_learn2learn_migration_runs(index):
    block = python_blocks(ROOT / "docs" / "migration" / "learn2learn.md")[index]
    prelude = SINGLE_TASK if index == 0 else TOY_PROBLEM
    run(prelude + block)


def test_metann_migration_runs():
    (block,) = python_blocks(ROOT / "docs" / "migration" / "metann.md")
    run(TOY_PROBLEM + block)


def test_vendoring_example_runs(tmp_path, monkeypatch):
    import shutil
    import sys

    import meta_functional

    vendor = tmp_path / "otherlib" / "_vendor"
    vendor.mkdir(parents=True)
    for package in (tmp_path / "otherlib", vendor):
        (package / "__init__.py").write_text("")
    shutil.copytree(Path(meta_functional.__file__).parent, vendor / "meta_functional")
    monkeypatch.syspath_prepend(str(tmp_path))
    block = python_blocks(ROOT / "docs" / "guides" / "vendoring.md")[0]
    run(SINGLE_TASK + "x, y = support_x, support_y\n" + block)
    assert "otherlib._vendor.meta_functional" in sys.modules
    for name in [name for name in sys.modules if name.startswith("otherlib")]:
        monkeypatch.delitem(sys.modules, name)


def printed_by(code: str, capsys: pytest.CaptureFixture[str]) -> str:
    run(code)
    return capsys.readouterr().out


def test_meta_algos_guide_examples_run_and_print_what_the_page_says(capsys):
    blocks = python_blocks(ROOT / "docs" / "guides" / "meta-algos.md")
    mamlpp, protonet, reptile, imaml, solver, memory = blocks
    assert printed_by(mamlpp, capsys) == (
        "('0.weight', '0.bias', '3.weight', '3.bias') torch.Size([4, 32])\n"
    )
    assert re.fullmatch(r"\(20, 5\) (\S+)\n", printed_by(protonet, capsys))
    assert re.fullmatch(r"query MSE after 5 inner steps: \d+\.\d{3}\n", printed_by(reptile, capsys))
    assert re.fullmatch(
        r"query MSE after 10 proximal steps: \d+\.\d{3}\n", printed_by(imaml, capsys)
    )
    assert printed_by(solver, capsys) == "tensor([0.0909, 0.6364]) tensor([0.0909, 0.6364])\n"
    assert printed_by(memory, capsys) == "torch.Size([6])\n"


def lightning_notices_ignored() -> None:
    """Lightning's own notices (pytree deprecation under new torch, "few batches")."""
    from lightning.fabric.utilities.warnings import PossibleUserWarning

    warnings.filterwarnings("ignore", ".*treespec.*", DeprecationWarning)
    warnings.filterwarnings("ignore", ".*treespec.*", FutureWarning)
    warnings.filterwarnings("ignore", category=PossibleUserWarning)


def test_lightning_guide_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("lightning")
    monkeypatch.chdir(tmp_path)  # the examples write lightning_logs/ where they run
    code = "\n".join(python_blocks(ROOT / "docs" / "guides" / "lightning.md"))
    with warnings.catch_warnings():
        lightning_notices_ignored()
        # the page says so: the resumed Trainer logs into a new version directory
        warnings.filterwarnings("ignore", "The dirpath has changed", UserWarning)
        first, resumed = printed_by(code, capsys).splitlines()
    assert re.fullmatch(r"10 \{'test/loss': \S+, 'test/pre_loss': \S+\}", first)
    assert resumed == "15"


def test_learn2learn_migration_lightning_script_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("lightning")
    monkeypatch.chdir(tmp_path)
    blocks = python_blocks(ROOT / "docs" / "migration" / "learn2learn.md")
    (script,) = [block for block in blocks if "LightningMAML" in block]
    with warnings.catch_warnings():
        lightning_notices_ignored()
        printed = printed_by(script, capsys)
    names = "'test/accuracy': \\S+, 'test/loss': \\S+, 'test/pre_accuracy': \\S+, 'test/pre_loss'"
    assert re.fullmatch(f"20 \\{{{names}: \\S+\\}}\n", printed), printed


def test_speed_guide_example_compiles_and_reports_the_compile_time(capsys):
    (block,) = python_blocks(ROOT / "docs" / "guides" / "speed.md")
    assert re.fullmatch(r"compiled in \d+ s\n", printed_by(block, capsys))
