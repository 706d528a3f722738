"""``meta-train evaluate DIR``: score a trained run again on held-out tasks.

``DIR`` is a run directory written by ``meta-train sinusoid|omniglot --out DIR`` (or the path of
its ``checkpoint.pt``, beside which ``config.toml`` lies). The run's options are read back from
``config.toml`` as ``--resume`` reads them, the command's own setup rebuilds the data and the
model, and only the meta-learner's state is loaded from the checkpoint (after the whole
checkpoint is checked against the rebuilt trainer). The held-out tasks are drawn as the run's
final evaluation draws them: with the run's ``--seed`` and ``--eval-tasks`` the numbers are
those of the run's own table; ``--seed`` draws other tasks from the same held-out data (for
Omniglot the split of the characters always follows the run's seed). The table and
``DIR/eval.json`` (derived data, overwritten by the next ``evaluate``) report the mean and 95 %
confidence interval of the loss, and accuracy, before and after adaptation.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import torch
from meta_tasks import OMNIGLOT_RUNS_ARCHIVE, TaskSampler

from .._checkpoint import (
    CheckpointError,
    check_trainer_state,
    load_checkpoint_file,
    saved_world_size,
)
from .._io import atomic_write_text, check_writable
from .._trainer import MetaTrainer
from . import _omniglot
from ._commands import TRAINING_COMMANDS
from ._config import COMMAND_KEY, ConfigError, config_tokens, read_config, subparser
from ._interrupt import exit_status
from ._options import check_options, non_negative_int, positive_int
from ._report import print_table, summary
from ._rundir import CHECKPOINT_NAME, CONFIG_NAME, OneLineParser, fail
from ._training import Command, build_trainer

NAME = "evaluate"
"""The sub-command: ``meta-train evaluate DIR``."""

EVAL_NAME = "eval.json"
"""The file ``evaluate`` writes into the run directory."""

_PROG = f"meta-train {NAME}"
_TRAINERS = "|".join(TRAINING_COMMANDS)


class _OneLineParser(OneLineParser):
    """Reports errors as one line ``meta-train evaluate: error: <context><message>``, status 2.

    The training commands' checks and setup report bad data with ``parser.error``; handed
    this parser, they name the run being evaluated.
    """

    def __init__(self, context: str = "") -> None:
        super().__init__(prog=_PROG, add_help=False)
        self.context = context

    def error(self, message: str) -> NoReturn:
        fail(self, f"{self.context}{message}")


class _RaisingParser(argparse.ArgumentParser):
    """Raises `argparse.ArgumentError` for a bad value, so that the message can name the file."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs, exit_on_error=False)


def _refuse(message: str) -> NoReturn:
    _OneLineParser().error(message)


@dataclass(frozen=True)
class _Run:
    """The files of the run being evaluated."""

    directory: Path
    checkpoint: Path
    config: Path


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``meta-train evaluate DIR [--tasks N] [--eval-steps K] [--seed S] ...``."""
    parser = commands.add_parser(
        NAME,
        help="evaluate a trained run again on held-out tasks",
        description=f"Rebuild the model of a `meta-train {_TRAINERS} --out DIR` run from "
        f"DIR/{CONFIG_NAME}, load its {CHECKPOINT_NAME} and evaluate it on held-out tasks: "
        "pre- vs post-adaptation loss (and accuracy) with 95% confidence intervals. "
        f"Writes DIR/{EVAL_NAME} with the settings used and the results; it is derived "
        "data, and the next evaluate overwrites it.",
    )
    parser.add_argument(
        "run",
        type=Path,
        metavar="DIR",
        help=f"the run directory (--out of the training run), or its {CHECKPOINT_NAME}",
    )
    parser.add_argument(
        "--tasks",
        type=positive_int,
        default=None,
        metavar="N",
        help="held-out tasks to evaluate (default: the run's --eval-tasks)",
    )
    parser.add_argument(
        "--eval-steps",
        type=positive_int,
        default=None,
        help="inner steps when adapting (default: the run's --eval-steps)",
    )
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=None,
        help="seed of the held-out task draw (default: the run's --seed, which draws the "
        "tasks of the run's final evaluation); the data split always follows the run's seed",
    )
    parser.add_argument(
        "--lake-runs",
        action="store_true",
        help=f"omniglot runs: also evaluate on Lake's 20 one-shot runs ({OMNIGLOT_RUNS_ARCHIVE} "
        "in the run's --root)",
    )
    parser.add_argument(
        "--device",
        default="cpu",
        help="torch device, e.g. cpu or cuda (default: %(default)s)",
    )


def main(args: argparse.Namespace) -> int:
    """Evaluate the run ``args.run``, print the table and write ``eval.json``.

    Args:
        args: ``meta-train evaluate``'s parsed arguments.

    Returns:
        0, or 130 after Ctrl-C (``eval.json`` is then left as it was). A missing or
        unreadable run directory, configuration, checkpoint or data stops with one line
        ``meta-train evaluate: error: ...`` and exit status 2.
    """
    try:
        return _evaluate(args)
    except KeyboardInterrupt:
        print(f"\n{_PROG}: interrupted; eval.json not written", file=sys.stderr, flush=True)
        return exit_status(signal.SIGINT)


def _evaluate(args: argparse.Namespace) -> int:
    run = _locate(args.run)
    command, run_args = _recorded(run)
    run_args.device = args.device
    if args.eval_steps is not None:
        run_args.eval_steps = args.eval_steps
    parser = _OneLineParser(f"run {str(run.directory)!r}: ")
    check_options(parser, run_args)
    if command.check is not None:
        command.check(parser, run_args)
    if args.lake_runs:
        _check_lake_runs(command, run_args, run)
    destination = run.directory / EVAL_NAME
    try:
        check_writable(destination)
    except OSError as error:
        _refuse(f"cannot write {str(destination)!r}: {error.strerror or error}")
    setup = command.setup(run_args, parser)
    lake = _omniglot.load_lake_runs(run_args.root) if args.lake_runs else None
    trainer = build_trainer(run_args, setup, progress=False)
    iteration = _load_module_state(trainer, run.checkpoint)
    seed: int = run_args.seed if args.seed is None else args.seed
    count: int = run_args.eval_tasks if args.tasks is None else args.tasks
    print(
        f"{_PROG}: {run_args.task} / {run_args.algo} run {run.directory}, checkpoint at "
        f"iteration {iteration}, {count} held-out task(s) drawn with seed {seed}, "
        f"{run_args.eval_steps} inner step(s), device {trainer.device}",
        flush=True,
    )
    result = trainer.evaluate_tasks(setup.held_out(count, seed), steps=run_args.eval_steps)
    print_table(setup.title, result, setup.loss_name)
    record: dict[str, Any] = {
        "run": str(run.directory),
        "checkpoint": str(run.checkpoint),
        "task": run_args.task,
        "algo": run_args.algo,
        "iteration": iteration,
        "settings": {
            "tasks": count,
            "eval_steps": run_args.eval_steps,
            "seed": seed,
            "device": str(trainer.device),
            "lake_runs": args.lake_runs,
        },
        "test": summary(result),
    }
    if lake is not None:
        _omniglot.report_lake_runs(trainer, record, args=run_args, lake=lake)
    atomic_write_text(destination, json.dumps(record, indent=2) + "\n")
    print(f"\nwrote {destination}")
    return 0


def _locate(path: Path) -> _Run:
    """The run directory, checkpoint and configuration of ``DIR``, or one line and exit 2."""
    if path.is_dir():
        run = _Run(path, path / CHECKPOINT_NAME, path / CONFIG_NAME)
    elif path.is_file():
        run = _Run(path.parent, path, path.parent / CONFIG_NAME)
    else:
        _refuse(
            f"{str(path)!r} does not exist; expected a run directory written by "
            f"`meta-train {_TRAINERS} --out DIR`, or its {CHECKPOINT_NAME}"
        )
    if not run.checkpoint.is_file():
        _refuse(
            f"{str(run.checkpoint)!r} does not exist; expected the {CHECKPOINT_NAME} that "
            f"`meta-train {_TRAINERS} --out DIR` writes (is {str(path)!r} a run directory?)"
        )
    if not run.config.is_file():
        _refuse(
            f"{str(run.config)!r} does not exist; expected the {CONFIG_NAME} that "
            f"`meta-train {_TRAINERS} --out DIR` writes beside {run.checkpoint.name}"
        )
    return run


def _recorded(run: _Run) -> tuple[Command, argparse.Namespace]:
    """The training command and the arguments recorded in the run's ``config.toml``.

    They are read as ``--resume`` reads them: the table becomes command-line tokens that the
    command's own parser checks (here one that reports errors instead of exiting).
    """
    source = str(run.config)
    try:
        table = read_config(run.config)
        name = table.get(COMMAND_KEY)
        command = TRAINING_COMMANDS.get(name) if isinstance(name, str) else None
        if command is None:
            _refuse(
                f"{source!r} records {COMMAND_KEY} = {name!r}; expected the configuration of "
                f"a `meta-train {_TRAINERS}` run"
            )
        parser = _RaisingParser(prog="meta-train")
        command.add_parser(parser.add_subparsers(dest="task", parser_class=_RaisingParser))
        tokens = config_tokens(subparser(parser, command.name), command.name, table, source)
        return command, parser.parse_args([command.name, *tokens])
    except ConfigError as error:
        _refuse(str(error))
    except argparse.ArgumentError as error:
        _refuse(f"{source}: {error}")


def _check_lake_runs(command: Command, run_args: argparse.Namespace, run: _Run) -> None:
    """Refuse ``--lake-runs`` for a non-Omniglot run or without Lake's archive in ``--root``."""
    if command is not _omniglot.COMMAND:
        _refuse(
            f"--lake-runs applies to omniglot runs; {str(run.directory)!r} is a {command.name} run"
        )
    archive: Path = run_args.root / OMNIGLOT_RUNS_ARCHIVE
    if not archive.is_file():
        _refuse(
            f"--lake-runs: {str(archive)!r} does not exist; expected Lake's one-shot runs "
            f"({OMNIGLOT_RUNS_ARCHIVE} of the Omniglot release) in the run's --root"
        )


def _sampler_generator(sampler: TaskSampler) -> torch.Generator | None:
    generator = getattr(sampler, "generator", None)
    return generator if isinstance(generator, torch.Generator) else None


def _load_module_state(trainer: MetaTrainer, checkpoint: Path) -> int:
    """Load the checkpoint's meta-learner state into ``trainer.maml``; its iteration.

    The whole checkpoint is checked against the trainer first (a file of another run,
    architecture or format is refused in one line); the optimizer, history and RNG states
    are left unused.
    """
    try:
        state = load_checkpoint_file(checkpoint)
        checked = check_trainer_state(
            state,
            module=trainer.maml,
            optimizer=trainer.meta_optimizer,
            scheduler=trainer.scheduler,
            generator=_sampler_generator(trainer.task_sampler),
            source=f"checkpoint {str(checkpoint)!r}",
            world_size=saved_world_size(state),
        )
    except (CheckpointError, FileNotFoundError) as error:
        _refuse(str(error))
    trainer.maml.load_state_dict(checked.module)
    return checked.iteration
