"""TensorBoard event files of meta-train runs: written with the extra, one line without it."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest
from meta_train import History
from meta_train.cli import _report, main
from meta_train.cli._tensorboard import ENABLE_HINT, TensorBoardLog

_SMALL = ["--meta-batch", "2", "--eval-tasks", "3", "--eval-every", "2", "--no-progress"]


pytestmark = pytest.mark.usefixtures("no_plots")


def _sinusoid(out: Path, *extra: str) -> list[str]:
    return ["sinusoid", "--iterations", "4", *_SMALL, *extra, "--out", str(out)]


def _scalars(out: Path) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in ``out``'s event files: ``{tag: [(step, value), ...]}``."""
    accumulator_module = pytest.importorskip(
        "tensorboard.backend.event_processing.event_accumulator"
    )
    accumulator = accumulator_module.EventAccumulator(str(out))
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


def _assert_matches_history(scalars: dict[str, list[tuple[int, float]]], out: Path) -> None:
    history = History.from_json(out / "history.json")
    expected = {
        "train/meta_loss": list(enumerate(history.meta_loss, start=1)),
        "validation/loss": history.eval_loss,
    }
    assert scalars.keys() == expected.keys()
    for tag, records in expected.items():
        assert [step for step, _ in scalars[tag]] == [step for step, _ in records], tag
        # Event files store float32.
        assert [value for _, value in scalars[tag]] == pytest.approx(
            [value for _, value in records], rel=1e-6
        ), tag


def test_run_writes_scalars_into_the_run_directory(tmp_path: Path) -> None:
    pytest.importorskip("torch.utils.tensorboard")
    out = tmp_path / "run"
    assert main(_sinusoid(out)) == 0
    assert len(list(out.glob("events.out.tfevents.*"))) == 1
    _assert_matches_history(_scalars(out), out)


def test_resumed_run_continues_the_curves_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("torch.utils.tensorboard")
    out = tmp_path / "run"
    report = _report.ProgressPrinter.__call__

    def report_then_interrupt(self: _report.ProgressPrinter, at: int, meta_loss: float) -> None:
        report(self, at, meta_loss)
        if at == 2:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(_report.ProgressPrinter, "__call__", report_then_interrupt)
    assert main(_sinusoid(out)) == 130
    monkeypatch.setattr(_report.ProgressPrinter, "__call__", report)
    assert main(_sinusoid(out, "--resume")) == 0
    capsys.readouterr()
    assert len(list(out.glob("events.out.tfevents.*"))) == 2
    _assert_matches_history(_scalars(out), out)  # steps 1-4 once each, across both files


def test_resuming_a_finished_run_adds_no_event_file(tmp_path: Path) -> None:
    pytest.importorskip("torch.utils.tensorboard")
    out = tmp_path / "run"
    assert main(_sinusoid(out)) == 0
    events = sorted(out.glob("events.out.tfevents.*"))
    assert main(_sinusoid(out, "--resume")) == 0  # nothing left to train: evaluates only
    assert sorted(out.glob("events.out.tfevents.*")) == events
    _assert_matches_history(_scalars(out), out)


def test_overwrite_starts_new_event_files(tmp_path: Path) -> None:
    pytest.importorskip("torch.utils.tensorboard")
    out = tmp_path / "run"
    assert main(_sinusoid(out)) == 0
    first = set(out.glob("events.out.tfevents.*"))
    assert main(_sinusoid(out, "--overwrite", "--seed", "1")) == 0
    files = set(out.glob("events.out.tfevents.*"))
    assert len(files) == 1
    assert files.isdisjoint(first)
    _assert_matches_history(_scalars(out), out)


def test_without_tensorboard_one_line_says_how_to_enable_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # import fails
    out = tmp_path / "run"
    assert main(_sinusoid(out)) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line for line in printed if "TensorBoard" in line] == [ENABLE_HINT]
    assert 'pip install "meta-train[tensorboard]"' in ENABLE_HINT
    assert not list(out.glob("events.out.tfevents.*"))
    assert (out / "history.json").is_file()


class _Recorder:
    """Stands in for a SummaryWriter: keeps what was logged."""

    def __init__(self) -> None:
        self.scalars: list[tuple[str, float, int]] = []
        self.flushed = 0
        self.closed = False

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.scalars.append((tag, value, step))

    def flush(self) -> None:
        self.flushed = len(self.scalars)

    def close(self) -> None:
        self.closed = True


def test_log_records_classification_accuracy_and_evaluations_at_their_step() -> None:
    writer = _Recorder()
    log = TensorBoardLog(writer)
    history = History()
    log.record(history)  # nothing recorded yet: nothing written
    history.meta_loss.append(1.5)
    history.meta_accuracy.append(0.25)
    log.record(history)
    history.meta_loss.append(1.0)
    history.meta_accuracy.append(0.5)
    history.eval_loss.append((2, 0.75))
    history.eval_accuracy.append((2, 0.625))
    log.record(history)
    history.meta_loss.append(0.5)
    history.meta_accuracy.append(0.75)
    log.record(history)  # the evaluation of step 2 is not written again
    assert writer.flushed == 8  # every record reaches the disk at once
    log.close()
    assert writer.scalars == [
        ("train/meta_loss", 1.5, 1),
        ("train/accuracy", 0.25, 1),
        ("train/meta_loss", 1.0, 2),
        ("train/accuracy", 0.5, 2),
        ("validation/loss", 0.75, 2),
        ("validation/accuracy", 0.625, 2),
        ("train/meta_loss", 0.5, 3),
        ("train/accuracy", 0.75, 3),
    ]
    assert writer.closed
