"""Options every ``meta-train`` command shares.

Argument types, the ``meta-learning`` and ``run`` option groups, and the checks that involve
several arguments.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, TypeVar

import torch

from ._rundir import default_out

ALGOS = ("maml", "metasgd", "anil", "mamlpp")

_Number = TypeVar("_Number", int, float)


def _number_type(
    convert: Callable[[str], _Number],
    accept: Callable[[_Number], bool],
    *,
    expected: str,
    expected_value: str,
) -> Callable[[str], _Number]:
    """An argparse ``type``: ``convert`` the text, then keep it if ``accept`` allows it.

    Text that does not convert is quoted in the message; a value out of range is shown as
    parsed for integers and as typed for numbers.
    """

    def parse(text: str) -> _Number:
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not accept(value):
            shown = value if isinstance(value, int) else text
            raise argparse.ArgumentTypeError(f"expected {expected_value}, got {shown}")
        return value

    return parse


positive_int = _number_type(
    int,
    lambda value: value >= 1,
    expected="a positive integer",
    expected_value="a positive integer (>= 1)",
)
non_negative_int = _number_type(
    int, lambda value: value >= 0, expected="an integer >= 0", expected_value="an integer >= 0"
)
positive_float = _number_type(
    float,
    lambda value: 0.0 < value < math.inf,
    expected="a positive number",
    expected_value="a positive finite number",
)
ways_int = _number_type(
    int,
    lambda value: value >= 2,
    expected="an integer >= 2",
    expected_value="an integer >= 2 (a task tells at least two classes apart)",
)
fraction = _number_type(
    float,
    lambda value: 0.0 < value < 1.0,
    expected="a number in (0, 1)",
    expected_value="a number strictly between 0 and 1",
)


class Defaults(NamedTuple):
    """A command's defaults for the shared options that differ between commands."""

    iterations: int
    meta_batch: int
    shots: int
    query_shots: int
    inner_lr: float
    eval_tasks: int


def add_options(parser: argparse.ArgumentParser, defaults: Defaults) -> None:
    """Add the ``meta-learning`` and ``run`` option groups to a command's parser."""
    group = parser.add_argument_group("meta-learning")
    group.add_argument(
        "--algo",
        choices=ALGOS,
        default="maml",
        help="meta-learner: %(choices)s (default: %(default)s)",
    )
    group.add_argument(
        "--iterations",
        type=non_negative_int,
        default=defaults.iterations,
        help="meta-updates (default: %(default)s)",
    )
    group.add_argument(
        "--meta-batch",
        type=positive_int,
        default=defaults.meta_batch,
        help="tasks per meta-update (default: %(default)s)",
    )
    group.add_argument(
        "--shots",
        type=positive_int,
        default=defaults.shots,
        help="support examples per task (sinusoid) or per class (omniglot) (default: %(default)s)",
    )
    group.add_argument(
        "--query-shots",
        type=positive_int,
        default=defaults.query_shots,
        help="query examples per task (sinusoid) or per class (omniglot) (default: %(default)s)",
    )
    group.add_argument(
        "--inner-steps",
        type=positive_int,
        default=1,
        help="inner-loop gradient steps during meta-training (default: %(default)s)",
    )
    group.add_argument(
        "--eval-steps",
        type=positive_int,
        default=None,
        help="inner steps when evaluating (default: --inner-steps; mamlpp needs them equal)",
    )
    group.add_argument(
        "--inner-lr",
        type=positive_float,
        default=defaults.inner_lr,
        help="inner-loop step size (default: %(default)s)",
    )
    group.add_argument(
        "--meta-lr",
        type=positive_float,
        default=0.001,
        help="Adam learning rate of the meta-update (default: %(default)s)",
    )
    group.add_argument(
        "--first-order",
        action="store_true",
        help="drop second-order terms (FOMAML)",
    )
    group.add_argument(
        "--msl-iterations",
        type=non_negative_int,
        default=None,
        help="mamlpp: meta-updates with the multi-step loss (default: a tenth of --iterations)",
    )
    group.add_argument(
        "--first-order-iterations",
        type=non_negative_int,
        default=None,
        help="mamlpp: first-order meta-updates at the start (default: a twentieth of --iterations)",
    )
    group.add_argument(
        "--grad-clip",
        type=positive_float,
        default=None,
        help="clip the meta-gradient to this L2 norm (default: no clipping)",
    )
    group.add_argument(
        "--batched",
        action="store_true",
        help="adapt all tasks of a meta-batch at once with torch.func.vmap",
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "--seed", type=non_negative_int, default=0, help="random seed (default: %(default)s)"
    )
    run.add_argument(
        "--eval-tasks",
        type=positive_int,
        default=defaults.eval_tasks,
        help="held-out tasks for the final evaluation (default: %(default)s)",
    )
    run.add_argument(
        "--eval-every",
        type=positive_int,
        default=None,
        help="evaluate on up to 100 validation tasks every N meta-updates "
        "(default: a tenth of --iterations)",
    )
    run.add_argument(
        "--checkpoint-every",
        type=positive_int,
        default=None,
        help="also save checkpoint.pt every N meta-updates (it is always saved at the end)",
    )
    run.add_argument(
        "--device",
        default="cpu",
        help="torch device, e.g. cpu or cuda (default: %(default)s)",
    )
    run.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run directory: config.toml, checkpoint.pt, history, metrics and plots "
        "(default: ./runs/<task>-<algo>)",
    )
    run.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (a line every tenth of the run is printed instead)",
    )
    run.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="FILE.toml",
        help="read options from a TOML file (keys are the options without '--', e.g. "
        "meta-batch = 25); options on the command line override it",
    )
    run.add_argument(
        "--print-config",
        action="store_true",
        help="print the options as TOML (what --config reads) and exit",
    )
    existing = run.add_mutually_exclusive_group()
    existing.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its checkpoint, with its config.toml",
    )
    existing.add_argument(
        "--overwrite",
        action="store_true",
        help="start afresh in an --out that already holds a run (its checkpoint is deleted)",
    )


def check_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Check the shared options against each other and fill in ``--eval-steps``."""
    if args.eval_steps is None:
        args.eval_steps = args.inner_steps
    if args.algo == "mamlpp" and args.eval_steps != args.inner_steps:
        parser.error(
            f"--algo mamlpp learns one set of rates per inner step, so --eval-steps must equal "
            f"--inner-steps ({args.inner_steps}), got --eval-steps {args.eval_steps}"
        )
    if args.algo != "mamlpp" and (
        args.msl_iterations is not None or args.first_order_iterations is not None
    ):
        parser.error(
            f"--msl-iterations and --first-order-iterations apply to --algo mamlpp only, "
            f"got --algo {args.algo}"
        )
    if args.algo == "mamlpp" and args.first_order:
        parser.error(
            "--first-order does not apply to --algo mamlpp, which anneals the derivative "
            "order itself; use --first-order-iterations N (first-order for the first N updates)"
        )
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here; use --device cpu")
    try:
        torch.device(args.device)
    except RuntimeError:
        parser.error(f"--device {args.device!r} is not a torch device; use e.g. cpu or cuda")


def resolve_out(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill in the default ``--out`` (``runs/<task>-<algo>``) and check it is no file."""
    if args.out is None:
        args.out = default_out(args.task, args.algo)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {str(args.out)!r} exists and is not a directory")
