"""Run directories of the meta-train command line: resume, no silent overwrite, interrupts."""

from __future__ import annotations

import os
import random
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from meta_train import History
from meta_train.cli import _report, main

_SMALL = ["--meta-batch", "2", "--eval-tasks", "3", "--eval-every", "2", "--no-progress"]


pytestmark = pytest.mark.usefixtures("no_plots")


def _sinusoid(out: Path, *extra: str, iterations: int = 6) -> list[str]:
    return ["sinusoid", "--iterations", str(iterations), *_SMALL, *extra, "--out", str(out)]


def _interrupt_at(monkeypatch: pytest.MonkeyPatch, iteration: int) -> Callable[..., None]:
    """Send this process SIGINT once the run reports ``iteration`` (a real signal).

    Returns:
        The original ``ProgressPrinter.__call__``, to put back.
    """
    report = _report.ProgressPrinter.__call__

    def report_then_interrupt(self: _report.ProgressPrinter, at: int, meta_loss: float) -> None:
        report(self, at, meta_loss)
        if at == iteration:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(_report.ProgressPrinter, "__call__", report_then_interrupt)
    return report


def _assert_same_state(a: Path, b: Path) -> None:
    first = torch.load(a / "checkpoint.pt", weights_only=True)
    second = torch.load(b / "checkpoint.pt", weights_only=True)
    assert first["iteration"] == second["iteration"]
    assert first["module"].keys() == second["module"].keys()
    for key, value in first["module"].items():
        assert torch.equal(value, second["module"][key]), key
    first_state = first["meta_optimizer"]["state"]
    second_state = second["meta_optimizer"]["state"]
    assert first_state.keys() == second_state.keys()
    for index, entries in first_state.items():
        for name, value in entries.items():
            assert torch.equal(value, second_state[index][name]), (index, name)
    assert first["history"] == second["history"]
    assert History.from_json(a / "history.json") == History.from_json(b / "history.json")
    assert (a / "history.csv").read_text() == (b / "history.csv").read_text()


@pytest.mark.parametrize("batched", [False, True], ids=["loop", "batched"])
def test_interrupted_and_resumed_run_equals_the_uninterrupted_one(
    capsys, tmp_path, monkeypatch, batched
):
    flags = ["--batched"] if batched else []
    assert main(_sinusoid(tmp_path / "straight", *flags)) == 0

    resumed = tmp_path / "resumed"
    original = _interrupt_at(monkeypatch, 3)
    assert main(_sinusoid(resumed, *flags)) == 130
    monkeypatch.setattr(_report.ProgressPrinter, "__call__", original)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "stopped by SIGINT after iteration 3/6" in err
    assert f"resume with: meta-train sinusoid --out {resumed} --resume" in err
    assert torch.load(resumed / "checkpoint.pt", weights_only=True)["iteration"] == 3
    assert History.from_json(resumed / "history.json").iterations == 3

    assert main(["sinusoid", "--out", str(resumed), "--resume"]) == 0
    assert "resumed at iteration 3" in capsys.readouterr().out
    _assert_same_state(tmp_path / "straight", resumed)


@pytest.mark.slow
def test_resume_after_kill_9_equals_the_uninterrupted_run(capsys, tmp_path):
    """SIGKILL at a random moment after the first checkpoint, then --resume: bit-for-bit."""
    iterations = 40
    extra = ("--batched", "--checkpoint-every", "1")
    assert main(_sinusoid(tmp_path / "straight", *extra, iterations=iterations)) == 0
    capsys.readouterr()
    killed = tmp_path / "killed"
    argv = [sys.executable, "-m", "meta_train", *_sinusoid(killed, *extra, iterations=iterations)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_for(process, killed / "checkpoint.pt")
        time.sleep(random.uniform(0.0, 0.5))
        process.kill()
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert main(["sinusoid", "--out", str(killed), "--resume"]) == 0
    capsys.readouterr()
    _assert_same_state(tmp_path / "straight", killed)


def _wait_for(process: subprocess.Popen[str] | subprocess.Popen[bytes], path: Path) -> None:
    deadline = time.monotonic() + 120
    while not path.is_file():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no {path.name} within 120 s"
        time.sleep(0.02)


def test_a_run_directory_is_never_overwritten_silently(capsys, tmp_path, one_line_error):
    out = tmp_path / "run"
    assert main(_sinusoid(out, iterations=2)) == 0
    capsys.readouterr()
    line = one_line_error(_sinusoid(out, iterations=3))
    assert f"--out {str(out)!r} already holds a run" in line
    assert "--resume" in line
    assert "--overwrite" in line
    assert torch.load(out / "checkpoint.pt", weights_only=True)["iteration"] == 2

    assert main([*_sinusoid(out, iterations=3), "--overwrite"]) == 0
    assert torch.load(out / "checkpoint.pt", weights_only=True)["iteration"] == 3
    assert "iterations = 3\n" in (out / "config.toml").read_text()


def test_resume_refuses_options_that_differ_from_the_run(capsys, tmp_path, one_line_error):
    out = tmp_path / "run"
    assert main(_sinusoid(out, iterations=2)) == 0
    capsys.readouterr()
    line = one_line_error(["sinusoid", "--out", str(out), "--resume", "--meta-batch", "5"])
    assert "--resume: --meta-batch 5 differs from the run's 2" in line
    assert str(out / "config.toml") in line
    line = one_line_error(["sinusoid", "--out", str(out), "--resume", "--batched"])
    assert "--resume: --batched on differs from the run's off" in line
    # the same values again are fine, and so are display options
    argv = ["sinusoid", "--out", str(out), "--resume", "--meta-batch", "2", "--no-progress"]
    assert main(argv) == 0


def test_resume_needs_a_run(tmp_path, one_line_error):
    line = one_line_error(["sinusoid", "--out", str(tmp_path / "none"), "--resume"])
    assert "--resume:" in line
    assert "checkpoint.pt' does not exist" in line
    assert not (tmp_path / "none").exists()


def test_resume_of_a_broken_checkpoint_is_one_line(capsys, tmp_path, one_line_error):
    out = tmp_path / "run"
    assert main(_sinusoid(out, iterations=1)) == 0
    capsys.readouterr()
    (out / "checkpoint.pt").write_bytes(b"not a checkpoint")
    line = one_line_error(["sinusoid", "--out", str(out), "--resume"])
    assert f"--resume: cannot load {str(out / 'checkpoint.pt')!r}" in line


def test_resume_and_overwrite_exclude_each_other(capsys, tmp_path):
    with pytest.raises(SystemExit) as excinfo:
        main(["sinusoid", "--out", str(tmp_path), "--resume", "--overwrite"])
    assert excinfo.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"]
)
def test_signal_saves_a_resumable_checkpoint(tmp_path, signum, status):
    out = tmp_path / "run"
    argv = [
        sys.executable,
        "-m",
        "meta_train",
        *_sinusoid(out, "--checkpoint-every", "5", iterations=100_000),
    ]
    process = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path
    )
    try:
        _wait_for(process, out / "checkpoint.pt")
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == status, stderr
    assert "Traceback" not in stderr
    name = signal.Signals(signum).name
    assert f"meta-train: stopped by {name} after iteration" in stderr
    command = f"meta-train sinusoid --out {shlex.quote(str(out))} --resume"
    assert stderr.rstrip().endswith(f"resume with: {command}"), stderr
    payload = torch.load(out / "checkpoint.pt", weights_only=True)
    assert 5 <= payload["iteration"] < 100_000
    assert History.from_json(out / "history.json").iterations == payload["iteration"]
    assert not list(out.glob(".*.tmp"))
