"""Omniglot through the CLI: ``kill -9`` at a random moment, then ``--resume``, bit-for-bit.

The per-task loop path on real Omniglot (../shared/data/omniglot or ``META_OMNIGLOT_ROOT``):
the resumed run's parameters, Adam state and history equal those of a run never interrupted.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ITERATIONS = 30


def _run(argv: list[str]) -> None:
    finished = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr


def _wait_for(process: subprocess.Popen[bytes], path: Path) -> None:
    deadline = time.monotonic() + 300
    while not path.is_file():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"no {path.name} within 300 s"
        time.sleep(0.02)


def _state(run: Path) -> dict[str, object]:
    checkpoint: dict[str, object] = torch.load(run / "checkpoint.pt", weights_only=True)
    return checkpoint


def _assert_equal(a: object, b: object, where: str) -> None:
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor), where
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict), where
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_equal(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple), where
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_equal(x, y, f"{where}[{index}]")
    else:
        assert a == b, where


@pytest.mark.slow
def test_omniglot_loop_resumes_bit_for_bit_after_kill_9(tmp_path, omniglot_argv):
    def _argv(out: Path, *extra: str) -> list[str]:
        return omniglot_argv(out, "--eval-every", "4", *extra, iterations=ITERATIONS)

    straight, killed = tmp_path / "straight", tmp_path / "killed"
    _run(_argv(straight))

    process = subprocess.Popen(
        _argv(killed, "--checkpoint-every", "1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(process, killed / "checkpoint.pt")
        time.sleep(random.uniform(0.0, 0.3))
        process.kill()
        process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    interrupted_at = _state(killed)["iteration"]
    assert isinstance(interrupted_at, int)
    assert 1 <= interrupted_at < ITERATIONS, interrupted_at
    _run([sys.executable, "-m", "meta_train", "omniglot", "--out", str(killed), "--resume"])

    first, second = _state(straight), _state(killed)
    assert first["iteration"] == second["iteration"] == ITERATIONS, interrupted_at
    for section in ("module", "meta_optimizer", "history"):
        _assert_equal(first[section], second[section], section)
    assert (straight / "history.csv").read_text() == (killed / "history.csv").read_text()
