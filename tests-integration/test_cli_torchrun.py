"""``torchrun -m meta_train``: 2 CPU processes (gloo) equal 1 process; resume is exact per rank.

Under torchrun every rank draws the whole meta-batch from a sampler seeded with ``--seed``
and keeps its share (see ``meta_train.cli._distributed``), so a 2-process run meta-trains on
the tasks of the 1-process run with the same ``--meta-batch``: their meta-losses and final
parameters differ only by the order of floating-point sums (float32; tolerance ``rtol=1e-5``,
``atol=1e-6``, where the observed differences are ~1e-8).

The interrupted run is launched through this file (``python -m torch.distributed.run ...
test_cli_torchrun.py stop-at K <meta-train arguments>``): rank 0 sends SIGTERM to the torchrun
agent after meta-update K, and the agent forwards it to both ranks, as it does when torchrun
itself is stopped.
"""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import torch
from meta_nn import MLP
from meta_train import History
from meta_train.cli import _report, main

WORLD_SIZE = 2
ARGS = [
    "sinusoid",
    "--iterations",
    "6",
    "--meta-batch",
    "4",
    "--shots",
    "5",
    "--query-shots",
    "5",
    "--eval-tasks",
    "3",
    "--eval-every",
    "3",
    "--seed",
    "3",
    "--no-progress",
]
STOP_AT = 3
TOLERANCE = {"rtol": 1e-5, "atol": 1e-6}


def _block_matplotlib() -> None:
    """Plots are tested elsewhere; without matplotlib the runs stay fast."""
    for name in [name for name in sys.modules if name.split(".")[0] == "matplotlib"]:
        del sys.modules[name]
    sys.modules["matplotlib"] = None  # type: ignore[assignment]


def _torchrun(*command: str, expect_success: bool = True) -> str:
    """Run ``torchrun --standalone --nproc-per-node 2 <command>``; return its output."""
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node",
            str(WORLD_SIZE),
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    output = completed.stdout + completed.stderr
    if expect_success:
        assert completed.returncode == 0, output
    else:
        assert completed.returncode != 0, output
    return output


def _checkpoint(out: Path) -> dict:
    return torch.load(out / "checkpoint.pt", weights_only=True)


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The uninterrupted 2-process run (``-m meta_train``, as users launch it) and its output."""
    out = tmp_path_factory.mktemp("torchrun") / "two"
    output = _torchrun("-m", "meta_train", *ARGS, "--out", str(out))
    return out, output


def test_two_processes_equal_one_process(
    two_ranks: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    two, output = two_ranks
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    one = tmp_path / "one"
    assert main([*ARGS, "--out", str(one)]) == 0

    # Rank 0 alone prints (and writes), the other rank stays quiet.
    assert output.count("meta-train sinusoid: maml, 6 iterations") == 1
    assert output.count("iteration 6/6") == 1
    assert output.count("wrote ") == 1
    assert f", {WORLD_SIZE} processes (torchrun), output {two}" in output
    events = len(list(two.glob("events.out.tfevents.*")))
    assert events == (1 if importlib.util.find_spec("tensorboard") is not None else 0)
    assert tomllib.loads((two / "config.toml").read_text())["world-size"] == WORLD_SIZE
    assert tomllib.loads((one / "config.toml").read_text())["world-size"] == 1

    two_history = History.from_json(two / "history.json")
    one_history = History.from_json(one / "history.json")
    assert len(two_history.meta_loss) == 6
    torch.testing.assert_close(
        torch.tensor(two_history.meta_loss), torch.tensor(one_history.meta_loss), **TOLERANCE
    )
    assert [it for it, _ in two_history.eval_loss] == [3, 6]
    torch.testing.assert_close(
        torch.tensor(two_history.eval_loss), torch.tensor(one_history.eval_loss), **TOLERANCE
    )
    two_state, one_state = _checkpoint(two), _checkpoint(one)
    assert two_state["module"].keys() == one_state["module"].keys()
    for name, value in one_state["module"].items():
        torch.testing.assert_close(two_state["module"][name], value, **TOLERANCE, msg=name)
    # The runs did learn (so equality is no accident of an unchanged model).
    torch.manual_seed(3)
    initial = MLP([1, 40, 40, 1]).state_dict()
    assert not torch.equal(one_state["module"]["module.head.weight"], initial["head.weight"])

    # Every rank's RNG states are in the checkpoint: the same sampler stream on both ranks,
    # global generators seeded --seed + rank.
    by_rank = two_state["rng_by_rank"]
    assert len(by_rank) == WORLD_SIZE
    assert torch.equal(two_state["rng"]["torch"], by_rank[0]["torch"])
    assert torch.equal(by_rank[0]["sampler"], by_rank[1]["sampler"])
    assert not torch.equal(by_rank[0]["torch"], by_rank[1]["torch"])
    assert "rng_by_rank" not in one_state


def test_resume_after_sigterm_equals_the_uninterrupted_run_on_every_rank(
    two_ranks: tuple[Path, str], tmp_path: Path
) -> None:
    two, _ = two_ranks
    out = tmp_path / "resumed"
    output = _torchrun(
        __file__, "stop-at", str(STOP_AT), *ARGS, "--out", str(out), expect_success=False
    )
    assert f"stopped by SIGTERM after iteration {STOP_AT}/6" in output
    resume = f"torchrun --nproc-per-node {WORLD_SIZE} -m meta_train sinusoid --out {out} --resume"
    assert f"resume with: {resume}" in output
    stopped = _checkpoint(out)
    assert stopped["iteration"] == STOP_AT
    assert len(stopped["rng_by_rank"]) == WORLD_SIZE

    _torchrun("-m", "meta_train", "sinusoid", "--out", str(out), "--resume")

    resumed, uninterrupted = _checkpoint(out), _checkpoint(two)
    assert resumed["iteration"] == uninterrupted["iteration"] == 6
    for name, value in uninterrupted["module"].items():
        assert torch.equal(resumed["module"][name], value), name
    for index, entries in uninterrupted["meta_optimizer"]["state"].items():
        for name, value in entries.items():
            assert torch.equal(resumed["meta_optimizer"]["state"][index][name], value)
    assert resumed["history"] == uninterrupted["history"]
    assert History.from_json(out / "history.json") == History.from_json(two / "history.json")
    for rank in range(WORLD_SIZE):
        mine, reference = resumed["rng_by_rank"][rank], uninterrupted["rng_by_rank"][rank]
        assert torch.equal(mine["torch"], reference["torch"]), rank
        assert torch.equal(mine["sampler"], reference["sampler"]), rank
        assert mine["python"] == reference["python"], rank


def test_resume_with_another_world_size_is_refused_naming_both(
    two_ranks: tuple[Path, str], capsys: pytest.CaptureFixture[str]
) -> None:
    two, _ = two_ranks
    before = (two / "checkpoint.pt").read_bytes()
    with pytest.raises(SystemExit) as excinfo:
        main(["sinusoid", "--out", str(two), "--resume"])
    assert excinfo.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert re.search(
        r"--resume: cannot load .*checkpoint\.pt'.* was saved by a run of world size 2, but "
        r"this run has world size 1; resume it with 2 process\(es\)",
        lines[0],
    ), lines[0]
    assert (two / "checkpoint.pt").read_bytes() == before


def test_a_nan_stops_every_rank_and_rank_0_alone_says_so(tmp_path: Path) -> None:
    out = tmp_path / "nan"
    argv = ["-m", "meta_train", *ARGS, "--inner-lr", "1e12", "--out", str(out)]
    output = _torchrun(*argv, expect_success=False)
    stops = [line for line in output.splitlines() if "non-finite meta-loss" in line]
    assert len(stops) == 1, output
    assert "at meta-iteration 1" in stops[0]
    assert stops[0].endswith("no checkpoint had been saved yet")
    assert not (out / "checkpoint.pt").exists()


def _stop_agent_at(iteration: int) -> None:
    """Make rank 0 send SIGTERM to the torchrun agent after meta-update ``iteration``.

    It then waits for the agent's forwarded SIGTERM to arrive, so that the stop lands after
    exactly that meta-update.
    """
    report = _report.ProgressPrinter.__call__

    def report_then_stop(self: _report.ProgressPrinter, at: int, meta_loss: float) -> None:
        report(self, at, meta_loss)
        if at == iteration:
            os.kill(os.getppid(), signal.SIGTERM)
            time.sleep(2.0)

    _report.ProgressPrinter.__call__ = report_then_stop  # type: ignore[method-assign]


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "stop-at":
        _block_matplotlib()
        _stop_agent_at(int(sys.argv[2]))
        sys.exit(main(sys.argv[3:]))
    raise SystemExit(f"usage: {sys.argv[0]} stop-at ITERATION META-TRAIN-ARGUMENTS...")
