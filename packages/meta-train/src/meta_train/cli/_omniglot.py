"""``meta-train omniglot``: N-way K-shot Omniglot classification with the 4-block conv net.

Meta-trains on a split of the characters (plus their rotations as new classes), evaluates on
the held-out characters, at ``--eval-ways`` too, and on Lake's one-shot runs when their archive
is in ``--root``. Tasks wider than the trained head are evaluated with the head's mean row
replicated.
"""

from __future__ import annotations

import argparse
import shlex
from functools import partial
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from meta_nn import ConvNet4
from meta_tasks import (
    OMNIGLOT_IMAGE_SIZE,
    OMNIGLOT_RUNS_ARCHIVE,
    OMNIGLOT_RUNS_WAYS,
    OMNIGLOT_SUBSETS,
    FewShotSampler,
    LabeledDataset,
    Omniglot,
    OmniglotOneShotRuns,
    RotatedClasses,
    Task,
    split_classes,
)
from torch import Tensor

from .._trainer import MetaTrainer
from ._options import HEAD_FREE_ALGOS, Defaults, add_options, fraction, ways_int
from ._report import print_table, summary
from ._training import Command, Setup, build_algorithm

_LOSS_NAME = "cross-entropy"
_EXAMPLE_ARCHIVE = OMNIGLOT_SUBSETS["background_small1"][0]


DEFAULTS = Defaults(
    iterations=1000,
    meta_batch=16,
    shots=1,
    query_shots=15,
    inner_lr=0.4,
    eval_tasks=100,
    validation_tasks=20,
    examples_per="per class",
)


def _add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "omniglot",
        help="N-way K-shot Omniglot classification (4-block conv net)",
        description="N-way K-shot classification on Omniglot characters with the 4-block "
        "conv net; meta-trains on a split of the characters (plus their 90/180/270 degree "
        "rotations as new classes) and evaluates on the held-out characters, and on Lake's "
        f"20 one-shot runs when {OMNIGLOT_RUNS_ARCHIVE} is in --root.",
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--root",
        type=Path,
        default=None,
        help=f"directory holding the Omniglot zip archives (e.g. {_EXAMPLE_ARCHIVE}); required",
    )
    data.add_argument(
        "--subset",
        choices=sorted(OMNIGLOT_SUBSETS),
        default="background_small",
        help="which archives to meta-train and test on: %(choices)s (default: %(default)s)",
    )
    data.add_argument(
        "--ways",
        type=ways_int,
        default=5,
        help="classes per task (default: %(default)s)",
    )
    data.add_argument(
        "--eval-ways",
        type=ways_int,
        nargs="+",
        default=[],
        metavar="N",
        help="also evaluate N-way tasks on the held-out characters (the trained head's mean "
        "row replicated to N rows, then adapted as usual), e.g. --eval-ways 20",
    )
    data.add_argument(
        "--test-fraction",
        type=fraction,
        default=0.2,
        help="fraction of the characters held out for testing (default: %(default)s)",
    )
    data.add_argument(
        "--no-rotations",
        action="store_true",
        help="do not add rotated characters as extra training classes",
    )
    add_options(parser, DEFAULTS)


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    root: Path | None = args.root
    if root is None:
        parser.error(
            "the following arguments are required: --root (the folder of the Omniglot "
            "archives; `meta-train download omniglot --root DIR` fetches them)"
        )
    fetch = f"fetch them with: meta-train download omniglot --root {shlex.quote(str(root))}"
    if not root.is_dir():
        parser.error(
            f"--root {str(root)!r} is not a directory; expected the folder that holds the "
            f"Omniglot archives ({_EXAMPLE_ARCHIVE}, ..., {OMNIGLOT_RUNS_ARCHIVE}); {fetch}"
        )
    archives = OMNIGLOT_SUBSETS[args.subset]
    missing = [name for name in archives if not (root / name).is_file()]
    if missing:
        parser.error(
            f"--root {str(root)!r} lacks {', '.join(missing)} (--subset {args.subset}); "
            f"{fetch} --subset {args.subset}"
        )


def _model(ways: int) -> ConvNet4:
    return ConvNet4(ways, image_size=OMNIGLOT_IMAGE_SIZE)


def _setup(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Setup:
    root: Path = args.root
    try:
        dataset = Omniglot(root, args.subset, image_size=OMNIGLOT_IMAGE_SIZE, cache=True)
    except FileNotFoundError as error:
        parser.error(f"--root {str(root)!r} with --subset {args.subset}: {error}")
    except ImportError as error:
        parser.error(f"cannot read images: {error}")
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
    train_data: LabeledDataset
    if args.no_rotations:
        train_data = dataset
        train_classes = train_base
    else:
        train_data = RotatedClasses(dataset)
        count = len(train_data.rotations)
        train_classes = [label * count + r for label in train_base for r in range(count)]
    if args.ways > len(train_classes):
        parser.error(
            f"--ways {args.ways} is more than the {len(train_classes)} meta-training classes "
            f"of --subset {args.subset}; use --ways <= {len(train_classes)} or a smaller "
            "--test-fraction"
        )
    train_sampler = FewShotSampler(
        train_data, args.ways, args.shots, args.query_shots, classes=train_classes, seed=args.seed
    )

    def held_out(ways: int, count: int, seed: int) -> list[Task]:
        # A run seeded S validates on tasks drawn with seed S + 1, tests on S + 2 and on
        # the i-th --eval-ways value on S + 2 + i.
        return FewShotSampler(
            dataset, ways, args.shots, args.query_shots, classes=test_base, seed=seed
        ).sample(count)

    validation = held_out(args.ways, min(DEFAULTS.validation_tasks, args.eval_tasks), args.seed + 1)
    eval_ways: dict[int, list[Task]] = {}
    for offset, ways in enumerate(args.eval_ways, start=3):
        if ways > len(test_base):
            parser.error(
                f"--eval-ways {ways} is more than the {len(test_base)} held-out characters; "
                f"use values <= {len(test_base)} or a larger --test-fraction"
            )
        eval_ways[ways] = held_out(ways, args.eval_tasks, args.seed + offset)
    lake = load_lake_runs(root) if (root / OMNIGLOT_RUNS_ARCHIVE).is_file() else None
    return Setup(
        model=_model(args.ways),
        loss_fn=F.cross_entropy,
        loss_name=_LOSS_NAME,
        train_sampler=train_sampler,
        validation=validation,
        held_out=lambda count, seed: held_out(args.ways, count, seed + 2),
        title=f"{args.ways}-way {args.shots}-shot Omniglot, held-out characters",
        report=partial(_report, args=args, eval_ways=eval_ways, lake=lake),
    )


def load_lake_runs(root: Path) -> list[Task]:
    """Lake's 20 one-shot runs from ``root``'s ``all_runs.zip``, as 20-way tasks."""
    runs = OmniglotOneShotRuns(root, image_size=OMNIGLOT_IMAGE_SIZE)
    return [runs[index] for index in range(len(runs))]


def _widened(trainer: MetaTrainer, args: argparse.Namespace, ways: int) -> MetaTrainer:
    """``trainer`` itself for ``--ways``-way tasks, else a copy whose head has ``ways`` rows.

    Every output row of the head (and of any per-parameter rate shaped like it) is replaced
    by the mean of the learned rows: the meta-learned head is label-permutation invariant in
    expectation (episode labels are shuffled), and one shared row works for any number of
    classes.
    """
    if ways == args.ways:
        return trainer
    widened = build_algorithm(args, _model(ways)).to(trainer.device)
    state = trainer.maml.state_dict()
    target = widened.state_dict()
    converted: dict[str, Tensor] = {}
    for key, value in state.items():
        wanted = target[key]
        if value.shape != wanted.shape:
            if (
                value.dim() == 0
                or value.shape[0] != args.ways
                or value.shape[1:] != wanted.shape[1:]
            ):
                raise ValueError(
                    f"cannot widen {key!r} of shape {tuple(value.shape)} to "
                    f"{tuple(wanted.shape)} for {ways}-way tasks"
                )
            value = value.mean(dim=0, keepdim=True).expand_as(wanted).clone()
        converted[key] = value
    widened.load_state_dict(converted)
    optimizer = torch.optim.SGD(widened.parameters(), lr=0.0)
    return MetaTrainer(widened, optimizer, trainer.loss_fn, trainer.task_sampler, progress=False)


def _head(args: argparse.Namespace, ways: int) -> str:
    if args.algo == "protonet":
        return "prototypes (no head)"
    if args.algo == "metaoptnet":
        return "an SVM per task (no head)"
    return "as trained" if ways == args.ways else f"mean row replicated to {ways}"


def _report(
    trainer: MetaTrainer,
    metrics: dict[str, Any],
    *,
    args: argparse.Namespace,
    eval_ways: dict[int, list[Task]],
    lake: list[Task] | None,
) -> None:
    """Evaluate at every ``--eval-ways`` and on Lake's runs; print and record the results."""
    _report_eval_ways(trainer, metrics, args=args, eval_ways=eval_ways)
    if lake is None:
        print(f"\n{OMNIGLOT_RUNS_ARCHIVE} not found in --root: Lake's one-shot runs skipped")
        metrics["lake_runs"] = None
        return
    report_lake_runs(trainer, metrics, args=args, lake=lake)


def _report_eval_ways(
    trainer: MetaTrainer,
    metrics: dict[str, Any],
    *,
    args: argparse.Namespace,
    eval_ways: dict[int, list[Task]],
) -> None:
    for ways, tasks in eval_ways.items():
        result = _widened(trainer, args, ways).evaluate_tasks(tasks, steps=args.eval_steps)
        print_table(
            f"{ways}-way {args.shots}-shot Omniglot, held-out characters", result, _LOSS_NAME
        )
        metrics.setdefault("test_by_ways", {})[str(ways)] = {
            **summary(result),
            "head": _head(args, ways),
        }


def report_lake_runs(
    trainer: MetaTrainer, metrics: dict[str, Any], *, args: argparse.Namespace, lake: list[Task]
) -> None:
    """Evaluate on Lake's one-shot runs; print the table and error rate, record ``lake_runs``.

    Args:
        trainer: The trainer of the ``--ways``-way meta-learner (widened to 20 ways here
            unless trained 20-way).
        metrics: Receives ``"lake_runs"``: the summary, query count, error rate and head.
        args: The run's arguments (``--ways``, ``--eval-steps``, ``--algo``, ...).
        lake: The runs (see `load_lake_runs`).
    """
    result = _widened(trainer, args, OMNIGLOT_RUNS_WAYS).evaluate_tasks(lake, steps=args.eval_steps)
    assert result.post_accuracy is not None  # class labels: accuracy is filled
    queries = sum(task.num_query for task in lake)
    correct = sum(
        acc * task.num_query for acc, task in zip(result.post_accuracy, lake, strict=True)
    )
    error_rate = 1.0 - correct / queries
    print_table(f"Lake's {OMNIGLOT_RUNS_WAYS}-way one-shot runs", result, _LOSS_NAME)
    note = (
        ""
        if args.ways == OMNIGLOT_RUNS_WAYS or args.algo in HEAD_FREE_ALGOS
        else f" (the {args.ways}-way head's mean row replicated to {OMNIGLOT_RUNS_WAYS} rows)"
    )
    print(f"  error rate over {queries} queries: {100 * error_rate:.2f}%{note}")
    metrics["lake_runs"] = {
        **summary(result),
        "queries": queries,
        "error_rate": error_rate,
        "head": _head(args, OMNIGLOT_RUNS_WAYS),
    }


COMMAND = Command(name="omniglot", add_parser=_add_parser, setup=_setup, check=_check)
