"""``meta-train evaluate DIR``: a trained run scored again from its config and checkpoint."""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from meta_nn import MLP
from meta_train import MetaTrainer
from meta_train.cli import TOOLS, build_parser, main

README = Path(__file__).resolve().parents[1] / "README.md"
SMALL1 = "images_background_small1.zip"
RUNS = "all_runs.zip"
_SINUSOID = ["sinusoid", "--iterations", "5", "--meta-batch", "2", "--eval-tasks", "6"]


@contextlib.contextmanager
def _no_matplotlib() -> Iterator[None]:
    """Plots are tested elsewhere; without matplotlib the training runs stay fast."""
    with pytest.MonkeyPatch.context() as patch:
        for name in list(sys.modules):
            if name == "matplotlib" or name.startswith("matplotlib."):
                patch.delitem(sys.modules, name)
        patch.setitem(sys.modules, "matplotlib", None)
        yield


def _train(argv: list[str]) -> str:
    """Run a training command quietly; its standard output."""
    printed = io.StringIO()
    with _no_matplotlib(), contextlib.redirect_stdout(printed):
        assert main([*argv, "--no-progress"]) == 0
    return printed.getvalue()


def _evaluate(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[str, dict]:
    """Run ``meta-train evaluate``; its output and the ``eval.json`` it wrote."""
    assert main(["evaluate", *argv]) == 0
    out = capsys.readouterr().out
    written = re.search(r"^wrote (.+eval\.json)$", out, re.M)
    assert written is not None, out
    return out, json.loads(Path(written.group(1)).read_text())


def _table(printed: str) -> str:
    """The first result table of a run's output (title line to the blank line after it)."""
    found = re.search(r"^\S.*\(\d+ tasks, mean ± 95% CI\)\n(?:  .*\n)+", printed, re.M)
    assert found is not None, printed
    return found.group(0)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    """Two sinusoid runs that differ only in --seed, and run A's training output."""
    base = tmp_path_factory.mktemp("evaluate")
    printed = _train([*_SINUSOID, "--seed", "0", "--out", str(base / "a")])
    _train([*_SINUSOID, "--seed", "1", "--out", str(base / "b")])
    return {"a": base / "a", "b": base / "b", "printed": printed}


@pytest.fixture
def run_a(trained: dict[str, Path | str], tmp_path: Path) -> Path:
    """A copy of run A that a test may change."""
    copy = tmp_path / "a"
    shutil.copytree(trained["a"], copy)
    return copy


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["--help"])
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    assert "{sinusoid,omniglot,evaluate,download}" in out
    assert re.search(r"^ +evaluate +evaluate a trained run", out, re.M)
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for text in ("DIR/eval.json", "the next evaluate overwrites it", "--lake-runs", "--device"):
        assert text in help_text


def test_tools_are_modules_with_name_parser_and_main():
    assert [tool.NAME for tool in TOOLS] == ["evaluate", "download"]
    for tool in TOOLS:
        assert callable(tool.add_parser)
        assert callable(tool.main)
    args = build_parser().parse_args(["evaluate", "somewhere", "--tasks", "3"])
    assert (args.task, args.run, args.tasks, args.seed) == ("evaluate", Path("somewhere"), 3, None)


def test_evaluate_reproduces_the_runs_final_evaluation(capsys, trained, run_a):
    out, record = _evaluate(capsys, str(run_a))
    assert _table(out) == _table(str(trained["printed"]))
    metrics = _metrics(run_a)
    assert record["test"] == metrics["test"]  # same weights, same tasks: the same numbers
    assert record["test"]["tasks"] == 6
    assert record["settings"] == {
        "tasks": 6,
        "eval_steps": 1,
        "seed": 0,
        "device": "cpu",
        "lake_runs": False,
    }
    assert (record["task"], record["algo"], record["iteration"]) == ("sinusoid", "maml", 5)
    assert record["run"] == str(run_a)
    assert record["checkpoint"] == str(run_a / "checkpoint.pt")
    assert "checkpoint at iteration 5, 6 held-out task(s) drawn with seed 0" in out
    assert not list(run_a.glob(".eval.json.*"))  # the atomic write left no temp file


def test_evaluate_scores_the_checkpoints_weights(capsys, trained, run_a):
    # Run B's checkpoint in run A's directory (the configs differ only in --seed): with
    # --seed 1 the tasks are B's test tasks, so the numbers are B's; with A's seed they
    # are not A's.
    shutil.copyfile(Path(trained["b"]) / "checkpoint.pt", run_a / "checkpoint.pt")
    _, record = _evaluate(capsys, str(run_a), "--seed", "1")
    assert record["test"] == _metrics(Path(trained["b"]))["test"]
    _, record = _evaluate(capsys, str(run_a))
    assert record["test"]["post_loss"] != _metrics(run_a)["test"]["post_loss"]


def test_evaluate_options_and_overwrite(capsys, run_a):
    _, first = _evaluate(capsys, str(run_a))
    out, record = _evaluate(
        capsys,
        str(run_a / "checkpoint.pt"),
        "--tasks",
        "3",
        "--seed",
        "7",
        "--eval-steps",
        "2",
        "--device",
        "cpu",
    )
    assert record["settings"] == {
        "tasks": 3,
        "eval_steps": 2,
        "seed": 7,
        "device": "cpu",
        "lake_runs": False,
    }
    assert record["test"]["tasks"] == 3
    assert record["test"]["pre_loss"] != first["test"]["pre_loss"]  # other tasks
    assert "10-shot sinusoid regression (3 tasks, mean ± 95% CI)" in out
    # eval.json is derived data: the second evaluate replaced the first
    assert json.loads((run_a / "eval.json").read_text()) == record
    # evaluate writes eval.json only: the run's own files are unchanged
    assert _metrics(run_a)["test"]["tasks"] == 6


def test_evaluate_keeps_the_runs_eval_steps_and_checks_mamlpp(capsys, tmp_path, one_line_error):
    out = tmp_path / "pp"
    _train([*_SINUSOID, "--algo", "mamlpp", "--inner-steps", "2", "--out", str(out)])
    _, record = _evaluate(capsys, str(out))
    assert record["settings"]["eval_steps"] == 2
    assert record["test"] == _metrics(out)["test"]
    line = one_line_error(["evaluate", str(out), "--eval-steps", "1"])
    assert "--eval-steps must equal --inner-steps (2)" in line
    assert str(out) in line


def test_ctrl_c_exits_130_without_writing_eval_json(capsys, monkeypatch, run_a):
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(MetaTrainer, "evaluate_tasks", interrupted)
    assert main(["evaluate", str(run_a)]) == 130
    err = capsys.readouterr().err
    assert err.strip() == "meta-train evaluate: interrupted; eval.json not written"
    assert not (run_a / "eval.json").exists()


def test_documented_snippet_loads_the_weights_into_meta_nn_mlp(trained, tmp_path, monkeypatch):
    blocks = re.findall(r"```py\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 1
    (tmp_path / "runs").mkdir()
    shutil.copytree(trained["a"], tmp_path / "runs" / "demo")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(blocks[0], str(README), "exec"), namespace)
    model = namespace["model"]
    assert isinstance(model, MLP)
    saved = torch.load(Path(trained["a"]) / "checkpoint.pt", weights_only=True)["module"]
    loaded = model.state_dict()
    assert loaded.keys() == {key.removeprefix("module.") for key in saved if "module." in key}
    for name, value in loaded.items():
        assert torch.equal(value, saved[f"module.{name}"]), name
    fresh = MLP([1, 40, 40, 1]).state_dict()
    assert any(not torch.equal(fresh[name], loaded[name]) for name in loaded)


def _break_checkpoint(run: Path, how: str) -> None:
    checkpoint = run / "checkpoint.pt"
    if how == "empty":
        checkpoint.write_bytes(b"")
    elif how == "truncated":
        checkpoint.write_bytes(checkpoint.read_bytes()[:300])
    elif how == "foreign":
        torch.save({"weights": torch.zeros(3)}, checkpoint)
    elif how == "architecture":  # a Meta-SGD run's config with a MAML checkpoint
        config = run / "config.toml"
        config.write_text(config.read_text().replace('algo = "maml"', 'algo = "metasgd"'))


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("empty", "cannot load '{run}/checkpoint.pt' as a meta-train checkpoint: it is empty"),
        ("truncated", "cannot load '{run}/checkpoint.pt' as a meta-train checkpoint: it is a zip"),
        ("foreign", "'{run}/checkpoint.pt' is not a meta-train checkpoint of format 1"),
        ("architecture", "checkpoint '{run}/checkpoint.pt': the module state does not fit"),
    ],
)
def test_bad_checkpoints_are_refused_in_one_line(run_a, how, expected, one_line_error):
    _break_checkpoint(run_a, how)
    line = one_line_error(["evaluate", str(run_a)])
    assert expected.format(run=run_a) in line
    assert not (run_a / "eval.json").exists()


def test_bad_run_directories_are_refused_in_one_line(run_a, tmp_path, one_line_error):
    missing = tmp_path / "nowhere"
    line = one_line_error(["evaluate", str(missing)])
    assert f"{str(missing)!r} does not exist; expected a run directory" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    line = one_line_error(["evaluate", str(empty)])
    assert f"'{empty}/checkpoint.pt' does not exist; expected the checkpoint.pt" in line
    (run_a / "config.toml").unlink()
    line = one_line_error(["evaluate", str(run_a / "checkpoint.pt")])
    assert f"'{run_a}/config.toml' does not exist; expected the config.toml" in line


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda text: text + "bogus = 1\n", "config.toml: unknown key 'bogus'"),
        (
            lambda text: re.sub(r"(?m)^shots = .*$", "shots = 0", text),
            "config.toml: argument --shots: expected a positive integer (>= 1), got 0",
        ),
        (
            lambda text: text.replace('command = "sinusoid"', 'command = "other"'),
            "config.toml' records command = 'other'; expected the configuration of a "
            "`meta-train sinusoid|omniglot` run",
        ),
        (lambda text: text + "[[", "config.toml' is not valid TOML"),
    ],
)
def test_bad_configs_are_refused_in_one_line(run_a, edit, expected, one_line_error):
    config = run_a / "config.toml"
    config.write_text(edit(config.read_text()))
    assert expected in one_line_error(["evaluate", str(run_a)])


def test_lake_runs_need_an_omniglot_run(run_a, one_line_error):
    line = one_line_error(["evaluate", str(run_a), "--lake-runs"])
    assert f"--lake-runs applies to omniglot runs; {str(run_a)!r} is a sinusoid run" in line


def test_an_unusable_device_is_refused_in_one_line(run_a, one_line_error):
    line = one_line_error(["evaluate", str(run_a), "--device", "nodevice"])
    assert "--device 'nodevice' is not a torch device" in line


@pytest.fixture(scope="module")
def omniglot_run(
    tmp_path_factory: pytest.TempPathFactory, omniglot_archives: Callable[..., Path]
) -> dict[str, Path | str]:
    """A one-iteration 3-way Omniglot run on one archive (no Lake runs while training)."""
    base = tmp_path_factory.mktemp("omniglot")
    root = omniglot_archives(base, SMALL1)
    argv = ["omniglot", "--root", str(root), "--subset", "background_small1", "--ways", "3"]
    argv += ["--shots", "1", "--query-shots", "1", "--iterations", "1", "--meta-batch", "1"]
    printed = _train([*argv, "--eval-tasks", "2", "--out", str(base / "run")])
    return {"root": root, "run": base / "run", "printed": printed}


@pytest.mark.data
def test_omniglot_evaluate_reproduces_the_run_and_refuses_missing_data(
    capsys, omniglot_run, one_line_error
):
    run = Path(omniglot_run["run"])
    out, record = _evaluate(capsys, str(run))
    assert _table(out) == _table(str(omniglot_run["printed"]))
    assert record["test"] == _metrics(run)["test"]
    assert "post_accuracy" in record["test"]
    assert "lake_runs" not in record
    line = one_line_error(["evaluate", str(run), "--lake-runs"])
    assert f"--lake-runs: '{omniglot_run['root']}/{RUNS}' does not exist" in line
    assert "in the run's --root" in line


@pytest.mark.data
def test_omniglot_evaluate_refuses_a_missing_or_empty_root(omniglot_run, tmp_path, one_line_error):
    run = tmp_path / "run"
    shutil.copytree(omniglot_run["run"], run)
    config = run / "config.toml"
    recorded = config.read_text()
    gone = tmp_path / "gone"
    config.write_text(recorded.replace(str(omniglot_run["root"]), str(gone)))
    line = one_line_error(["evaluate", str(run)])
    assert f"run {str(run)!r}: --root {str(gone)!r} is not a directory" in line
    gone.mkdir()
    line = one_line_error(["evaluate", str(run)])
    assert f"run {str(run)!r}: --root {str(gone)!r} lacks images_background_small1.zip" in line
    assert line.endswith(f"meta-train download omniglot --root {gone} --subset background_small1")


@pytest.mark.data
@pytest.mark.slow
def test_omniglot_evaluate_lake_runs(capsys, omniglot_run, omniglot_archives, tmp_path):
    root = omniglot_archives(tmp_path, SMALL1, RUNS)
    run = tmp_path / "run"
    shutil.copytree(omniglot_run["run"], run)
    config = run / "config.toml"
    config.write_text(config.read_text().replace(str(omniglot_run["root"]), str(root)))
    out, record = _evaluate(capsys, str(run), "--lake-runs")
    assert record["test"] == _metrics(run)["test"]  # the held-out tasks do not change
    lake = record["lake_runs"]
    assert (lake["tasks"], lake["queries"]) == (20, 400)
    assert lake["head"] == "mean row replicated to 20"
    # every run has 20 queries: the error rate is one minus the mean accuracy
    assert lake["error_rate"] == pytest.approx(1.0 - lake["post_accuracy"]["mean"])
    assert "Lake's 20-way one-shot runs (20 tasks, mean ± 95% CI)" in out
    assert f"error rate over 400 queries: {100 * lake['error_rate']:.2f}%" in out
    assert record["settings"]["lake_runs"] is True
