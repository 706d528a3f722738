"""``meta-train sinusoid``: few-shot sinusoid regression with the MAML paper's MLP."""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from meta_nn import MLP
from meta_tasks import SinusoidTaskSampler, Task

from .._trainer import MetaTrainer
from ._options import Defaults, add_options, positive_int
from ._training import Command, Setup

MLP_SIZES = (1, 40, 40, 1)
"""Layer widths of the default regressor, ``meta_nn.MLP(list(MLP_SIZES))``, as in the MAML paper."""

_ARCHITECTURE = "MLP " + "-".join(str(size) for size in MLP_SIZES)
_PLOT_TASKS = 4
_PLOT_POINTS = 200


DEFAULTS = Defaults(
    iterations=3000, meta_batch=25, shots=10, query_shots=10, inner_lr=0.01, eval_tasks=600
)


def _add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "sinusoid",
        help=f"few-shot sinusoid regression ({_ARCHITECTURE})",
        description="Few-shot regression of y = A sin(x - phase), A in [0.1, 5], phase in "
        f"[0, pi], x in [-5, 5], with the MAML paper's {_ARCHITECTURE}.",
    )
    model = parser.add_argument_group("model")
    model.add_argument(
        "--hidden",
        type=positive_int,
        nargs="+",
        default=list(MLP_SIZES[1:-1]),
        metavar="WIDTH",
        help="widths of the hidden layers of the ReLU MLP from x to y (default: %(default)s, the "
        "MAML paper's); e.g. --hidden 80 80 for a wider net",
    )
    add_options(parser, DEFAULTS)


def _sampler(args: argparse.Namespace, seed: int) -> SinusoidTaskSampler:
    """The ``--shots``/``--query-shots`` sinusoid sampler seeded with ``seed``.

    A run seeded ``S`` meta-trains on tasks drawn with seed ``S``, validates on ``S + 1``,
    tests on ``S + 2`` and plots ``S + 3``.
    """
    return SinusoidTaskSampler(k_support=args.shots, k_query=args.query_shots, seed=seed)


def _held_out(args: argparse.Namespace, count: int, seed: int) -> list[Task]:
    return _sampler(args, seed + 2).sample(count)


def _setup(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Setup:
    return Setup(
        train_sampler=_sampler(args, args.seed),
        validation=_sampler(args, args.seed + 1).sample(
            min(DEFAULTS.validation_tasks, args.eval_tasks)
        ),
        held_out=partial(_held_out, args),
        model=MLP([1, *args.hidden, 1]),
        loss_fn=F.mse_loss,
        loss_name="MSE",
        title=f"{args.shots}-shot sinusoid regression",
        plots=[partial(_plot_fits, args)],
    )


def _plot_fits(args: argparse.Namespace, trainer: MetaTrainer, out: Path) -> Path:
    """Plot a few new tasks: true curve, support points, predictions before and after adapting."""
    from .._plotting import plot_sinusoid_fits

    sampler = _sampler(args, args.seed + 3)
    tasks, params = sampler.sample_with_params(_PLOT_TASKS)
    grid = torch.linspace(*sampler.x_range, _PLOT_POINTS).unsqueeze(-1)
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
        out / "sinusoid_fits.png",
        x=grid.expand(len(tasks), -1, -1),
        true_y=true_y,
        pre_y=torch.stack(pre),
        post_y=torch.stack(post),
        support_x=torch.stack([t.support_x for t in tasks]),
        support_y=torch.stack([t.support_y for t in tasks]),
        title=f"{args.algo}: {args.shots}-shot sinusoid, {args.eval_steps} inner step(s)",
    )


COMMAND = Command(name="sinusoid", add_parser=_add_parser, setup=_setup)
