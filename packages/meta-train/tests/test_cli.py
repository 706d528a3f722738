"""The meta-train command line: argument errors (before training), sinusoid and omniglot runs."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from meta_train import History
from meta_train.cli import build_parser, main

REPO_ROOT = Path(__file__).resolve().parents[3]
OMNIGLOT_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", REPO_ROOT.parent / "shared" / "data" / "omniglot")
)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sinusoid", "--iterations", "-5"], "--iterations: expected an integer >= 0, got -5"),
        (
            ["sinusoid", "--meta-batch", "0"],
            r"--meta-batch: expected a positive integer \(>= 1\), got 0",
        ),
        (["sinusoid", "--shots", "two"], "--shots: expected a positive integer, got 'two'"),
        (
            ["sinusoid", "--inner-lr", "-0.1"],
            "--inner-lr: expected a positive number that float32 holds",
        ),
        (
            ["sinusoid", "--algo", "fomaml"],
            r"--algo: invalid choice: 'fomaml' \(choose from '?maml'?, '?metasgd'?, '?anil'?, "
            r"'?mamlpp'?, '?protonet'?, '?metaoptnet'?, '?reptile'?, '?imaml'?\)",
        ),
        (
            ["sinusoid", "--algo", "mamlpp", "--inner-steps", "2", "--eval-steps", "5"],
            r"--eval-steps must equal --inner-steps \(2\), got --eval-steps 5",
        ),
        (["sinusoid", "--algo", "mamlpp", "--first-order"], "use --first-order-iterations N"),
        (
            ["sinusoid", "--meta-lr", "1e100"],
            r"--meta-lr: expected a positive number that float32 holds \(at most 3.4e\+38\), "
            "got 1e100",
        ),
        (["sinusoid", "--inner-lr", "inf"], "--inner-lr: expected a positive number that"),
        (["sinusoid", "--msl-iterations", "5"], "apply to --algo mamlpp only, got --algo maml"),
        (
            ["omniglot"],
            "the following arguments are required: --root .*`meta-train download omniglot",
        ),
        (
            ["omniglot", "--root", "/nonexistent/omniglot"],
            "--root '/nonexistent/omniglot' is not a directory; expected the folder that holds"
            ".*; fetch them with: meta-train download omniglot --root /nonexistent/omniglot$",
        ),
        (
            ["omniglot", "--root", "/", "--subset", "evaluation"],
            r"--root '/' lacks images_evaluation.zip \(--subset evaluation\); fetch them with: "
            "meta-train download omniglot --root / --subset evaluation$",
        ),
        (
            ["omniglot", "--root", ".", "--subset", "tiny"],
            r"--subset: invalid choice: 'tiny' \(choose from '?background'?,",
        ),
        (
            ["omniglot", "--root", ".", "--test-fraction", "1.5"],
            "expected a number strictly between 0 and 1, got 1.5",
        ),
        (
            ["omniglot", "--root", ".", "--ways", "1"],
            r"--ways: expected an integer >= 2 \(a task tells at least two classes apart\), got 1",
        ),
        (["omniglot", "--root", ".", "--eval-ways", "5", "1"], "--eval-ways: expected an integer"),
        (["omniglot", "--root", ".", "--shots", "0"], "--shots: expected a positive integer"),
        (["sinusoid", "--query-shots", "0"], "--query-shots: expected a positive integer"),
        (["imagenet"], "invalid choice: 'imagenet'"),
        ([], "the following arguments are required"),
    ],
)
def test_invalid_arguments_fail_before_training(tmp_path, argv, message, one_line_error):
    out = tmp_path / "never"
    err = one_line_error(
        [*argv, "--out", str(out)] if argv and argv[0] in {"sinusoid", "omniglot"} else argv
    )
    assert re.search(message, err), err
    assert not out.exists()


def test_cuda_device_error_without_cuda(tmp_path, one_line_error):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA, so --device cuda is valid")
    err = one_line_error(["sinusoid", "--device", "cuda", "--out", str(tmp_path / "x")])
    assert "--device cuda: CUDA is not available here; use --device cpu" in err


def test_help_lists_the_algorithms(capsys):
    with pytest.raises(SystemExit) as excinfo:
        main(["sinusoid", "--help"])
    assert excinfo.value.code == 0
    out = capsys.readouterr().out
    assert "maml, metasgd, anil, mamlpp" in out
    assert "--batched" in out
    assert build_parser().prog == "meta-train"


@pytest.mark.parametrize(
    ("command", "examples", "validation"),
    [("sinusoid", "per task", 100), ("omniglot", "per class", 20)],
)
def test_help_speaks_of_the_command_it_helps(capsys, command, examples, validation):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    assert f"support examples {examples}" in out
    assert f"query examples {examples}" in out
    assert f"evaluate on up to {validation} validation tasks every N" in out
    assert "{examples_per}" not in out
    assert "{validation_tasks}" not in out


def test_evaluate_help_shows_a_plain_percent(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "95% confidence intervals" in out
    assert "%%" not in out


def _check_outputs(out: Path, iterations: int) -> dict:
    metrics = json.loads((out / "metrics.json").read_text())
    history = History.from_json(out / "history.json")
    assert history.iterations == iterations
    assert History.from_csv(out / "history.csv") == history
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    assert payload["iteration"] == iterations
    return metrics


@pytest.mark.parametrize("algo", ["maml", "metasgd", "anil", "mamlpp"])
def test_sinusoid_run_writes_everything(capsys, tmp_path, algo):
    out = tmp_path / "run"
    argv = [
        "sinusoid",
        "--algo",
        algo,
        "--iterations",
        "4",
        "--meta-batch",
        "3",
        "--eval-tasks",
        "6",
        "--eval-every",
        "2",
        "--out",
        str(out),
        "--no-progress",
    ]
    if algo == "mamlpp":
        argv += ["--inner-steps", "2", "--msl-iterations", "2"]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert f"meta-train sinusoid: {algo}, 4 iterations" in stdout
    # progress lines: values of the history, time, speed and what is left
    assert re.search(
        r"^iteration 2/4  meta-loss [\d.e+-]+  eval-loss [\d.e+-]+  "
        r"\(\d+\.\d s, [\d.e+]+ it/s, \d+ s left\)$",
        stdout,
        re.M,
    ), stdout
    assert re.search(r"^iteration 4/4  meta-loss .*, 0 s left\)$", stdout, re.M)
    wrote = f"wrote config.toml, checkpoint.pt, history.json, history.csv, metrics.json to {out}"
    assert wrote in stdout
    assert "pre-adaptation" in stdout
    assert "post-adaptation" in stdout
    assert "MSE" in stdout
    metrics = _check_outputs(out, 4)
    assert metrics["algo"] == algo
    assert metrics["test"]["tasks"] == 6
    assert set(metrics["test"]) == {"tasks", "pre_loss", "post_loss"}
    assert metrics["test"]["post_loss"]["ci95"] > 0
    history = History.from_json(out / "history.json")
    assert [it for it, _ in history.eval_loss] == [2, 4]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no plots: plotting needs matplotlib" in stdout
    else:
        assert f"plot: {out / 'learning_curves.png'}" in stdout
        assert f"plot: {out / 'sinusoid_fits.png'}" in stdout
        assert (out / "sinusoid_fits.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_zero_iterations_evaluates_the_initialisation(capsys, tmp_path):
    out = tmp_path / "zero"
    argv = ["sinusoid", "--iterations", "0", "--eval-tasks", "4", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "no learning-curve plot: no meta-updates were made (--iterations 0)" in stdout
    metrics = _check_outputs(out, 0)
    assert metrics["iterations"] == 0


def test_run_without_matplotlib_says_so(capsys, tmp_path, monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "noplot"
    argv = ["sinusoid", "--iterations", "1", "--eval-tasks", "2", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    stdout = capsys.readouterr().out
    assert "no plots: plotting needs matplotlib" in stdout
    assert "pip install meta-train[plot]" in stdout
    assert _check_outputs(out, 1)["plots"] == []
    assert not list(out.glob("*.png"))


def test_sinusoid_run_is_reproducible(capsys, tmp_path):
    argv = [
        "sinusoid",
        "--iterations",
        "3",
        "--meta-batch",
        "2",
        "--eval-tasks",
        "3",
        "--seed",
        "7",
        "--batched",
        "--no-progress",
    ]
    main([*argv, "--out", str(tmp_path / "a")])
    main([*argv, "--out", str(tmp_path / "b")])
    a = json.loads((tmp_path / "a" / "metrics.json").read_text())["test"]
    b = json.loads((tmp_path / "b" / "metrics.json").read_text())["test"]
    assert a == b


def test_python_dash_m_and_default_out(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "meta_train",
            "sinusoid",
            "--iterations",
            "1",
            "--meta-batch",
            "2",
            "--eval-tasks",
            "2",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "runs" / "sinusoid-maml" / "metrics.json").is_file()
    assert "post-adaptation" in result.stdout


def _run_into_closed_pipe(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m meta_train *argv`` with a standard output whose reader has gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-m", "meta_train", *argv],
            cwd=cwd,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


def test_print_config_into_a_closed_pipe_exits_quietly(tmp_path):
    result = _run_into_closed_pipe(tmp_path, "sinusoid", "--print-config")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_a_run_into_a_closed_pipe_stops_with_one_line(tmp_path):
    argv = ["sinusoid", "--iterations", "1", "--meta-batch", "1", "--eval-tasks", "1"]
    result = _run_into_closed_pipe(tmp_path, *argv)
    assert result.returncode == 1
    assert result.stderr == "meta-train: stopped: its standard output was closed\n"


def _needs_omniglot():
    if not (OMNIGLOT_ROOT / "images_background_small1.zip").is_file():
        pytest.skip(f"Omniglot archives not found in {OMNIGLOT_ROOT} (set META_OMNIGLOT_ROOT)")


@pytest.mark.data
def test_omniglot_without_pillow_fails_before_training(tmp_path, monkeypatch, one_line_error):
    _needs_omniglot()
    monkeypatch.setitem(sys.modules, "PIL", None)
    err = one_line_error(["omniglot", "--root", str(OMNIGLOT_ROOT), "--out", str(tmp_path / "x")])
    assert "meta-train omniglot: error: cannot read images: " in err
    assert r"pip install meta-tasks[images]" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.data
def test_omniglot_run(capsys, tmp_path):
    _needs_omniglot()
    pytest.importorskip("PIL", reason="Omniglot decoding needs Pillow (meta-tasks[images])")
    out = tmp_path / "omni"
    argv = [
        "omniglot",
        "--root",
        str(OMNIGLOT_ROOT),
        "--subset",
        "background_small1",
        "--ways",
        "5",
        "--shots",
        "1",
        "--query-shots",
        "2",
        "--iterations",
        "2",
        "--meta-batch",
        "2",
        "--eval-tasks",
        "3",
        "--eval-ways",
        "5",
        "10",
        "--out",
        str(out),
        "--no-progress",
    ]
    assert main(argv) == 0
    stdout = capsys.readouterr().out
    assert "5-way 1-shot Omniglot, held-out characters (3 tasks" in stdout
    assert "10-way 1-shot Omniglot, held-out characters (3 tasks" in stdout
    assert "accuracy" in stdout
    # the per-task loop records the meta-batch's query accuracy; the bar and lines show it
    assert re.search(r"^iteration 2/2  meta-loss \S+  accuracy \d+\.\d%  eval-loss", stdout, re.M)
    metrics = _check_outputs(out, 2)
    assert set(metrics["test"]) == {
        "tasks",
        "pre_loss",
        "post_loss",
        "pre_accuracy",
        "post_accuracy",
    }
    by_ways = metrics["test_by_ways"]
    assert set(by_ways) == {"5", "10"}
    assert by_ways["5"]["head"] == "as trained"
    assert by_ways["10"]["head"] == "mean row replicated to 10"
    # before adaptation every row of the widened head is the same: uniform predictions
    assert by_ways["10"]["pre_loss"]["mean"] == pytest.approx(math.log(10), abs=1e-5)
    if (OMNIGLOT_ROOT / "all_runs.zip").is_file():
        lake = metrics["lake_runs"]
        assert lake["queries"] == 400
        assert lake["tasks"] == 20
        assert 0.0 <= lake["error_rate"] <= 1.0
        assert lake["error_rate"] == pytest.approx(1 - lake["post_accuracy"]["mean"], abs=1e-9)
        assert "error rate over 400 queries" in stdout


@pytest.mark.data
def test_omniglot_ways_and_shots_checked_against_the_data(tmp_path, one_line_error):
    _needs_omniglot()
    pytest.importorskip("PIL", reason="Omniglot decoding needs Pillow (meta-tasks[images])")
    base = [
        "omniglot",
        "--root",
        str(OMNIGLOT_ROOT),
        "--subset",
        "background_small1",
        "--out",
        str(tmp_path / "x"),
    ]
    err = one_line_error([*base, "--ways", "100"])
    assert "--ways 100 is more than the 27 held-out characters" in err
    err = one_line_error([*base, "--eval-ways", "20", "30"])
    assert "--eval-ways 30 is more than the 27 held-out characters" in err
    err = one_line_error([*base, "--ways", "20", "--no-rotations", "--test-fraction", "0.9"])
    assert re.search(r"--ways 20 is more than the \d+ meta-training classes", err), err
    err = one_line_error([*base, "--shots", "10", "--query-shots", "15"])
    assert "= 25 examples per class, but Omniglot has 20 drawings per character" in err
    assert not (tmp_path / "x").exists()
