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
that was meta-trained.

Layout: `_options` (argument types, the shared options and their checks), one module per
command (`_sinusoid`, `_omniglot`: its options, data, model and extra reports), `_training`
(the run all commands share), `_report` (tables, progress lines, output files, plots),
`_config` (options as TOML), `_arguments` (defaults, ``--config``, command line and
``--resume`` merged), `_rundir` (the run directory's files) and `_interrupt` (signals).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import _omniglot, _sinusoid
from ._arguments import parse_arguments
from ._config import config_values, subparser, to_toml
from ._training import run

__all__ = ["build_parser", "main"]

_COMMANDS = {command.name: command for command in (_sinusoid.COMMAND, _omniglot.COMMAND)}


def build_parser() -> argparse.ArgumentParser:
    """The ``meta-train`` argument parser (sub-commands ``sinusoid`` and ``omniglot``).

    Returns:
        The parser; invalid values are rejected with a message that says what is allowed.
    """
    parser = argparse.ArgumentParser(
        prog="meta-train",
        description="Meta-train MAML, Meta-SGD, ANIL or MAML++ and report pre- vs "
        "post-adaptation loss and accuracy with 95% confidence intervals.",
    )
    commands = parser.add_subparsers(
        dest="task", required=True, metavar="{" + ",".join(_COMMANDS) + "}"
    )
    for command in _COMMANDS.values():
        command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``meta-train`` command line.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns:
        The exit status: 0 on success, 130 or 143 when SIGINT or SIGTERM stopped the run
        (after saving its checkpoint). Invalid arguments, files and run directories exit with
        status 2 before anything is trained, with a message that says what is allowed.

    Examples:
        From a shell, ``meta-train sinusoid --iterations 3000 --batched --out runs/demo``; from
        Python, ``main(["sinusoid", "--iterations", "3000", "--batched"])`` does the same
        with the default output directory ``runs/sinusoid-maml``.
    """
    args, parser = parse_arguments(build_parser, sys.argv[1:] if argv is None else argv)
    if args.print_config:
        print(to_toml(config_values(subparser(parser, args.task), args)), end="")
        return 0
    return run(args, parser, _COMMANDS[args.task])
