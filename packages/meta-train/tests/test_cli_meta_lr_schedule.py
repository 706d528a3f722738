"""``--meta-lr-schedule cosine`` / ``--min-meta-lr`` and ``--per-step-bn-weights`` (MAML++)."""

from __future__ import annotations

import math
import os
import signal
import tomllib
from pathlib import Path

import pytest
import torch
from meta_train import MetaTrainer
from meta_train.cli import _report, main

#: Every ``main`` run skips its plots; the Lightning test imports matplotlib through Lightning.
cli_run = pytest.mark.usefixtures("no_plots")

_COSINE = ["--meta-lr-schedule", "cosine", "--meta-lr", "0.01", "--min-meta-lr", "0.001"]


def _sinusoid(out: Path, *extra: str, iterations: int = 6) -> list[str]:
    return [
        "sinusoid",
        "--iterations",
        str(iterations),
        "--meta-batch",
        "2",
        "--eval-tasks",
        "3",
        "--eval-every",
        "2",
        "--no-progress",
        *extra,
        "--out",
        str(out),
    ]


def _cosine_lr(iteration: int, iterations: int, high: float, low: float) -> float:
    return low + (high - low) * (1 + math.cos(math.pi * iteration / iterations)) / 2


@cli_run
def test_cosine_schedule_is_recorded_and_anneals_to_the_minimum(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(_sinusoid(out, *_COSINE, "--iterations", "4")) == 0
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["meta-lr-schedule"] == "cosine"
    assert config["min-meta-lr"] == 0.001
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    assert checkpoint["scheduler"]["T_max"] == 4
    assert checkpoint["scheduler"]["last_epoch"] == 4
    assert checkpoint["meta_optimizer"]["param_groups"][0]["lr"] == pytest.approx(0.001)


@cli_run
def test_cosine_schedule_steps_once_per_meta_update(capsys, tmp_path):
    rates = []
    step = MetaTrainer._meta_step

    def spy(self: MetaTrainer, *args: object, **kwargs: object) -> object:
        rates.append(self.meta_optimizer.param_groups[0]["lr"])
        return step(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(MetaTrainer, "_meta_step", spy)
        assert main(_sinusoid(tmp_path / "run", *_COSINE, iterations=5)) == 0
    expected = [_cosine_lr(i, 5, 0.01, 0.001) for i in range(5)]
    assert rates == pytest.approx(expected)


@cli_run
def test_constant_schedule_is_the_default(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(_sinusoid(out, iterations=2)) == 0
    config = tomllib.loads((out / "config.toml").read_text())
    assert (config["meta-lr-schedule"], config["min-meta-lr"]) == ("constant", 0.0)
    checkpoint = torch.load(out / "checkpoint.pt", weights_only=True)
    assert checkpoint["scheduler"] is None
    assert checkpoint["meta_optimizer"]["param_groups"][0]["lr"] == 0.001


def _assert_same_checkpoint(a: Path, b: Path) -> None:
    first = torch.load(a / "checkpoint.pt", weights_only=True)
    second = torch.load(b / "checkpoint.pt", weights_only=True)
    assert first["iteration"] == second["iteration"]
    assert first["scheduler"] == second["scheduler"]
    assert first["meta_optimizer"]["param_groups"] == second["meta_optimizer"]["param_groups"]
    for key, value in first["module"].items():
        assert torch.equal(value, second["module"][key]), key
    assert first["history"] == second["history"]


@cli_run
def test_interrupted_cosine_run_resumes_bit_exact(capsys, tmp_path, monkeypatch):
    assert main(_sinusoid(tmp_path / "straight", *_COSINE)) == 0
    resumed = tmp_path / "resumed"
    report = _report.ProgressPrinter.__call__

    def report_then_interrupt(self: _report.ProgressPrinter, at: int, meta_loss: float) -> None:
        report(self, at, meta_loss)
        if at == 3:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(_report.ProgressPrinter, "__call__", report_then_interrupt)
    assert main(_sinusoid(resumed, *_COSINE)) == 130
    monkeypatch.setattr(_report.ProgressPrinter, "__call__", report)
    halfway = torch.load(resumed / "checkpoint.pt", weights_only=True)
    assert halfway["iteration"] == 3
    assert halfway["scheduler"]["last_epoch"] == 3
    assert main(["sinusoid", "--out", str(resumed), "--resume"]) == 0
    assert "resumed at iteration 3" in capsys.readouterr().out
    _assert_same_checkpoint(tmp_path / "straight", resumed)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--min-meta-lr", "0.001"], "--min-meta-lr applies to --meta-lr-schedule cosine only"),
        (
            ["--meta-lr-schedule", "cosine", "--min-meta-lr", "0.5", "--meta-lr", "0.1"],
            "--min-meta-lr 0.5 exceeds --meta-lr 0.1",
        ),
        (["--min-meta-lr", "-1"], "expected a finite number >= 0, got -1"),
        (["--meta-lr-schedule", "linear"], "invalid choice: 'linear'"),
        (["--per-step-bn-weights"], "--per-step-bn-weights applies to --algo mamlpp only"),
        (
            ["--algo", "mamlpp", "--per-step-bn-weights"],
            "the sinusoid model has no BatchNorm layer",
        ),
    ],
)
def test_invalid_schedule_options_are_one_line(tmp_path, one_line_error, extra, message):
    assert message in one_line_error(_sinusoid(tmp_path / "run", *extra))


def test_lightning_module_takes_the_same_builder():
    pytest.importorskip("lightning")
    import argparse

    from meta_algos import MAML
    from meta_train.cli._training import build_meta_lr_schedule
    from meta_train.lightning import MetaLightningModule

    args = argparse.Namespace(meta_lr_schedule="cosine", min_meta_lr=0.0, iterations=7)
    module = MetaLightningModule(
        MAML(torch.nn.Linear(1, 1)),
        torch.nn.functional.mse_loss,
        meta_lr=0.01,
        scheduler=lambda optimizer: build_meta_lr_schedule(args, optimizer),
    )
    configured = module.configure_optimizers()
    scheduler = configured["lr_scheduler"]
    assert isinstance(scheduler, torch.optim.lr_scheduler.CosineAnnealingLR)
    assert (scheduler.T_max, scheduler.eta_min) == (7, 0.0)
    assert module.engine.scheduler is scheduler
    with pytest.raises(ValueError, match="give scheduler_step"):
        MetaLightningModule(
            MAML(torch.nn.Linear(1, 1)),
            torch.nn.functional.mse_loss,
            scheduler_step=2,
            scheduler=lambda optimizer: build_meta_lr_schedule(args, optimizer),
        )


@pytest.mark.data
@cli_run
def test_omniglot_mamlpp_with_per_step_bn_weights(capsys, tmp_path, omniglot_archives):
    root = omniglot_archives(tmp_path, "images_background_small1.zip")
    out = tmp_path / "run"
    argv = [
        "omniglot",
        "--root",
        str(root),
        "--subset",
        "background_small1",
        "--algo",
        "mamlpp",
        "--per-step-bn-weights",
        *_COSINE,
        "--ways",
        "3",
        "--shots",
        "1",
        "--query-shots",
        "2",
        "--inner-steps",
        "2",
        "--iterations",
        "2",
        "--meta-batch",
        "2",
        "--eval-tasks",
        "3",
        "--eval-ways",
        "3",
        "--no-progress",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["per-step-bn-weights"] is True
    module = torch.load(out / "checkpoint.pt", weights_only=True)["module"]
    per_step = [key for key in module if key.startswith("per_step_bn.") and key.endswith("weight")]
    assert per_step
    assert all(module[key].shape[0] == 3 for key in per_step)
    assert main([*argv, "--resume"]) == 0
