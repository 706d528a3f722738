"""Options every ``meta-train`` command shares.

Argument types, the ``meta-learning`` and ``run`` option groups, and the checks that involve
several arguments.
"""

from __future__ import annotations

import argparse
import enum
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import torch

from ._rundir import default_out

ALGOS = ("maml", "metasgd", "anil", "mamlpp", "protonet", "metaoptnet", "reptile", "imaml")

#: The algorithms without a classification head: a head is fitted to each task's support set.
HEAD_FREE_ALGOS = ("protonet", "metaoptnet")
#: The algorithms whose meta-gradient has no inner loop to compile, chunk or checkpoint.
NO_INNER_LOOP_OPTIONS_ALGOS = (*HEAD_FREE_ALGOS, "reptile", "imaml")

#: iMAML's settings when ``--proximal-strength`` / ``--cg-steps`` are not given.
IMAML_DEFAULTS: Mapping[str, float | int] = {"lam": 1.0, "cg_steps": 5}

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


def _integer_at_least(minimum: int, expected: str, expected_value: str) -> Callable[[str], int]:
    """An argparse ``type`` for integers ``>= minimum`` (messages as in `_number_type`)."""
    return _number_type(
        int, lambda value: value >= minimum, expected=expected, expected_value=expected_value
    )


def _number_between(
    low: float, high: float, expected: str, expected_value: str
) -> Callable[[str], float]:
    """An argparse ``type`` for numbers strictly between ``low`` and ``high``."""
    return _number_type(
        float, lambda value: low < value < high, expected=expected, expected_value=expected_value
    )


positive_int = _integer_at_least(1, "a positive integer", "a positive integer (>= 1)")
non_negative_int = _integer_at_least(0, "an integer >= 0", "an integer >= 0")
ways_int = _integer_at_least(
    2, "an integer >= 2", "an integer >= 2 (a task tells at least two classes apart)"
)
positive_float = _number_between(0.0, math.inf, "a positive number", "a positive finite number")
#: Step sizes multiply float32 tensors (Adam's ``lr`` too): a larger one overflows in the update.
step_size = _number_between(
    0.0,
    torch.finfo(torch.float32).max,
    "a positive number",
    f"a positive number that float32 holds (at most {torch.finfo(torch.float32).max:.3g})",
)
non_negative_float = _number_type(
    float,
    lambda value: 0.0 <= value < math.inf,
    expected="a number >= 0",
    expected_value="a finite number >= 0",
)
fraction = _number_between(0.0, 1.0, "a number in (0, 1)", "a number strictly between 0 and 1")


class Defaults(NamedTuple):
    """A command's defaults for the shared options that differ between commands."""

    iterations: int
    meta_batch: int
    shots: int
    query_shots: int
    inner_lr: float
    eval_tasks: int
    #: How many tasks each periodic evaluation (``--eval-every``) draws, at most.
    validation_tasks: int = 100
    #: What ``--shots`` and ``--query-shots`` count examples of, as their help says it.
    examples_per: str = "per task"


class _PerCommand(enum.Enum):
    DEFAULT = "the command's `Defaults` entry of the same name"


PER_COMMAND = _PerCommand.DEFAULT
"""The `Option.default` of an option whose default each command sets in its `Defaults`."""


@dataclass(frozen=True)
class Option:
    """One shared option: what ``add_argument`` is given for it.

    Attributes:
        flag: The long flag, e.g. ``"--meta-batch"``.
        help: Help text (argparse expands ``%(default)s`` and ``%(choices)s``;
            ``{examples_per}`` and ``{validation_tasks}`` become the command's `Defaults`).
        type: Converts and checks the text, e.g. `positive_int`; ``None`` keeps the string.
        default: The value when the flag is absent, or `PER_COMMAND`.
        choices: The allowed values, if limited.
        switch: A flag without a value (``store_true``, default ``False``).
        metavar: How the help names the value.
        exclusive: Among its group's mutually exclusive options.
    """

    flag: str
    help: str
    type: Callable[[str], Any] | None = None
    default: Any = None  # any option value, as argparse.Action.default
    choices: tuple[str, ...] | None = None
    switch: bool = False
    metavar: str | None = None
    exclusive: bool = False

    @property
    def dest(self) -> str:
        """The attribute of the parsed arguments, e.g. ``"meta_batch"``."""
        return self.flag.removeprefix("--").replace("-", "_")

    def add_to(self, container: argparse._ActionsContainer, defaults: Defaults) -> None:
        """Add the option to a parser or an argument group, with ``defaults`` for `PER_COMMAND`."""
        if self.switch:
            container.add_argument(self.flag, action="store_true", help=self.help)
            return
        default = getattr(defaults, self.dest) if self.default is PER_COMMAND else self.default
        text = self.help.replace("{examples_per}", defaults.examples_per).replace(
            "{validation_tasks}", str(defaults.validation_tasks)
        )
        settings: dict[str, Any] = {"type": self.type, "default": default, "help": text}
        if self.choices is not None:
            settings["choices"] = self.choices
        if self.metavar is not None:
            settings["metavar"] = self.metavar
        container.add_argument(self.flag, **settings)


META_LR_SCHEDULES = ("constant", "cosine")
"""The values of ``--meta-lr-schedule`` (see ``_training.build_meta_lr_schedule``)."""

ON_NONFINITE = ("raise", "skip")
"""The values of ``--on-nonfinite`` (``MetaTrainer(on_nonfinite=...)``)."""

ENGINES = ("native", "lightning")
"""The values of ``--engine``: meta-train's own loop, or ``lightning.Trainer``'s."""

PRECISIONS = ("32-true", "bf16-mixed")
"""The values of ``--precision`` (``"16-mixed"``'s gradient scaler cannot scale a meta-gradient)."""

#: The options that only ``--engine lightning`` reads (``lightning.Trainer``'s arguments).
LIGHTNING_OPTIONS = ("devices", "strategy", "precision")

OPTION_GROUPS: Mapping[str, tuple[Option, ...]] = {
    "meta-learning": (
        Option(
            "--algo",
            "meta-learner: %(choices)s (default: %(default)s); protonet classifies queries "
            "by squared Euclidean distance to the class means of the model's features (the "
            "conv blocks without the linear head; no inner loop, so the --inner-* options go "
            "unused); metaoptnet fits a linear multiclass SVM to the support features "
            "instead (MetaOptNet, needs meta-nn[svm]); reptile takes --inner-steps plain SGD "
            "steps per task and hands theta - mean(adapted) to Adam as the meta-gradient; "
            "imaml takes --inner-steps proximal SGD steps and the implicit meta-gradient by "
            "conjugate gradient",
            default="maml",
            choices=ALGOS,
        ),
        Option(
            "--iterations",
            "meta-updates (default: %(default)s)",
            type=non_negative_int,
            default=PER_COMMAND,
        ),
        Option(
            "--meta-batch",
            "tasks per meta-update (default: %(default)s)",
            type=positive_int,
            default=PER_COMMAND,
        ),
        Option(
            "--shots",
            "support examples {examples_per} (default: %(default)s)",
            type=positive_int,
            default=PER_COMMAND,
        ),
        Option(
            "--query-shots",
            "query examples {examples_per} (default: %(default)s)",
            type=positive_int,
            default=PER_COMMAND,
        ),
        Option(
            "--inner-steps",
            "inner-loop gradient steps during meta-training (default: %(default)s)",
            type=positive_int,
            default=1,
        ),
        Option(
            "--eval-steps",
            "inner steps when evaluating (default: --inner-steps; mamlpp needs them equal)",
            type=positive_int,
        ),
        Option(
            "--inner-lr",
            "inner-loop step size (default: %(default)s)",
            type=step_size,
            default=PER_COMMAND,
        ),
        Option(
            "--meta-lr",
            "Adam learning rate of the meta-update (default: %(default)s)",
            type=step_size,
            default=0.001,
        ),
        Option(
            "--meta-lr-schedule",
            "how the meta learning rate changes: constant, or cosine (annealed from --meta-lr "
            "to --min-meta-lr over --iterations meta-updates, as MAML++) (default: %(default)s)",
            default="constant",
            choices=META_LR_SCHEDULES,
        ),
        Option(
            "--min-meta-lr",
            "cosine schedule: the meta learning rate at the end of the run (default: %(default)s)",
            type=non_negative_float,
            default=0.0,
        ),
        Option("--first-order", "drop second-order terms (FOMAML)", switch=True),
        Option(
            "--msl-iterations",
            "mamlpp: meta-updates with the multi-step loss (default: a tenth of --iterations)",
            type=non_negative_int,
        ),
        Option(
            "--first-order-iterations",
            "mamlpp: first-order meta-updates at the start (default: a twentieth of --iterations)",
            type=non_negative_int,
        ),
        Option(
            "--per-step-bn-weights",
            "mamlpp: learn a BatchNorm weight and bias per inner step (MAML++ BNWB) instead of "
            "adapting them",
            switch=True,
        ),
        Option(
            "--proximal-strength",
            f"imaml: strength lambda of the proximal term lambda/2 ||phi - theta||^2 "
            f"(default: {IMAML_DEFAULTS['lam']})",
            type=positive_float,
        ),
        Option(
            "--cg-steps",
            f"imaml: conjugate-gradient steps for the implicit meta-gradient "
            f"(default: {IMAML_DEFAULTS['cg_steps']})",
            type=positive_int,
        ),
        Option(
            "--grad-clip",
            "clip the meta-gradient to this L2 norm (default: no clipping)",
            type=positive_float,
        ),
        Option(
            "--on-nonfinite",
            "a meta-update whose meta-loss or meta-gradient is NaN or infinite: raise stops "
            "the run with an error and keeps the last good checkpoint, skip leaves out its "
            "step and counts it in the history (default: %(default)s)",
            default="raise",
            choices=ON_NONFINITE,
        ),
        Option(
            "--batched", "adapt all tasks of a meta-batch at once with torch.func.vmap", switch=True
        ),
        Option(
            "--task-chunk",
            "with --batched: adapt and back-propagate the tasks of a meta-batch N at a time, so "
            "the memory of the batched path grows with N rather than the meta-batch; the "
            "meta-gradient is the same (maml, metasgd, anil, mamlpp; default: all at once)",
            type=positive_int,
            metavar="N",
        ),
        Option(
            "--checkpoint-inner",
            "recompute each inner step in the backward pass (torch.utils.checkpoint): memory "
            "grows more slowly with --inner-steps, for a fixed overhead and about twice the "
            "time, so it pays for long inner loops only; the meta-gradient is the same (maml, "
            "metasgd, anil, mamlpp; the per-task loop: not with --batched or --compile)",
            switch=True,
        ),
        Option(
            "--compile",
            "compute each meta-gradient with one torch.compile'd pure function (maml, metasgd, "
            "anil, mamlpp; compiling takes seconds to minutes once, then every meta-update is "
            "faster; evaluation stays eager; falls back to eager with one warning if compiling "
            "fails)",
            switch=True,
        ),
    ),
    "run": (
        Option("--seed", "random seed (default: %(default)s)", type=non_negative_int, default=0),
        Option(
            "--eval-tasks",
            "held-out tasks for the final evaluation (default: %(default)s)",
            type=positive_int,
            default=PER_COMMAND,
        ),
        Option(
            "--eval-every",
            "evaluate on up to {validation_tasks} validation tasks every N meta-updates "
            "(default: a tenth of --iterations)",
            type=positive_int,
        ),
        Option(
            "--checkpoint-every",
            "also save checkpoint.pt every N meta-updates (it is always saved at the end)",
            type=positive_int,
        ),
        Option("--device", "torch device, e.g. cpu or cuda (default: %(default)s)", default="cpu"),
        Option(
            "--engine",
            "what runs the meta-training loop: native (meta-train's own) or lightning "
            '(lightning.Trainer; pip install "meta-train[lightning]") (default: %(default)s)',
            default="native",
            choices=ENGINES,
        ),
        Option(
            "--devices",
            "lightning engine: processes (one per device) that share each meta-batch "
            "(lightning.Trainer(devices=N); default: 1)",
            type=positive_int,
        ),
        Option(
            "--strategy",
            "lightning engine: lightning.Trainer's strategy, e.g. ddp (default: Lightning's pick)",
        ),
        Option(
            "--precision",
            "lightning engine: lightning.Trainer's precision, %(choices)s (default: 32-true)",
            choices=PRECISIONS,
        ),
        Option(
            "--out",
            "run directory: config.toml, checkpoint.pt, history, metrics and plots "
            "(default: ./runs/<task>-<algo>)",
            type=Path,
        ),
        Option(
            "--no-progress",
            "no progress bar (a line every tenth of the run is printed instead)",
            switch=True,
        ),
        Option(
            "--config",
            "read options from a TOML file (keys are the options without '--', e.g. "
            "meta-batch = 25); options on the command line override it",
            type=Path,
            metavar="FILE.toml",
        ),
        Option(
            "--print-config",
            "print the options as TOML (what --config reads) and exit",
            switch=True,
        ),
        Option(
            "--resume",
            "continue the run in --out from its checkpoint, with its config.toml",
            switch=True,
            exclusive=True,
        ),
        Option(
            "--overwrite",
            "start afresh in an --out that already holds a run (its checkpoint is deleted)",
            switch=True,
            exclusive=True,
        ),
    ),
}
"""The options every command shares, by ``--help`` section, in the order ``--help`` lists them."""


def add_options(parser: argparse.ArgumentParser, defaults: Defaults) -> None:
    """Add the `OPTION_GROUPS` to a command's parser.

    Args:
        parser: The command's parser.
        defaults: The command's values of the `PER_COMMAND` defaults.
    """
    for title, group_options in OPTION_GROUPS.items():
        group = parser.add_argument_group(title)
        exclusive: argparse._MutuallyExclusiveGroup | None = None
        for option in group_options:
            container: argparse._ActionsContainer = group
            if option.exclusive:
                if exclusive is None:
                    exclusive = group.add_mutually_exclusive_group()
                container = exclusive
            option.add_to(container, defaults)


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
    if args.algo != "mamlpp" and args.per_step_bn_weights:
        parser.error(f"--per-step-bn-weights applies to --algo mamlpp only, got --algo {args.algo}")
    if args.per_step_bn_weights and args.task == "sinusoid":
        parser.error(
            "--per-step-bn-weights learns BatchNorm weights per step, but the sinusoid model "
            "has no BatchNorm layer"
        )
    if args.min_meta_lr != 0.0 and args.meta_lr_schedule != "cosine":
        parser.error(
            f"--min-meta-lr applies to --meta-lr-schedule cosine only, got --meta-lr-schedule "
            f"{args.meta_lr_schedule}"
        )
    if args.min_meta_lr > args.meta_lr:
        parser.error(
            f"--min-meta-lr {args.min_meta_lr} exceeds --meta-lr {args.meta_lr}; the cosine "
            f"schedule anneals from --meta-lr down to --min-meta-lr"
        )
    if args.algo == "mamlpp" and args.first_order:
        parser.error(
            "--first-order does not apply to --algo mamlpp, which anneals the derivative "
            "order itself; use --first-order-iterations N (first-order for the first N updates)"
        )
    if args.algo != "imaml" and (args.proximal_strength is not None or args.cg_steps is not None):
        parser.error(
            f"--proximal-strength and --cg-steps apply to --algo imaml only, got --algo {args.algo}"
        )
    if args.algo in HEAD_FREE_ALGOS and args.task == "sinusoid":
        parser.error(
            f"--algo {args.algo} classifies by a head fitted to each task's classes, but "
            "sinusoid is regression (no classes); use maml, metasgd, anil, mamlpp, reptile or "
            "imaml"
        )
    if args.compile and args.algo in NO_INNER_LOOP_OPTIONS_ALGOS:
        parser.error(
            f"--compile applies to maml, metasgd, anil and mamlpp, got --algo {args.algo} "
            "(its meta-gradient is not one pure function yet)"
        )
    _check_memory_options(parser, args)
    if args.algo in NO_INNER_LOOP_OPTIONS_ALGOS and args.first_order:
        why = {
            "protonet": "has no inner loop",
            "metaoptnet": "has no inner loop (it differentiates through the SVM's solution)",
            "reptile": "is first-order by construction",
            "imaml": "differentiates the inner optimum implicitly, not through the inner loop",
        }[args.algo]
        parser.error(f"--first-order does not apply to --algo {args.algo}, which {why}")
    if args.engine != "lightning":
        given = [name for name in LIGHTNING_OPTIONS if getattr(args, name) is not None]
        if given:
            flags = ", ".join(f"--{name}" for name in given)
            parser.error(
                f"{flags} apply to --engine lightning only (lightning.Trainer's arguments), "
                f"got --engine {args.engine}"
            )
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: CUDA is not available here; use --device cpu")
    try:
        torch.device(args.device)
    except RuntimeError:
        parser.error(f"--device {args.device!r} is not a torch device; use e.g. cpu or cuda")


def _check_memory_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Check ``--task-chunk`` and ``--checkpoint-inner`` against the algorithm and the path."""
    given = [
        flag
        for flag, value in (
            ("--task-chunk", args.task_chunk is not None),
            ("--checkpoint-inner", args.checkpoint_inner),
        )
        if value
    ]
    if given and args.algo in NO_INNER_LOOP_OPTIONS_ALGOS:
        parser.error(
            f"{' and '.join(given)} apply to maml, metasgd, anil and mamlpp, got --algo {args.algo}"
        )
    if args.task_chunk is not None and not args.batched:
        parser.error(
            "--task-chunk applies to --batched only (the per-task loop already back-propagates "
            "one task at a time); add --batched or leave --task-chunk out"
        )
    if args.checkpoint_inner and (args.batched or args.compile):
        path = "--batched" if args.batched else "--compile"
        parser.error(
            f"--checkpoint-inner applies to the per-task loop only, got {path} (its inner "
            "gradients come from torch.func.grad, which cannot checkpoint); leave one out"
        )


def resolve_out(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Fill in the default ``--out`` (``runs/<task>-<algo>``) and check it is no file."""
    if args.out is None:
        args.out = default_out(args.task, args.algo)
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {str(args.out)!r} exists and is not a directory")
