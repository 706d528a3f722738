"""The run every ``meta-train`` command shares.

Build the meta-learner, meta-train, evaluate on held-out tasks and report.
"""

from __future__ import annotations

import argparse
import pickle
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple, NoReturn

import torch
from meta_algos import ANIL, IMAML, MAML, MAMLpp, MetaOptNet, MetaSGD, ProtoNet, Reptile
from meta_tasks import Task, TaskSampler
from torch import Tensor, nn

from .._trainer import MetaTrainer, NonFiniteError, describe_remedies
from ._config import CONTROL_OPTIONS
from ._distributed import (
    Ranks,
    RankShare,
    agreed_signal,
    process_group,
    quiet_unless_writer,
    rank_device,
    ranks_from_environment,
)
from ._interrupt import Aborted, Interrupts, StopRequested, exit_status
from ._options import IMAML_DEFAULTS, check_options, resolve_out
from ._report import ProgressPrinter, print_table, summary, write_outputs
from ._rundir import CHECKPOINT_NAME, check_fresh, fail, resume_command, start
from ._tensorboard import TensorBoardLog, open_tensorboard

#: The remedies a [`NonFiniteError`][meta_train.NonFiniteError] suggests, as this CLI's flags.
CLI_REMEDIES = {
    "learning_rates": "lower --inner-lr or --meta-lr",
    "meta_lr": "lower --meta-lr",
    "grad_clip": "set --grad-clip",
    "skip": "pass --on-nonfinite skip to skip such updates",
}


@dataclass(frozen=True)
class Setup:
    """What a command hands to the shared run.

    Attributes:
        model: The network to meta-learn (a [`meta_nn`][meta_nn] model).
        loss_fn: ``loss_fn(prediction, target)``, a scalar.
        loss_name: How tables name the loss.
        train_sampler: Draws the meta-training tasks.
        validation: Tasks evaluated every ``--eval-every`` meta-updates.
        held_out: Draws held-out tasks for the final evaluation: ``held_out(count, seed)``
            draws ``count`` tasks as a run with ``--seed seed`` does (a run draws
            ``--eval-tasks`` with its own ``--seed``); the data split stays the run's.
        title: Title of the final evaluation's table.
        report: Further evaluations after the final one: ``report(trainer, metrics)`` prints
            its tables and adds its entries to ``metrics``.
        plots: The command's own plots: ``plot(trainer, out)`` draws one into the output
            directory and returns its path.
    """

    model: nn.Module
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    loss_name: str
    train_sampler: TaskSampler
    validation: list[Task]
    held_out: Callable[[int, int], list[Task]]
    title: str
    report: Callable[[MetaTrainer, dict[str, Any]], None] | None = None
    plots: Sequence[Callable[[MetaTrainer, Path], Path]] = ()


class Command(NamedTuple):
    """One ``meta-train`` sub-command.

    Attributes:
        name: The sub-command: ``meta-train <name> ...``.
        add_parser: Adds the sub-command's parser (its own and the shared options).
        setup: Builds the data, model and reports of a run from the arguments; reports data
            that does not fit them with ``parser.error``.
        check: Checks of the command's own arguments, before anything is read or built.
    """

    name: str
    add_parser: Callable[[argparse._SubParsersAction[argparse.ArgumentParser]], None]
    setup: Callable[[argparse.Namespace, argparse.ArgumentParser], Setup]
    check: Callable[[argparse.ArgumentParser, argparse.Namespace], None] | None = None


def build_algorithm(args: argparse.Namespace, model: nn.Module) -> MAML | ProtoNet:
    """The ``--algo`` meta-learner around ``model``.

    ANIL adapts the model's ``head`` only; ProtoNet and MetaOptNet embed with its
    ``features`` (the model without its classification head); Reptile steps with
    ``--inner-lr`` and ``--inner-steps`` and leaves ``theta - mean(phi)`` as the
    meta-gradient (so ``--meta-lr`` is Adam's rate on it); iMAML takes ``--inner-steps``
    proximal steps (``--proximal-strength``) and solves for its implicit meta-gradient with
    ``--cg-steps`` conjugate-gradient steps.
    """
    if args.algo == "protonet":
        return ProtoNet(model.get_submodule("features"))
    if args.algo == "metaoptnet":
        return MetaOptNet(model.get_submodule("features"))
    if args.algo == "reptile":
        return Reptile(model, args.inner_lr, args.inner_steps)
    if args.algo == "imaml":
        lam = IMAML_DEFAULTS["lam"] if args.proximal_strength is None else args.proximal_strength
        cg_steps = IMAML_DEFAULTS["cg_steps"] if args.cg_steps is None else args.cg_steps
        return IMAML(model, args.inner_lr, args.inner_steps, lam, cg_steps=int(cg_steps))
    common: dict[str, Any] = {
        "inner_lr": args.inner_lr,
        "inner_steps": args.inner_steps,
        "first_order": args.first_order,
        "compile": args.compile,
        "task_chunk": args.task_chunk,
        "checkpoint_inner": args.checkpoint_inner,
    }
    if args.algo == "maml":
        return MAML(model, **common)
    if args.algo == "metasgd":
        return MetaSGD(model, **common)
    if args.algo == "anil":
        head = model.get_submodule("head")
        return ANIL(model, head, **common)
    msl = args.msl_iterations if args.msl_iterations is not None else args.iterations // 10
    first = (
        args.first_order_iterations
        if args.first_order_iterations is not None
        else args.iterations // 20
    )
    mamlpp = MAMLpp(
        model,
        args.inner_lr,
        args.inner_steps,
        msl_iterations=msl,
        first_order_iterations=first,
        compile=args.compile,
        per_step_bn_weights=args.per_step_bn_weights,
    )
    # MAMLpp's constructor does not take the memory options; they are attributes of MAML
    mamlpp.task_chunk = args.task_chunk
    mamlpp.checkpoint_inner = args.checkpoint_inner
    return mamlpp


def build_meta_lr_schedule(
    args: argparse.Namespace, optimizer: torch.optim.Optimizer
) -> torch.optim.lr_scheduler.LRScheduler | None:
    """The ``--meta-lr-schedule`` of ``optimizer``, stepped once per meta-update.

    ``constant`` is no scheduler; ``cosine`` anneals the rate from ``--meta-lr`` to
    ``--min-meta-lr`` over the run's ``--iterations`` meta-updates
    (`torch.optim.lr_scheduler.CosineAnnealingLR`), as MAML++ does. The one builder of both
    engines: the native trainer and the Lightning module's ``configure_optimizers``.

    Args:
        args: The run's resolved arguments.
        optimizer: The meta-optimizer, at ``--meta-lr``.

    Returns:
        The scheduler, or ``None`` for a constant rate.
    """
    if args.meta_lr_schedule == "constant":
        return None
    return torch.optim.lr_scheduler.CosineAnnealingLR(
        optimizer, T_max=max(args.iterations, 1), eta_min=args.min_meta_lr
    )


def build_trainer(args: argparse.Namespace, setup: Setup, *, progress: bool) -> MetaTrainer:
    """The run's trainer: the ``--algo`` meta-learner and its Adam meta-optimizer on ``--device``.

    Args:
        args: The run's resolved arguments.
        setup: What the command built (model, loss, training tasks).
        progress: Whether `MetaTrainer.fit` shows a progress bar.

    Returns:
        A trainer at iteration 0 (``meta-train evaluate`` builds the same one to check a
        checkpoint against it).
    """
    device = torch.device(args.device)
    maml = build_algorithm(args, setup.model).to(device)
    optimizer = torch.optim.Adam(maml.parameters(), lr=args.meta_lr)
    return MetaTrainer(
        maml,
        optimizer,
        setup.loss_fn,
        setup.train_sampler,
        scheduler=build_meta_lr_schedule(args, optimizer),
        batched=args.batched,
        grad_clip=args.grad_clip,
        on_nonfinite=args.on_nonfinite,
        progress=progress,
        device=device,
    )


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser, command: Command) -> int:
    """Check the arguments, then set up, meta-train, evaluate and report one command.

    ``parser`` is the command's own parser (``meta-train sinusoid``): its errors name the
    command, as argparse's own errors for that command do.

    SIGINT and SIGTERM finish the current meta-iteration, save the checkpoint and print the
    command that resumes (see `Interrupts`). Under ``torchrun`` (see `_distributed`) every
    rank meta-trains its share of each meta-batch; rank 0 alone prints and writes files.

    Returns:
        0, or 130 / 143 when SIGINT / SIGTERM stopped the run; argument and data errors exit
        with status 2 before training.
    """
    check_options(parser, args)
    if command.check is not None:
        command.check(parser, args)
    resolve_out(parser, args)
    check_fresh(parser, args)
    if args.engine == "lightning":
        from . import _engine_lightning  # imports this module: loaded when first used

        return _engine_lightning.run(args, parser, command)
    ranks = _ranks(parser, args)
    device = rank_device(torch.device(args.device), ranks)
    with Interrupts() as interrupts:
        try:
            with process_group(ranks, device), quiet_unless_writer(ranks):
                return _run(args, parser, command, interrupts, ranks)
        except Aborted as stop:
            if ranks.writer:
                print(f"\nmeta-train: stopped by {stop}", file=sys.stderr, flush=True)
                if (args.out / CHECKPOINT_NAME).is_file():
                    _print_resume(args, ranks, "the last checkpoint is kept")
            return exit_status(stop.signum)


def _ranks(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Ranks:
    """This process's place in a ``torchrun`` launch, or one line and exit status 2."""
    try:
        ranks = ranks_from_environment()
    except ValueError as error:
        fail(parser, str(error))
    if args.meta_batch < ranks.world_size:
        fail(
            parser,
            f"--meta-batch {args.meta_batch} is smaller than the {ranks.world_size} torchrun "
            "processes; expected at least one task per process",
        )
    if ranks.distributed and args.device.startswith("cuda:"):
        fail(
            parser,
            f"--device {args.device} would put all {ranks.world_size} torchrun processes on one "
            "GPU; use --device cuda (each process then uses cuda:LOCAL_RANK)",
        )
    return ranks


def _print_resume(args: argparse.Namespace, ranks: Ranks, what: str) -> None:
    print(
        f"{what}; resume with: {resume_command(args.task, args.out, ranks.world_size)}",
        file=sys.stderr,
        flush=True,
    )


def _run(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    command: Command,
    interrupts: Interrupts,
    ranks: Ranks,
) -> int:
    _seed_everything(args.seed)
    setup = command.setup(args, parser)
    # The model is built, alike on every rank; from here on each rank draws its own noise.
    _seed_everything(args.seed + ranks.rank)
    if ranks.distributed:
        share = RankShare(setup.train_sampler, args.meta_batch, ranks)
        setup = replace(setup, train_sampler=share)
    test_tasks = setup.held_out(args.eval_tasks, args.seed)
    show_bar = ranks.writer and not args.no_progress and sys.stderr.isatty()
    trainer = build_trainer(args, setup, progress=show_bar)
    device = trainer.device
    out: Path = args.out
    if args.resume:
        _load(trainer, out / CHECKPOINT_NAME, parser)
    remaining = args.iterations - trainer.iteration
    if remaining < 0:
        fail(
            parser,
            f"--resume: the checkpoint in {str(out)!r} is at iteration {trainer.iteration}, "
            f"past the run's --iterations {args.iterations}",
        )
    checkpoint = start(parser, args, ranks.world_size) if ranks.writer else out / CHECKPOINT_NAME
    eval_every = args.eval_every or max(1, args.iterations // 10)
    resumed = f", resumed at iteration {trainer.iteration}" if args.resume else ""
    processes = f", {ranks.world_size} processes (torchrun)" if ranks.distributed else ""
    print(
        f"meta-train {args.task}: {args.algo}, {args.iterations} iterations, meta-batch "
        f"{args.meta_batch}, {args.shots} shot(s), {args.inner_steps} inner step(s), "
        f"{'batched (vmap)' if args.batched else 'per-task loop'}, device {device}"
        f"{processes}, output {out}{resumed}",
        flush=True,
    )
    printer = (
        ProgressPrinter(args.iterations, trainer.history) if ranks.writer and not show_bar else None
    )
    # A resumed run with no meta-updates left only evaluates: it adds no event file.
    board = (
        open_tensorboard(out, start=trainer.iteration, fresh=not args.resume)
        if ranks.writer and remaining > 0
        else None
    )

    def stop_if_asked() -> None:
        # Every rank stops after the same meta-update, whichever of them got the signal.
        signum = agreed_signal(interrupts.signum, device)
        if signum is not None:
            raise StopRequested(signum)

    def after_update(iteration: int, meta_loss: float) -> None:
        if printer is not None:
            printer(iteration, meta_loss)
        if board is not None:
            board.record(trainer.history)
        stop_if_asked()

    start_time = time.perf_counter()
    try:
        stop_if_asked()
        trainer.fit(
            remaining,
            args.meta_batch,
            eval_every=eval_every,
            eval_tasks=setup.validation,
            callback=after_update,
            checkpoint_every=args.checkpoint_every,
            checkpoint_path=checkpoint,
        )
        stop_if_asked()
    except NonFiniteError as error:
        _close(board)
        _fail_nonfinite(parser, error, checkpoint, ranks)
    except StopRequested as stop:
        trainer.save_checkpoint(checkpoint)
        _close(board)
        if not ranks.writer:
            return exit_status(stop.signum)
        trainer.history.to_json(out / "history.json")
        trainer.history.to_csv(out / "history.csv")
        print(
            f"\nmeta-train: stopped by {stop} after iteration "
            f"{trainer.iteration}/{args.iterations}",
            file=sys.stderr,
            flush=True,
        )
        _print_resume(args, ranks, f"checkpoint saved to {checkpoint}")
        return exit_status(stop.signum)
    interrupts.graceful = False
    train_seconds = time.perf_counter() - start_time
    if remaining == 0:
        trainer.save_checkpoint(checkpoint)
    _close(board)
    if not ranks.writer:
        return 0  # rank 0 evaluates and reports; the others wait for it to leave the group
    return report_run(args, setup, trainer, ranks.world_size, test_tasks, train_seconds)


def report_run(
    args: argparse.Namespace,
    setup: Setup,
    trainer: MetaTrainer,
    world_size: int,
    test_tasks: Sequence[Task],
    train_seconds: float,
) -> int:
    """After training (either engine): the final evaluation, its table, the outputs.

    Prints the training time and skipped updates, evaluates ``test_tasks``, prints the table
    and the command's own reports, and writes ``metrics.json``, the history and the plots
    into ``--out``.

    Returns:
        0, the run's exit status.
    """
    out: Path = args.out
    history = trainer.history
    print(f"meta-training took {train_seconds:.1f} s", flush=True)
    if args.compile:
        print(f"of which compiling the meta-gradient took {trainer.compile_seconds:.1f} s")
    if history.skipped:
        print(f"skipped {len(history.skipped)} non-finite meta-update(s) (--on-nonfinite skip)")
    result = trainer.evaluate_tasks(test_tasks, steps=args.eval_steps)
    print_table(setup.title, result, setup.loss_name)
    metrics: dict[str, Any] = {
        "task": args.task,
        "algo": args.algo,
        "arguments": {
            key: (str(value) if isinstance(value, Path) else value)
            for key, value in sorted(vars(args).items())
            if key not in CONTROL_OPTIONS
        },
        "train_seconds": train_seconds,
        "compile_seconds": trainer.compile_seconds,
        "iterations": trainer.iteration,
        "skipped_updates": len(history.skipped),
        "world_size": world_size,
        "eval_steps": args.eval_steps,
        "test": summary(result),
    }
    if setup.report is not None:
        setup.report(trainer, metrics)
    write_outputs(
        out,
        history,
        metrics,
        checkpoint=out / CHECKPOINT_NAME,
        title=f"{args.task} / {args.algo}",
        plots=[partial(plot, trainer, out) for plot in setup.plots],
    )
    return 0


def _fail_nonfinite(
    parser: argparse.ArgumentParser, error: NonFiniteError, checkpoint: Path, ranks: Ranks
) -> NoReturn:
    """Exit with status 2 and one line: what was not finite, where, and what is kept.

    Under ``torchrun`` every rank meets the same averaged meta-gradient and stops; rank 0
    alone prints the line.
    """
    if not ranks.writer:
        raise SystemExit(2)
    kept = (
        f"the last good checkpoint is kept: {checkpoint}"
        if checkpoint.is_file()
        else "no checkpoint had been saved yet"
    )
    message = f"non-finite {error.quantity} at meta-iteration {error.iteration}: {error.detail}"
    if error.remedies:
        message += f"; {describe_remedies(error.remedies, CLI_REMEDIES)}"
    fail(parser, f"{message}; {kept}")


def _close(board: TensorBoardLog | None) -> None:
    if board is not None:
        board.close()


def _load(trainer: MetaTrainer, checkpoint: Path, parser: argparse.ArgumentParser) -> None:
    """Resume ``trainer`` from ``checkpoint``, or exit with one line saying why it cannot."""
    try:
        trainer.load_checkpoint(checkpoint)
    except (OSError, EOFError, RuntimeError, ValueError, KeyError, pickle.UnpicklingError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        fail(parser, f"--resume: cannot load {str(checkpoint)!r}: {reason}")
