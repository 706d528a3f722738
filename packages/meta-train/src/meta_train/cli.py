"""The ``meta-train`` command line (also ``python -m meta_train``).

``meta-train sinusoid ...`` meta-trains on sinusoid regression; ``meta-train omniglot --root
DIR ...`` meta-trains few-shot classification on a split of Omniglot characters (with
rotation augmentation), evaluates on the held-out characters and, when ``all_runs.zip`` is in
``DIR``, on Lake's 20 one-shot runs. Both print progress and a final table (pre- vs
post-adaptation loss, and accuracy, with 95 % confidence intervals) and write
``history.json``, ``history.csv``, ``metrics.json``, ``checkpoint.pt`` and PNG plots into
``--out``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from meta_algos import ANIL, MAML, MAMLpp, MetaSGD
from meta_tasks import SinusoidTaskSampler, Task
from torch import Tensor, nn

from ._history import History
from ._io import atomic_write_text
from ._metrics import mean_confidence_interval
from ._models import ConvFour, SinusoidMLP
from ._trainer import MetaTrainer, TaskEvaluation

ALGOS = ("maml", "metasgd", "anil", "mamlpp")
OMNIGLOT_SUBSETS = (
    "background",
    "background_small",
    "background_small1",
    "background_small2",
    "evaluation",
)
LAKE_RUNS_ARCHIVE = "all_runs.zip"
LAKE_WAYS = 20


# --------------------------------------------------------------------------- argument types
def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer (>= 1), got {value}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number strictly between 0 and 1, got {text}")
    return value


# ---------------------------------------------------------------------------------- parser
def _add_common(parser: argparse.ArgumentParser, defaults: dict[str, Any]) -> None:
    group = parser.add_argument_group("meta-learning")
    group.add_argument(
        "--algo",
        choices=ALGOS,
        default="maml",
        help="meta-learner: %(choices)s (default: %(default)s)",
    )
    group.add_argument(
        "--iterations",
        type=_non_negative_int,
        default=defaults["iterations"],
        help="meta-updates (default: %(default)s)",
    )
    group.add_argument(
        "--meta-batch",
        type=_positive_int,
        default=defaults["meta_batch"],
        help="tasks per meta-update (default: %(default)s)",
    )
    group.add_argument(
        "--shots",
        type=_positive_int,
        default=defaults["shots"],
        help="support examples per task (sinusoid) or per class (omniglot) (default: %(default)s)",
    )
    group.add_argument(
        "--query-shots",
        type=_positive_int,
        default=defaults["query_shots"],
        help="query examples per task (sinusoid) or per class (omniglot) (default: %(default)s)",
    )
    group.add_argument(
        "--inner-steps",
        type=_positive_int,
        default=1,
        help="inner-loop gradient steps during meta-training (default: %(default)s)",
    )
    group.add_argument(
        "--eval-steps",
        type=_positive_int,
        default=None,
        help="inner steps when evaluating (default: --inner-steps; mamlpp needs them equal)",
    )
    group.add_argument(
        "--inner-lr",
        type=_positive_float,
        default=defaults["inner_lr"],
        help="inner-loop step size (default: %(default)s)",
    )
    group.add_argument(
        "--meta-lr",
        type=_positive_float,
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
        type=_non_negative_int,
        default=None,
        help="mamlpp: meta-updates with the multi-step loss (default: a tenth of --iterations)",
    )
    group.add_argument(
        "--first-order-iterations",
        type=_non_negative_int,
        default=None,
        help="mamlpp: first-order meta-updates at the start (default: a twentieth of --iterations)",
    )
    group.add_argument(
        "--grad-clip",
        type=_positive_float,
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
        "--seed", type=_non_negative_int, default=0, help="random seed (default: %(default)s)"
    )
    run.add_argument(
        "--eval-tasks",
        type=_positive_int,
        default=defaults["eval_tasks"],
        help="held-out tasks for the final evaluation (default: %(default)s)",
    )
    run.add_argument(
        "--eval-every",
        type=_positive_int,
        default=None,
        help="evaluate on up to 100 validation tasks every N meta-updates "
        "(default: a tenth of --iterations)",
    )
    run.add_argument(
        "--checkpoint-every",
        type=_positive_int,
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
        help="output directory (default: ./runs/<task>-<algo>)",
    )
    run.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bar (a line every tenth of the run is printed instead)",
    )


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
    commands = parser.add_subparsers(dest="task", required=True, metavar="{sinusoid,omniglot}")
    sinusoid = commands.add_parser(
        "sinusoid",
        help="few-shot sinusoid regression (MLP 1-40-40-1)",
        description="Few-shot regression of y = A sin(x - phase), A in [0.1, 5], phase in "
        "[0, pi], x in [-5, 5], with the MAML paper's MLP 1-40-40-1.",
    )
    _add_common(
        sinusoid,
        {
            "iterations": 3000,
            "meta_batch": 25,
            "shots": 10,
            "query_shots": 10,
            "inner_lr": 0.01,
            "eval_tasks": 600,
        },
    )
    omniglot = commands.add_parser(
        "omniglot",
        help="N-way K-shot Omniglot classification (4-block conv net)",
        description="N-way K-shot classification on Omniglot characters with the 4-block "
        "conv net; meta-trains on a split of the characters (plus their 90/180/270 degree "
        "rotations as new classes) and evaluates on the held-out characters, and on Lake's "
        "20 one-shot runs when all_runs.zip is in --root.",
    )
    data = omniglot.add_argument_group("data")
    data.add_argument(
        "--root",
        type=Path,
        required=True,
        help="directory holding the Omniglot zip archives (e.g. images_background_small1.zip)",
    )
    data.add_argument(
        "--subset",
        choices=OMNIGLOT_SUBSETS,
        default="background_small",
        help="which archives to meta-train and test on: %(choices)s (default: %(default)s)",
    )
    data.add_argument(
        "--ways",
        type=_positive_int,
        default=5,
        help="classes per task (default: %(default)s)",
    )
    data.add_argument(
        "--eval-ways",
        type=_positive_int,
        nargs="+",
        default=[],
        metavar="N",
        help="also evaluate N-way tasks on the held-out characters (the trained head's mean "
        "row replicated to N rows, then adapted as usual), e.g. --eval-ways 20",
    )
    data.add_argument(
        "--test-fraction",
        type=_fraction,
        default=0.2,
        help="fraction of the characters held out for testing (default: %(default)s)",
    )
    data.add_argument(
        "--no-rotations",
        action="store_true",
        help="do not add rotated characters as extra training classes",
    )
    _add_common(
        omniglot,
        {
            "iterations": 1000,
            "meta_batch": 16,
            "shots": 1,
            "query_shots": 15,
            "inner_lr": 0.4,
            "eval_tasks": 100,
        },
    )
    return parser


def _validate(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Checks that involve several arguments or the file system (before anything is built)."""
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
    if args.task == "omniglot":
        root: Path = args.root
        if not root.is_dir():
            parser.error(
                f"--root {str(root)!r} is not a directory; expected the folder that holds the "
                f"Omniglot archives (images_background_small1.zip, ..., all_runs.zip)"
            )
    if args.out is None:
        args.out = Path("runs") / f"{args.task}-{args.algo}"
    if args.out.exists() and not args.out.is_dir():
        parser.error(f"--out {str(args.out)!r} exists and is not a directory")


# ------------------------------------------------------------------------------- building
def _build_maml(args: argparse.Namespace, model: nn.Module) -> MAML:
    common: dict[str, Any] = {
        "inner_lr": args.inner_lr,
        "inner_steps": args.inner_steps,
        "first_order": args.first_order,
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
    return MAMLpp(
        model,
        args.inner_lr,
        args.inner_steps,
        msl_iterations=msl,
        first_order_iterations=first,
    )


class _Printer:
    """Progress lines for runs without a progress bar: about ten per run."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.every = max(1, total // 10)
        self.start = time.perf_counter()

    def __call__(self, iteration: int, meta_loss: float) -> None:
        if iteration % self.every == 0 or iteration == self.total:
            elapsed = time.perf_counter() - self.start
            print(
                f"iteration {iteration}/{self.total}  meta-loss {meta_loss:.4f}  ({elapsed:.1f} s)",
                flush=True,
            )


def _format_ci(values: Sequence[float], *, percent: bool = False) -> str:
    mean, half = mean_confidence_interval(values)
    if percent:
        return f"{100 * mean:6.2f}% ± {100 * half:.2f}%"
    return f"{mean:.4f} ± {half:.4f}"


def _summary(result: TaskEvaluation) -> dict[str, Any]:
    out: dict[str, Any] = {"tasks": len(result.post_loss)}
    fields: list[tuple[str, list[float] | None]] = [
        ("pre_loss", result.pre_loss),
        ("post_loss", result.post_loss),
        ("pre_accuracy", result.pre_accuracy),
        ("post_accuracy", result.post_accuracy),
    ]
    for name, values in fields:
        if values is not None:
            mean, half = mean_confidence_interval(values)
            out[name] = {"mean": mean, "ci95": half}
    return out


def _print_table(title: str, result: TaskEvaluation, loss_name: str) -> None:
    rows = [(loss_name, _format_ci(result.pre_loss), _format_ci(result.post_loss))]
    if result.pre_accuracy is not None and result.post_accuracy is not None:
        rows.append(
            (
                "accuracy",
                _format_ci(result.pre_accuracy, percent=True),
                _format_ci(result.post_accuracy, percent=True),
            )
        )
    width = max(len(name) for name, _, _ in rows)
    print(f"\n{title} ({len(result.post_loss)} tasks, mean ± 95% CI)")
    print(f"  {'':{width}}  {'pre-adaptation':>22}  {'post-adaptation':>22}")
    for name, pre, post in rows:
        print(f"  {name:{width}}  {pre:>22}  {post:>22}")


def _try_plot(plot: Callable[[], Path]) -> tuple[Path | None, str | None]:
    try:
        return plot(), None
    except ImportError as error:
        return None, str(error)


def _sinusoid_sampler(args: argparse.Namespace, seed_offset: int) -> SinusoidTaskSampler:
    """The ``--shots``/``--query-shots`` sinusoid sampler seeded with ``--seed + seed_offset``."""
    return SinusoidTaskSampler(
        k_support=args.shots, k_query=args.query_shots, seed=args.seed + seed_offset
    )


def _sinusoid_fit_plot(trainer: MetaTrainer, args: argparse.Namespace, path: Path) -> Path:
    from ._plotting import plot_sinusoid_fits

    tasks, params = _sinusoid_sampler(args, 3).sample_with_params(4)
    grid = torch.linspace(-5.0, 5.0, 200).unsqueeze(-1)
    true_y = params.evaluate(grid)
    maml = trainer.maml
    device = trainer.device
    pre, post = [], []
    for task in tasks:
        moved = task.to(device)
        with torch.no_grad():
            pre.append(maml(grid.to(device)).cpu())
        with torch.enable_grad():
            learner = maml.clone().adapt_on(
                trainer.loss_fn, moved.support_x, moved.support_y, steps=args.eval_steps
            )
            post.append(learner(grid.to(device)).detach().cpu())
    return plot_sinusoid_fits(
        path,
        x=grid.expand(len(tasks), -1, -1),
        true_y=true_y,
        pre_y=torch.stack(pre),
        post_y=torch.stack(post),
        support_x=torch.stack([t.support_x for t in tasks]),
        support_y=torch.stack([t.support_y for t in tasks]),
        title=f"{args.algo}: {args.shots}-shot sinusoid, {args.eval_steps} inner step(s)",
    )


def _widened_trainer(
    trainer: MetaTrainer, args: argparse.Namespace, ways: int, target_ways: int = LAKE_WAYS
) -> MetaTrainer:
    """A copy of ``trainer``'s meta-learner whose ``ways``-way head has ``target_ways`` rows.

    Every output row of the head (and of any per-parameter rate shaped like it) is replaced
    by the mean of the learned rows: the meta-learned head is label-permutation invariant in
    expectation (episode labels are shuffled), and one shared row works for any number of
    classes.
    """
    model = ConvFour(target_ways, image_size=28)
    widened = _build_maml(args, model).to(trainer.device)
    state = trainer.maml.state_dict()
    target = widened.state_dict()
    converted: dict[str, Tensor] = {}
    for key, value in state.items():
        wanted = target[key]
        if value.shape != wanted.shape:
            if value.dim() == 0 or value.shape[0] != ways or value.shape[1:] != wanted.shape[1:]:
                raise ValueError(
                    f"cannot widen {key!r} of shape {tuple(value.shape)} to "
                    f"{tuple(wanted.shape)} for {target_ways}-way tasks"
                )
            value = value.mean(dim=0, keepdim=True).expand_as(wanted).clone()
        converted[key] = value
    widened.load_state_dict(converted)
    optimizer = torch.optim.SGD(widened.parameters(), lr=0.0)
    return MetaTrainer(widened, optimizer, trainer.loss_fn, trainer.task_sampler, progress=False)


# ------------------------------------------------------------------------------- commands
def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    random.seed(seed)


def _run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    _validate(parser, args)
    device = torch.device(args.device)
    _seed_everything(args.seed)
    extra: dict[str, Any] = {}
    loss_fn: Callable[[Tensor, Tensor], Tensor]
    if args.task == "sinusoid":
        train_sampler: Any = _sinusoid_sampler(args, 0)
        validation = _sinusoid_sampler(args, 1).sample(min(100, args.eval_tasks))
        test_tasks = _sinusoid_sampler(args, 2).sample(args.eval_tasks)
        model: nn.Module = SinusoidMLP()
        loss_fn = F.mse_loss
        loss_name = "MSE"
    else:
        train_sampler, validation, test_tasks, extra = _omniglot_data(args, parser)
        model = ConvFour(args.ways, image_size=28)
        loss_fn = F.cross_entropy
        loss_name = "cross-entropy"

    maml = _build_maml(args, model).to(device)
    optimizer = torch.optim.Adam(maml.parameters(), lr=args.meta_lr)
    show_bar = not args.no_progress and sys.stderr.isatty()
    trainer = MetaTrainer(
        maml,
        optimizer,
        loss_fn,
        train_sampler,
        batched=args.batched,
        grad_clip=args.grad_clip,
        progress=show_bar,
        device=device,
    )
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    checkpoint = out / "checkpoint.pt"
    eval_every = args.eval_every or max(1, args.iterations // 10)
    print(
        f"meta-train {args.task}: {args.algo}, {args.iterations} iterations, meta-batch "
        f"{args.meta_batch}, {args.shots} shot(s), {args.inner_steps} inner step(s), "
        f"{'batched (vmap)' if args.batched else 'per-task loop'}, device {device}, "
        f"output {out}",
        flush=True,
    )
    start = time.perf_counter()
    history = trainer.fit(
        args.iterations,
        args.meta_batch,
        eval_every=eval_every,
        eval_tasks=validation,
        callback=None if show_bar else _Printer(args.iterations),
        checkpoint_every=args.checkpoint_every,
        checkpoint_path=checkpoint,
    )
    train_seconds = time.perf_counter() - start
    if args.iterations == 0:
        trainer.save_checkpoint(checkpoint)
    print(f"meta-training took {train_seconds:.1f} s", flush=True)

    result = trainer.evaluate_tasks(test_tasks, steps=args.eval_steps)
    title = (
        f"{args.shots}-shot sinusoid regression"
        if args.task == "sinusoid"
        else f"{args.ways}-way {args.shots}-shot Omniglot, held-out characters"
    )
    _print_table(title, result, loss_name)
    metrics: dict[str, Any] = {
        "task": args.task,
        "algo": args.algo,
        "arguments": {
            key: (str(value) if isinstance(value, Path) else value)
            for key, value in sorted(vars(args).items())
        },
        "train_seconds": train_seconds,
        "iterations": trainer.iteration,
        "eval_steps": args.eval_steps,
        "test": _summary(result),
    }
    for ways, tasks in extra.get("eval_ways", {}).items():
        wide = trainer if ways == args.ways else _widened_trainer(trainer, args, args.ways, ways)
        wide_result = wide.evaluate_tasks(tasks, steps=args.eval_steps)
        _print_table(
            f"{ways}-way {args.shots}-shot Omniglot, held-out characters", wide_result, loss_name
        )
        metrics.setdefault("test_by_ways", {})[str(ways)] = {
            **_summary(wide_result),
            "head": "as trained" if ways == args.ways else f"mean row replicated to {ways}",
        }
    lake = extra.get("lake_runs")
    if lake is not None:
        lake_trainer = (
            trainer if args.ways == LAKE_WAYS else _widened_trainer(trainer, args, args.ways)
        )
        lake_result = lake_trainer.evaluate_tasks(lake, steps=args.eval_steps)
        assert lake_result.post_accuracy is not None  # class labels: accuracy is filled
        queries = sum(task.num_query for task in lake)
        correct = sum(
            acc * task.num_query for acc, task in zip(lake_result.post_accuracy, lake, strict=True)
        )
        error_rate = 1.0 - correct / queries
        _print_table("Lake's 20-way one-shot runs", lake_result, loss_name)
        note = (
            ""
            if args.ways == LAKE_WAYS
            else f" (the {args.ways}-way head's mean row replicated to 20 rows)"
        )
        print(f"  error rate over {queries} queries: {100 * error_rate:.2f}%{note}")
        metrics["lake_runs"] = {
            **_summary(lake_result),
            "queries": queries,
            "error_rate": error_rate,
            "head": "as trained" if args.ways == LAKE_WAYS else "mean row replicated to 20",
        }
    elif args.task == "omniglot":
        print(f"\n{LAKE_RUNS_ARCHIVE} not found in --root: Lake's one-shot runs skipped")
        metrics["lake_runs"] = None

    history.to_json(out / "history.json")
    history.to_csv(out / "history.csv")
    plots: list[str] = []
    why_not: str | None = None
    if history.meta_loss or history.eval_loss:
        learning, why_not = _try_plot(
            lambda: _plot_learning_curves(history, out / "learning_curves.png", args)
        )
        if learning is not None:
            plots.append(str(learning))
    if args.task == "sinusoid" and why_not is None:
        fits, why_not = _try_plot(
            lambda: _sinusoid_fit_plot(trainer, args, out / "sinusoid_fits.png")
        )
        if fits is not None:
            plots.append(str(fits))
    metrics["plots"] = plots
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    print(f"\nwrote {out / 'history.json'}, {out / 'metrics.json'} and {checkpoint}")
    for plot in plots:
        print(f"plot: {plot}")
    if not history.meta_loss:
        print("no learning-curve plot: no meta-updates were made (--iterations 0)")
    if why_not is not None:
        print(f"no plots: {why_not}")
    return 0


def _plot_learning_curves(history: History, path: Path, args: argparse.Namespace) -> Path:
    from ._plotting import plot_history

    return plot_history(history, path, title=f"{args.task} / {args.algo}")


def _omniglot_data(
    args: argparse.Namespace, parser: argparse.ArgumentParser
) -> tuple[Any, list[Task], list[Task], dict[str, Any]]:
    from meta_tasks import (
        FewShotSampler,
        Omniglot,
        OmniglotOneShotRuns,
        RotatedClasses,
        split_classes,
    )

    root: Path = args.root
    try:
        dataset = Omniglot(root, args.subset, image_size=28, cache=True)
    except FileNotFoundError as error:
        parser.error(f"--root {str(root)!r} with --subset {args.subset}: {error}")
    except ImportError as error:
        parser.error(f"meta-train omniglot cannot read images: {error}")
    train_base, test_base = split_classes(
        dataset.num_classes,
        fractions=(1.0 - args.test_fraction, args.test_fraction),
        seed=args.seed,
    )
    per_class = args.shots + args.query_shots
    smallest = min(dataset.labels.count(label) for label in range(dataset.num_classes))
    if per_class > smallest:
        parser.error(
            f"--shots {args.shots} + --query-shots {args.query_shots} = {per_class} examples "
            f"per class, but Omniglot has {smallest} drawings per character; use at most "
            f"{smallest} in total"
        )
    if args.ways > len(test_base):
        parser.error(
            f"--ways {args.ways} is more than the {len(test_base)} held-out characters "
            f"({args.test_fraction:g} of the {dataset.num_classes} in --subset {args.subset}); "
            f"use --ways <= {len(test_base)} or a larger --test-fraction"
        )
    if args.no_rotations:
        train_data: Any = dataset
        train_classes = train_base
    else:
        train_data = RotatedClasses(dataset)
        count = len(train_data.rotations)
        train_classes = [label * count + r for label in train_base for r in range(count)]
    train_sampler = FewShotSampler(
        train_data, args.ways, args.shots, args.query_shots, classes=train_classes, seed=args.seed
    )

    def held_out(ways: int, seed_offset: int, count: int) -> list[Task]:
        return FewShotSampler(
            dataset,
            ways,
            args.shots,
            args.query_shots,
            classes=test_base,
            seed=args.seed + seed_offset,
        ).sample(count)

    validation = held_out(args.ways, 1, min(20, args.eval_tasks))
    test_tasks = held_out(args.ways, 2, args.eval_tasks)
    extra: dict[str, Any] = {"lake_runs": None, "eval_ways": {}}
    for offset, ways in enumerate(args.eval_ways, start=3):
        if ways > len(test_base):
            parser.error(
                f"--eval-ways {ways} is more than the {len(test_base)} held-out characters; "
                f"use values <= {len(test_base)} or a larger --test-fraction"
            )
        extra["eval_ways"][ways] = held_out(ways, offset, args.eval_tasks)
    if (root / LAKE_RUNS_ARCHIVE).is_file():
        runs = OmniglotOneShotRuns(root, image_size=28)
        extra["lake_runs"] = [runs[index] for index in range(len(runs))]
    return train_sampler, validation, test_tasks, extra


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``meta-train`` command line.

    Args:
        argv: Arguments without the program name; ``None`` reads ``sys.argv[1:]``.

    Returns:
        The exit status (0 on success). Invalid arguments exit with status 2 (argparse)
        before anything is trained, with a message that says what is allowed.

    Examples:
        From a shell, ``meta-train sinusoid --iterations 3000 --batched --out runs/demo``; from
        Python, ``main(["sinusoid", "--iterations", "3000", "--batched"])`` does the same
        with the default output directory ``runs/sinusoid-maml``.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    return _run(args, parser)
