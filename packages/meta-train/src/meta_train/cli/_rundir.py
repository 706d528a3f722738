"""The run directory ``--out``: its file names, the config record, and no silent overwrite.

``config.toml`` also records ``world-size``, the number of ``torchrun`` processes (``1``
without ``torchrun``): it is no option (reading the file back sets nothing with it), and
``--resume`` checks the world size against the checkpoint, which holds every rank's RNG
states and is refused by a run of another world size.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import NoReturn

from .._io import atomic_write_text
from ._config import WORLD_SIZE_KEY, config_values, to_toml

CONFIG_NAME = "config.toml"
CHECKPOINT_NAME = "checkpoint.pt"


def fail(parser: argparse.ArgumentParser, message: str) -> NoReturn:
    """Exit with status 2 after one line ``<prog>: error: <message>`` on stderr."""
    parser.exit(2, f"{parser.prog}: error: {message}\n")


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line ``<prog>: error: <message>``, status 2.

    argparse prints the whole usage (twenty lines for a training command) before the one
    line that matters; ``--help`` still shows it. Sub-command parsers inherit the class.
    """

    def error(self, message: str) -> NoReturn:
        """Report a bad argument in one line (see `fail`) and exit with status 2."""
        fail(self, message)


def default_out(task: str, algo: str) -> Path:
    """The ``--out`` of a run that names none: ``runs/<task>-<algo>``."""
    return Path("runs") / f"{task}-{algo}"


def resume_command(task: str, out: Path, world_size: int = 1) -> str:
    """The shell command that continues the run in ``out`` (with ``world_size`` processes)."""
    launcher = (
        f"torchrun --nproc-per-node {world_size} -m meta_train" if world_size > 1 else "meta-train"
    )
    return f"{launcher} {task} --out {shlex.quote(str(out))} --resume"


def check_fresh(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse to start a new run over a checkpoint unless ``--overwrite`` says so."""
    checkpoint = args.out / CHECKPOINT_NAME
    if not args.resume and not args.overwrite and checkpoint.exists():
        fail(
            parser,
            f"--out {str(args.out)!r} already holds a run ({checkpoint}); continue it with "
            "--resume, or start afresh with --overwrite",
        )


def start(parser: argparse.ArgumentParser, args: argparse.Namespace, world_size: int = 1) -> Path:
    """Create the run directory and record the resolved configuration in ``config.toml``.

    With ``--overwrite``, the previous checkpoint is removed first, so that the new
    configuration is never paired with an old checkpoint.

    Args:
        parser: The sub-command's parser (which options are recorded).
        args: The resolved arguments.
        world_size: The number of ``torchrun`` processes, recorded as ``world-size``.

    Returns:
        The checkpoint path of the run.
    """
    out: Path = args.out
    checkpoint = out / CHECKPOINT_NAME
    if args.overwrite:
        checkpoint.unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    record = to_toml({**config_values(parser, args), WORLD_SIZE_KEY: world_size})
    atomic_write_text(out / CONFIG_NAME, record)
    return checkpoint
