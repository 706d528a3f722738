"""``meta-train ... --engine lightning``: the native run's experiment on ``lightning.Trainer``."""

from __future__ import annotations

import json
import os
import signal
import sys
import tomllib
from pathlib import Path

import pytest
import torch
from meta_train.cli import _report, main

pytest.importorskip("lightning")

# Lightning's own notices (pytree deprecation under new torch, "few workers", tips) are not
# about this code; everything else still fails the test.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*treespec.*:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*treespec.*:FutureWarning"),
    pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning"),
]

_SINUSOID = ["sinusoid", "--iterations", "4", "--meta-batch", "2", "--eval-tasks", "6"]
_SINUSOID += ["--eval-every", "2", "--seed", "3", "--no-progress"]


def _run(capsys: pytest.CaptureFixture[str], out: Path, *extra: str) -> str:
    assert main([*_SINUSOID, "--out", str(out), *extra]) == 0
    return capsys.readouterr().out


def _table(printed: str) -> str:
    """The final table: from its title line to the blank line after it."""
    start = printed.index("10-shot sinusoid regression")
    return printed[start : printed.index("\n\n", start)]


def _checkpoint(out: Path) -> dict:
    return torch.load(out / "checkpoint.pt", weights_only=True)


def test_both_engines_make_the_same_run_and_evaluate_reads_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_plots: None, one_line_error
) -> None:
    native_out, lightning_out = tmp_path / "native", tmp_path / "lightning"
    native = _run(capsys, native_out)
    lightning = _run(capsys, lightning_out, "--engine", "lightning")
    assert "engine lightning" in lightning
    native_state, lightning_state = _checkpoint(native_out), _checkpoint(lightning_out)
    assert lightning_state["iteration"] == native_state["iteration"] == 4
    # Same tasks, same meta-update: on the CPU the parameters are bit-equal.
    for name, value in native_state["module"].items():
        assert torch.equal(lightning_state["module"][name], value), name
    assert _table(lightning) == _table(native)
    # The history comes from Lightning's logged (float32) values.
    histories = [
        json.loads((out / "history.json").read_text()) for out in (native_out, lightning_out)
    ]
    assert histories[1]["meta_loss"] == pytest.approx(histories[0]["meta_loss"], rel=1e-6)
    assert [it for it, _ in histories[1]["eval_loss"]] == [2, 4]
    assert [it for it, _ in histories[0]["eval_loss"]] == [2, 4]
    evaluations = [[loss for _, loss in history["eval_loss"]] for history in histories]
    assert evaluations[1] == pytest.approx(evaluations[0], rel=1e-6)
    config = tomllib.loads((lightning_out / "config.toml").read_text())
    assert config["engine"] == "lightning"
    assert tomllib.loads((native_out / "config.toml").read_text())["engine"] == "native"
    metrics = json.loads((lightning_out / "metrics.json").read_text())
    assert metrics["iterations"] == 4
    assert metrics["arguments"]["engine"] == "lightning"
    csv = (lightning_out / "lightning" / "metrics.csv").read_text()
    assert "train/meta_loss" in csv
    assert "validation/loss" in csv
    assert main(["evaluate", str(lightning_out)]) == 0
    evaluated = capsys.readouterr().out
    assert "checkpoint at iteration 4" in evaluated
    assert _table(evaluated) == _table(lightning)
    # --resume reads engine = "lightning" from config.toml, and is refused.
    line = one_line_error(["sinusoid", "--out", str(lightning_out), "--resume"])
    assert "--resume: --engine lightning cannot continue a run yet" in line, line


def test_zero_iterations_only_evaluate(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_plots: None
) -> None:
    out = tmp_path / "run"
    assert main([*_SINUSOID, "--iterations", "0", "--out", str(out), "--engine", "lightning"]) == 0
    assert _checkpoint(out)["iteration"] == 0
    assert "no meta-updates were made" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--devices", "2"], "--devices apply to --engine lightning only"),
        (
            ["--strategy", "ddp", "--precision", "bf16-mixed"],
            "--strategy, --precision apply to --engine lightning only",
        ),
        (["--engine", "lightning", "--precision", "16-mixed"], "invalid choice: '16-mixed'"),
        (["--engine", "lightning", "--strategy", "ddp_spawn"], "use --strategy ddp"),
        (
            ["--engine", "lightning", "--strategy", "bogus"],
            "lightning.Trainer refused the settings: You selected an invalid strategy name",
        ),
        (
            ["--engine", "lightning", "--device", "cpu:0", "--devices", "2"],
            "--device cpu:0 names one device, so --devices 2 does not apply",
        ),
    ],
)
def test_refusals_are_one_line(one_line_error, tmp_path: Path, extra: list[str], message: str):
    line = one_line_error([*_SINUSOID, "--out", str(tmp_path / "run"), *extra])
    assert message in line, line


def test_torchrun_is_refused(one_line_error, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "test")
    line = one_line_error([*_SINUSOID, "--out", str(tmp_path / "run"), "--engine", "lightning"])
    assert "run it without torchrun" in line, line


def test_without_lightning_names_the_extra(
    one_line_error, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setitem(sys.modules, "lightning", None)
    line = one_line_error([*_SINUSOID, "--out", str(tmp_path / "run"), "--engine", "lightning"])
    assert line.endswith('needs PyTorch Lightning: pip install "meta-train[lightning]"'), line


def test_skipped_updates_count_as_the_native_loop_counts_them(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, no_plots: None
) -> None:
    exploding = ["--iterations", "5", "--inner-lr", "1e6", "--on-nonfinite", "skip"]
    histories = []
    for engine in ("native", "lightning"):
        out = tmp_path / engine
        _run(capsys, out, *exploding, "--engine", engine)
        histories.append(json.loads((out / "history.json").read_text()))
        assert _checkpoint(out)["iteration"] == 5
    assert histories[0]["skipped"] == histories[1]["skipped"] == [1, 3, 4]


def test_a_nonfinite_update_stops_with_the_native_line(one_line_error, tmp_path: Path) -> None:
    argv = [*_SINUSOID, "--inner-lr", "1e6", "--out", str(tmp_path / "run")]
    line = one_line_error([*argv, "--engine", "lightning"])
    assert "non-finite meta-loss at meta-iteration 1" in line, line
    assert line.endswith("no checkpoint had been saved yet"), line


def test_sigint_stops_after_the_update_and_saves_the_checkpoint(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    no_plots: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = _report.ProgressPrinter.__call__

    def report_then_interrupt(self: _report.ProgressPrinter, at: int, meta_loss: float) -> None:
        report(self, at, meta_loss)
        if at == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(_report.ProgressPrinter, "__call__", report_then_interrupt)
    out = tmp_path / "run"
    assert main([*_SINUSOID, "--out", str(out), "--engine", "lightning"]) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "stopped by SIGINT after iteration 2/4" in err
    state = _checkpoint(out)
    assert state["iteration"] == 2
    assert len(state["history"]["meta_loss"]) == 2
    assert state["history"]["eval_loss"][0][0] == 2
    assert json.loads((out / "history.json").read_text())["meta_loss"] == pytest.approx(
        state["history"]["meta_loss"]
    )
