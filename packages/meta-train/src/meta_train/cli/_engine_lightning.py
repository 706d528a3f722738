"""``meta-train sinusoid|omniglot ... --engine lightning``: the same run on ``lightning.Trainer``.

The command's setup, the ``--algo`` meta-learner (`build_algorithm`), Adam at ``--meta-lr``
with its ``--meta-lr-schedule`` (`build_meta_lr_schedule`), ``--grad-clip``,
``--on-nonfinite`` and the seeds are the native run's; Lightning owns the loop through
[`MetaLightningModule`][meta_train.lightning.MetaLightningModule], whose training step
is [`MetaTrainer`][meta_train.MetaTrainer]'s meta-update. The meta-batches are drawn from the
command's sampler in the native order (each process draws the whole meta-batch and keeps its
share, as under ``torchrun``), so on the CPU both engines make the same updates. The run
directory is the native one: ``config.toml`` (with ``engine = "lightning"``), a
``checkpoint.pt`` in meta-train's format (``meta-train evaluate DIR`` reads it), the history
from the logged meta-losses and evaluations, ``metrics.json`` and the plots, plus Lightning's
``CSVLogger`` (and ``TensorBoardLogger`` when TensorBoard is installed) logs in
``DIR/lightning``. ``--devices``, ``--strategy`` and ``--precision`` go to
``lightning.Trainer``. Refused in one line: ``--resume`` and a ``torchrun`` launch (Lightning
starts its own processes for ``--devices N``).
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import shutil
import sys
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from meta_tasks import Task, TaskSampler

from .._history import History
from .._trainer import MetaTrainer, NonFiniteError
from ._distributed import Ranks, RankShare, agreed_signal, share_bounds
from ._interrupt import Aborted, Interrupts, StopRequested, exit_status
from ._report import ProgressPrinter
from ._rundir import CHECKPOINT_NAME, fail, start
from ._training import (
    Command,
    Setup,
    _fail_nonfinite,
    _seed_everything,
    build_algorithm,
    build_meta_lr_schedule,
    report_run,
)

if TYPE_CHECKING:
    import lightning

#: The folder of the run directory that Lightning's loggers write into.
LOGS_NAME = "lightning"
_INSTALL = 'pip install "meta-train[lightning]"'


def _check_lightning(parser: argparse.ArgumentParser) -> None:
    """Exit with status 2 and one line naming the extra to install when Lightning is missing."""
    if importlib.util.find_spec("lightning") is None:
        fail(parser, f"--engine lightning needs PyTorch Lightning: {_INSTALL}")


def _refuse_unsupported(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse in one line what the native loop does and this engine does not."""
    if args.resume:
        fail(
            parser,
            "--resume: --engine lightning cannot continue a run yet (its checkpoint.pt is "
            "meta-train's, for `meta-train evaluate`); start afresh with --overwrite",
        )
    device = torch.device(args.device)
    if device.index is not None and args.devices is not None:
        fail(
            parser,
            f"--device {args.device} names one device, so --devices {args.devices} does not "
            f"apply; use --device {device.type} --devices {args.devices}",
        )
    if args.strategy is not None and ("spawn" in args.strategy or "fork" in args.strategy):
        fail(
            parser,
            f"--strategy {args.strategy} trains in processes that hand back only the weights, "
            "not the history this run records; use --strategy ddp",
        )
    if torch.distributed.is_available() and torch.distributed.is_torchelastic_launched():
        fail(
            parser,
            "--engine lightning starts its own processes (--devices N --strategy ddp); "
            "run it without torchrun",
        )


class _SharedBatches:
    """``count`` meta-batches drawn as the native loop draws them: this rank's share of each.

    Every process wraps an identically seeded sampler and draws the whole meta-batch (see
    `RankShare`), so the processes together train on the tasks of a one-process run.
    """

    def __init__(self, sampler: TaskSampler, meta_batch: int, ranks: Ranks, count: int) -> None:
        self.share = RankShare(sampler, meta_batch, ranks)
        start, stop = share_bounds(meta_batch, ranks)
        self.size = stop - start
        self.count = count

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[list[Task]]:
        for _ in range(self.count):
            yield self.share.sample(self.size)


def _data_module(
    setup: Setup, args: argparse.Namespace, ranks: Ranks, remaining: int
) -> lightning.LightningDataModule:
    """The run's meta-batches (`_SharedBatches`) and validation tasks, in one batch.

    Not a ``MetaDataModule``: its ``TaskStream`` reseeds the sampler per meta-batch, which
    would draw other tasks than the native loop does.
    """
    import lightning

    from meta_train.lightning import EvalBatches

    class _RunData(lightning.LightningDataModule):
        def train_dataloader(self) -> _SharedBatches:
            return _SharedBatches(setup.train_sampler, args.meta_batch, ranks, remaining)

        def val_dataloader(self) -> EvalBatches:
            return EvalBatches(setup.validation, max(1, len(setup.validation)))

    return _RunData()


class _Recorder:
    """What the native loop does after each meta-update, as Lightning callback hooks.

    Counts meta-updates (a skipped one too, as the native loop does), records the logged
    meta-loss, accuracy and evaluations in ``engine.history``, saves ``--checkpoint-every``
    checkpoints, prints progress lines (after the evaluation that follows a meta-update, as
    the native loop does) and stops between meta-updates on SIGINT/SIGTERM.
    """

    def __init__(
        self,
        engine: MetaTrainer,
        args: argparse.Namespace,
        interrupts: Interrupts,
        checkpoint: Path,
        *,
        validates: bool,
    ) -> None:
        self.engine = engine
        self.args = args
        self.interrupts = interrupts
        self.checkpoint = checkpoint
        self.validates = validates
        self.eval_every: int = args.eval_every or max(1, args.iterations // 10)
        self.printer: ProgressPrinter | None = None
        self.steps = 0
        #: Meta-updates made so far, a skipped one too (as the native loop counts them).
        self.iteration = 0
        self.loss = math.nan

    def begin(self, trainer: Any) -> None:
        """Start the progress lines on the printing process without a bar (``on_train_start``)."""
        if trainer.is_global_zero and not trainer.progress_bar_callback:
            self.printer = ProgressPrinter(self.args.iterations, self.history)

    @property
    def history(self) -> History:
        """The engine's history, which ``write_outputs`` and the checkpoint read."""
        return self.engine.history

    def after_update(self, trainer: Any) -> None:
        """Record the meta-update that just ended (``on_train_batch_end``)."""
        metrics = trainer.callback_metrics
        # The module sets engine.iteration to trainer.global_step, which skips do not advance.
        self.iteration += 1
        self.engine.iteration = self.iteration
        self.loss = loss = float(metrics["train/meta_loss"])
        self.history.meta_loss.append(loss)
        if trainer.global_step == self.steps:
            self.history.skipped.append(self.iteration)
        self.steps = trainer.global_step
        if "train/accuracy" in metrics:
            self.history.meta_accuracy.append(float(metrics["train/accuracy"]))
        if self.iteration % self.eval_every != 0 or not self.validates:
            self._finish_update()

    def after_validation(self, trainer: Any) -> None:
        """Record the periodic evaluation that just ended (``on_validation_end``)."""
        metrics = trainer.callback_metrics
        iteration = self.iteration
        if "validation/loss" in metrics:
            self.history.eval_loss.append((iteration, float(metrics["validation/loss"])))
        if "validation/accuracy" in metrics:
            self.history.eval_accuracy.append((iteration, float(metrics["validation/accuracy"])))
        self._finish_update()

    def _finish_update(self) -> None:
        """After an update and its evaluation, as the native loop: print, checkpoint, stop."""
        if self.printer is not None:
            self.printer(self.iteration, self.loss)
        every = self.args.checkpoint_every
        if every is not None and self.iteration % every == 0:
            self.engine.save_checkpoint(self.checkpoint)
        signum = agreed_signal(self.interrupts.signum, self.engine.device)
        if signum is not None:
            raise StopRequested(signum)


def _callback(recorder: _Recorder) -> lightning.Callback:
    """A ``lightning.Callback`` that hands its hooks to ``recorder``."""
    import lightning

    class _Hooks(lightning.Callback):
        def on_train_start(
            self, trainer: lightning.Trainer, pl_module: lightning.LightningModule
        ) -> None:
            recorder.begin(trainer)

        def on_train_batch_end(self, trainer: lightning.Trainer, *_: Any) -> None:
            recorder.after_update(trainer)

        def on_validation_end(
            self, trainer: lightning.Trainer, pl_module: lightning.LightningModule
        ) -> None:
            if not trainer.sanity_checking:
                recorder.after_validation(trainer)

    return _Hooks()


def _loggers(out: Path) -> list[Any]:
    """A ``CSVLogger`` and, when TensorBoard is installed, a ``TensorBoardLogger`` in ``out``."""
    from lightning.fabric.loggers.tensorboard import _TENSORBOARD_AVAILABLE
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    folder = out / LOGS_NAME
    shutil.rmtree(folder, ignore_errors=True)  # a fresh run (or --overwrite) starts new logs
    loggers: list[Any] = [CSVLogger(folder, name="", version="")]
    if _TENSORBOARD_AVAILABLE:
        loggers.append(TensorBoardLogger(folder, name="", version=""))
    return loggers


def _trainer(args: argparse.Namespace, recorder: _Recorder, remaining: int) -> lightning.Trainer:
    """``lightning.Trainer`` for ``remaining`` meta-updates with ``--devices`` and the rest."""
    import lightning

    device = torch.device(args.device)
    settings: dict[str, Any] = {
        "accelerator": "gpu" if device.type == "cuda" else device.type,
        "devices": [device.index] if device.index is not None else (args.devices or 1),
        "precision": args.precision or "32-true",
        "max_steps": remaining,
        "max_epochs": 1,
        "val_check_interval": recorder.eval_every,
        "check_val_every_n_epoch": None,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 1,
        "logger": _loggers(args.out) if remaining > 0 else False,
        "enable_checkpointing": False,
        "enable_progress_bar": not args.no_progress and sys.stderr.isatty(),
        "enable_model_summary": False,
        "callbacks": [_callback(recorder)],
    }
    if args.strategy is not None:
        settings["strategy"] = args.strategy
    return lightning.Trainer(**settings)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser, command: Command) -> int:
    """Meta-train one command's run on ``lightning.Trainer``, then evaluate and report natively.

    Args:
        args: The checked arguments (``--out`` resolved, not over an existing run).
        parser: The command's parser, whose errors name the command.
        command: The command (setup and reports).

    Returns:
        0, or 130 / 143 when SIGINT / SIGTERM stopped the run (after the checkpoint is saved);
        a missing Lightning, ``--resume``, ``torchrun`` and non-finite updates exit with
        status 2 and one line.
    """
    _check_lightning(parser)
    _refuse_unsupported(parser, args)
    with Interrupts() as interrupts:
        try:
            return _run(args, parser, command, interrupts)
        except Aborted as stop:
            print(f"\nmeta-train: stopped by {stop}", file=sys.stderr, flush=True)
            return exit_status(stop.signum)


def _run(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    command: Command,
    interrupts: Interrupts,
) -> int:
    from lightning.fabric.utilities.exceptions import MisconfigurationException

    from meta_train.lightning import MetaLightningModule

    _seed_everything(args.seed)
    setup = command.setup(args, parser)
    module = MetaLightningModule(
        build_algorithm(args, setup.model),
        setup.loss_fn,
        meta_lr=args.meta_lr,
        scheduler=partial(build_meta_lr_schedule, args),
        batched=args.batched,
        grad_clip=args.grad_clip,
        on_nonfinite=args.on_nonfinite,
    )
    engine = module.engine
    # Checkpoints then record the sampler's generator, as the native ones do.
    engine.task_sampler = setup.train_sampler
    out: Path = args.out
    checkpoint = out / CHECKPOINT_NAME
    recorder = _Recorder(engine, args, interrupts, checkpoint, validates=bool(setup.validation))
    try:
        trainer = _trainer(args, recorder, args.iterations)
    except (ValueError, MisconfigurationException) as error:
        # Lightning's own check of --devices, --strategy and --precision against the machine.
        fail(parser, f"lightning.Trainer refused the settings: {str(error).splitlines()[0]}")
    ranks = Ranks(rank=trainer.global_rank, world_size=trainer.world_size)
    if args.meta_batch < ranks.world_size:
        fail(
            parser,
            f"--meta-batch {args.meta_batch} is smaller than the {ranks.world_size} Lightning "
            "processes (--devices); expected at least one task per process",
        )
    # The model is built, alike on every process; from here on each draws its own noise.
    _seed_everything(args.seed + ranks.rank)
    test_tasks = setup.held_out(args.eval_tasks, args.seed)
    if ranks.writer:
        start(parser, args, ranks.world_size)
    processes = f", {ranks.world_size} processes" if ranks.world_size > 1 else ""
    print(
        f"meta-train {args.task}: {args.algo}, {args.iterations} iterations, meta-batch "
        f"{args.meta_batch}, {args.shots} shot(s), {args.inner_steps} inner step(s), "
        f"{'batched (vmap)' if args.batched else 'per-task loop'}, engine lightning "
        f"(accelerator {trainer.accelerator.__class__.__name__}, precision "
        f"{trainer.precision}){processes}, output {out}",
        flush=True,
    )
    start_time = time.perf_counter()
    try:
        if args.iterations > 0:
            trainer.fit(module, _data_module(setup, args, ranks, args.iterations))
        # Lightning leaves the module where its teardown put it (the CPU after a GPU run).
        engine.device = next(module.parameters()).device
        engine.iteration = recorder.iteration
        engine.save_checkpoint(checkpoint)
    except NonFiniteError as error:
        _fail_nonfinite(parser, error, checkpoint, ranks)
    except StopRequested as stop:
        engine.iteration = recorder.iteration
        engine.save_checkpoint(checkpoint)
        if ranks.writer:
            engine.history.to_json(out / "history.json")
            engine.history.to_csv(out / "history.csv")
            print(
                f"\nmeta-train: stopped by {stop} after iteration "
                f"{engine.iteration}/{args.iterations}; checkpoint saved to {checkpoint} "
                "(--engine lightning cannot --resume it yet)",
                file=sys.stderr,
                flush=True,
            )
        return exit_status(stop.signum)
    interrupts.graceful = False
    train_seconds = time.perf_counter() - start_time
    if not ranks.writer:
        return 0
    return report_run(args, setup, engine, ranks.world_size, test_tasks, train_seconds)
