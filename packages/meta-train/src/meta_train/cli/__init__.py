"""The ``meta-train`` command line (also ``python -m meta_train``).

``meta-train sinusoid ...`` meta-trains on sinusoid regression; ``meta-train omniglot --root
DIR ...`` meta-trains few-shot classification on a split of Omniglot characters (with
rotation augmentation), evaluates on the held-out characters and, when ``all_runs.zip`` is in
``DIR``, on Lake's 20 one-shot runs. Both print progress and a final table (pre- vs
post-adaptation loss, and accuracy, with 95 % confidence intervals) and write
``config.toml`` (the resolved options), ``history.json``, ``history.csv``, ``metrics.json``,
``checkpoint.pt`` and PNG plots into the run directory ``--out``. ``--resume`` continues a run
there, ``--config FILE.toml`` reads options (``--print-config`` writes them), and SIGINT or
SIGTERM saves the checkpoint after the current meta-iteration. The checkpoint's ``"module"``
entry holds the meta-learner's state: its ``module.*`` entries are the weights of the
[`meta_nn.MLP`][meta_nn.MLP] (sinusoid) or [`meta_nn.ConvNet4`][meta_nn.ConvNet4] (omniglot)
that was meta-trained. With the prefix stripped they load into the public model, e.g. for a
sinusoid run:

    checkpoint = torch.load("runs/demo/checkpoint.pt", weights_only=True)
    model = meta_nn.MLP([1, 40, 40, 1])
    model.load_state_dict(
        {k.removeprefix("module."): v for k, v in checkpoint["module"].items()
         if k.startswith("module.")}
    )

``meta-train evaluate DIR`` rebuilds a run's model from ``DIR/config.toml``, loads its
checkpoint and evaluates it on held-out tasks (``--tasks N``, ``--eval-steps K``, ``--seed S``
for the task draw, ``--lake-runs`` for Omniglot), prints the same table and writes
``DIR/eval.json``.

Layout: `_options` (argument types, the shared options and their checks), one module per
command (`_sinusoid`, `_omniglot`: its options, data, model and extra reports; `_commands`
lists them), `_training` (the run all commands share), `_report` (tables, progress lines,
output files, plots), `_config` (options as TOML), `_arguments` (defaults, ``--config``,
command line and ``--resume`` merged), `_rundir` (the run directory's files), `_interrupt`
(signals), and the tools that train nothing (`_evaluate`, `_download`): modules with ``NAME``,
``add_parser(commands)`` and ``main(args)``, listed in `TOOLS`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Protocol

from . import _download, _evaluate
from ._arguments import parse_arguments
from ._commands import TRAINING_COMMANDS
from ._config import config_values, subparser, to_toml
from ._rundir import OneLineParser
from ._training import run

__all__ = ["build_parser", "main"]


class _Tool(Protocol):
    """A sub-command that trains nothing: a module with these three names."""

    NAME: str

    def add_parser(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        """Add the sub-command ``NAME``'s parser."""

    def main(self, args: argparse.Namespace) -> int:
        """Run the sub-command on its parsed arguments; return the exit status."""


TOOLS: tuple[_Tool, ...] = (_evaluate, _download)
"""The tool sub-commands, after the training ones in ``meta-train --help``."""


def build_parser() -> argparse.ArgumentParser:
    """The ``meta-train`` argument parser (the training sub-commands, then the `TOOLS`).

    Returns:
        The parser; invalid values are rejected with one line that says what is allowed.
    """
    parser: argparse.ArgumentParser = OneLineParser(
        prog="meta-train",
        description="Meta-train MAML, Meta-SGD, ANIL or MAML++ and report pre- vs "
        "post-adaptation loss and accuracy with 95% confidence intervals; evaluate a "
        "trained run again.",
    )
    names = [*TRAINING_COMMANDS, *(tool.NAME for tool in TOOLS)]
    # Sub-command parsers are made with type(parser): their errors are one line as well.
    commands = parser.add_subparsers(
        dest="task", required=True, metavar="{" + ",".join(names) + "}"
    )
    for command in TRAINING_COMMANDS.values():
        command.add_parser(commands)
    for tool in TOOLS:
        tool.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``meta-train`` command line.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 130 or 143 when SIGINT or SIGTERM stopped the run
        (after saving its checkpoint). Invalid arguments, files and run directories exit with
        status 2 before anything is trained, with a message that says what is allowed
        (``meta-train evaluate``: one line naming the file and what was expected). A
        standard output closed early (``meta-train ... | head -1``) ends the command quietly:
        status 0 for ``--print-config``, 1 (with one line on stderr) otherwise.

    Examples:
        From a shell, ``meta-train sinusoid --iterations 3000 --batched --out runs/demo``; from
        Python, ``main(["sinusoid", "--iterations", "3000", "--batched"])`` does the same
        with the default output directory ``runs/sinusoid-maml``. Then
        ``meta-train evaluate runs/demo --tasks 1000`` scores that run on 1000 held-out tasks.
    """
    try:
        status = _dispatch(list(sys.argv[1:] if argv is None else argv))
        sys.stdout.flush()  # so that a closed pipe shows here, not at interpreter exit
    except BrokenPipeError:
        _discard_stdout()
        print("meta-train: stopped: its standard output was closed", file=sys.stderr)
        return 1
    return status


def _dispatch(arguments: list[str]) -> int:
    # The top level has no options but --help, so the first token names the sub-command.
    for tool in TOOLS:
        if arguments[:1] == [tool.NAME]:
            return tool.main(build_parser().parse_args(arguments))
    args, parser = parse_arguments(build_parser, arguments)
    if args.print_config:
        try:
            print(to_toml(config_values(subparser(parser, args.task), args)), end="", flush=True)
        except BrokenPipeError:
            _discard_stdout()  # the reader has what it wanted, e.g. `... --print-config | head`
        return 0
    return run(args, subparser(parser, args.task), TRAINING_COMMANDS[args.task])


def _discard_stdout() -> None:
    """Point standard output at devnull after a ``BrokenPipeError``.

    Python flushes ``sys.stdout`` again at exit; without this, that flush fails once more and
    prints ``Exception ignored ... BrokenPipeError`` (the recipe of Python's ``signal`` docs).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
