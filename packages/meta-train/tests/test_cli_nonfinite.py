"""Non-finite meta-updates on the meta-train command line: --on-nonfinite raise (one line,
exit status 2, the last good checkpoint kept) and skip (counted in the history)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from meta_train.cli import main
from meta_train.cli._options import OPTION_GROUPS, PER_COMMAND, Defaults

_SMALL = ["--meta-batch", "2", "--eval-tasks", "3", "--no-progress"]
#: An inner step size that makes every task's adapted loss inf or NaN.
_EXPLODING_INNER_LR = ["--inner-lr", "1e12"]
#: A meta step size that leaves finite but huge weights after the first (finite) update, so
#: the second meta-loss is NaN.
_EXPLODING_META_LR = ["--meta-lr", "1e20"]


pytestmark = pytest.mark.usefixtures("no_plots")


def _sinusoid(out: Path, *extra: str, iterations: int = 5) -> list[str]:
    return ["sinusoid", "--iterations", str(iterations), *_SMALL, *extra, "--out", str(out)]


def _floating_tensors(value: Any) -> list[torch.Tensor]:
    """Every floating-point tensor inside a checkpoint's nested dicts and lists."""
    if isinstance(value, torch.Tensor):
        return [value] if value.is_floating_point() else []
    if isinstance(value, dict):
        return [t for item in value.values() for t in _floating_tensors(item)]
    if isinstance(value, list | tuple):
        return [t for item in value for t in _floating_tensors(item)]
    return []


def test_a_nan_stops_the_run_with_one_line(tmp_path, one_line_error):
    out = tmp_path / "run"
    # the example: with the default meta-batch of 25, some task's loss is inf at once
    argv = ["sinusoid", "--inner-lr", "1e6", "--iterations", "5", "--no-progress"]
    line = one_line_error([*argv, "--out", str(out)])
    assert line.startswith(
        "meta-train sinusoid: error: non-finite meta-loss at meta-iteration 1: it is "
    )
    # the remedies are the CLI's flags, not the library's keyword arguments
    assert (
        "; lower --inner-lr or --meta-lr, set --grad-clip, or pass --on-nonfinite skip to skip "
        "such updates; no checkpoint had been saved yet"
    ) in line
    assert "grad_clip" not in line
    assert "on_nonfinite" not in line
    assert not (out / "checkpoint.pt").exists()


def test_a_nan_keeps_the_last_good_checkpoint(tmp_path, one_line_error):
    out = tmp_path / "run"
    argv = _sinusoid(out, *_EXPLODING_META_LR, "--checkpoint-every", "1")
    line = one_line_error(argv)
    checkpoint = out / "checkpoint.pt"
    assert "non-finite meta-loss at meta-iteration 2: it is nan" in line
    assert line.endswith(f"; the last good checkpoint is kept: {checkpoint}")
    payload = torch.load(checkpoint, weights_only=True)
    assert payload["iteration"] == 1
    tensors = _floating_tensors(payload)
    assert tensors
    assert all(bool(torch.isfinite(tensor).all()) for tensor in tensors)


def test_skip_finishes_and_counts_the_skipped_updates(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(_sinusoid(out, *_EXPLODING_INNER_LR, "--on-nonfinite", "skip")) == 0
    printed = capsys.readouterr()
    assert "Traceback" not in printed.err
    assert "skipped 5 non-finite meta-update(s) (--on-nonfinite skip)" in printed.out
    history = json.loads((out / "history.json").read_text())
    assert history["skipped"] == [1, 2, 3, 4, 5]
    assert all(not math.isfinite(loss) for loss in history["meta_loss"])
    header, *rows = (out / "history.csv").read_text().splitlines()
    assert header.endswith(",skipped")
    assert [row.rsplit(",", 1)[1] for row in rows] == ["1"] * 5
    assert 'on-nonfinite = "skip"\n' in (out / "config.toml").read_text()
    assert json.loads((out / "metrics.json").read_text())["skipped_updates"] == 5


def test_a_run_stopped_by_a_nan_resumes_skipping(tmp_path, one_line_error):
    out = tmp_path / "run"
    one_line_error(_sinusoid(out, *_EXPLODING_META_LR, "--checkpoint-every", "1"))
    argv = ["sinusoid", "--out", str(out), "--resume", "--on-nonfinite", "skip", "--no-progress"]
    assert main(argv) == 0
    history = json.loads((out / "history.json").read_text())
    assert history["skipped"] == [2, 3, 4, 5]
    assert len(history["meta_loss"]) == 5
    assert json.loads((out / "metrics.json").read_text())["skipped_updates"] == 4


def test_on_nonfinite_takes_raise_or_skip(capsys, tmp_path):
    with pytest.raises(SystemExit) as excinfo:
        main(_sinusoid(tmp_path / "run", "--on-nonfinite", "ignore"))
    assert excinfo.value.code == 2
    assert "--on-nonfinite: invalid choice: 'ignore'" in capsys.readouterr().err


def test_resume_of_a_foreign_checkpoint_is_one_line(capsys, tmp_path, one_line_error):
    out = tmp_path / "run"
    assert main(_sinusoid(out, iterations=1)) == 0
    capsys.readouterr()
    torch.save({"weights": torch.zeros(2)}, out / "checkpoint.pt")
    line = one_line_error(["sinusoid", "--out", str(out), "--resume"])
    assert line.startswith(
        f"meta-train sinusoid: error: --resume: cannot load {str(out / 'checkpoint.pt')!r}: "
    )


def test_every_per_command_default_is_a_defaults_field():
    per_command = {
        option.dest
        for options in OPTION_GROUPS.values()
        for option in options
        if option.default is PER_COMMAND
    }
    required = {name for name in Defaults._fields if name not in Defaults._field_defaults}
    assert per_command == required
