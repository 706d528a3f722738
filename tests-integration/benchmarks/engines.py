"""One meta-update driven by Lightning's Trainer against the native MetaTrainer loop.

Both engines train the same algorithm on the same kind of tasks, sampled inside the loop:
``MetaTrainer.fit`` (``meta-train``'s native engine) and ``lightning.Trainer.fit`` over
``meta_train.lightning.MetaLightningModule`` and ``MetaDataModule`` (``--engine lightning``;
no logger, checkpointing, progress bar or model summary, as the native run is timed without
them either). A meta-update's time is the interval between the ends of two consecutive
meta-updates (the native ``callback``, Lightning's ``on_train_batch_end``), so it holds the
task sampling, the meta-gradient, the optimizer step and each engine's own bookkeeping, but
not the one-off start of a fit. Short fits of the two engines alternate, each on a fresh
model; the table gives medians over all their meta-updates but the first of each fit. A
third fit, of a module whose step does nothing, less the time of the data module's task
stream iterated alone, is what Lightning's loop adds to every meta-update.

Usage::

    python tests-integration/benchmarks/engines.py --quick
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import platform
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lightning as L
import meta_algos
import meta_nn
import torch
import torch.nn.functional as F
from _report import write_json
from meta_tasks import FewShotSampler, Omniglot, SinusoidTaskSampler, TaskSampler
from meta_train import MetaTrainer
from meta_train.lightning import MetaDataModule, MetaLightningModule
from torch import nn

NATIVE = "MetaTrainer.fit"
LIGHTNING = "lightning.Trainer.fit"
LIGHTNING_ALONE = "lightning.Trainer.fit, empty step"
STREAM_ALONE = "MetaDataModule's task stream alone"
META_LR = 1e-3


@dataclass
class EngineWorkload:
    """What both engines train: a model, its tasks and the meta-update's settings."""

    name: str
    description: str
    make_model: Callable[[], nn.Module]
    make_sampler: Callable[[], TaskSampler]
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    inner_lr: float
    meta_batch_size: int
    batched: bool
    steps_per_fit: int


def _omniglot_sampler() -> TaskSampler:
    root = Path(
        os.environ.get(
            "META_OMNIGLOT_ROOT",
            Path(__file__).resolve().parents[2] / ".." / "shared/data/omniglot",
        )
    )
    dataset = Omniglot(root, "background_small1", image_size=28)
    return FewShotSampler(dataset, ways=5, shots=1, query_shots=15, seed=0)


def make_workloads(quick: bool) -> list[EngineWorkload]:
    return [
        EngineWorkload(
            name="A1",
            description="sinusoid MLP 1-40-40-1, 25 tasks, 10+10 points, 1 inner step, batched",
            make_model=lambda: meta_nn.MLP([1, 40, 40, 1]),
            make_sampler=lambda: SinusoidTaskSampler(k_support=10, k_query=10, seed=0),
            loss_fn=F.mse_loss,
            inner_lr=0.01,
            meta_batch_size=25,
            batched=True,
            steps_per_fit=10 if quick else 40,
        ),
        EngineWorkload(
            name="B",
            description=(
                "OmniglotCNN 5-way 1-shot, 15 query/class, 8 tasks, 1 inner step, "
                "per-task loop (the engines' default)"
            ),
            make_model=lambda: meta_nn.OmniglotCNN(5),
            make_sampler=_omniglot_sampler,
            loss_fn=F.cross_entropy,
            inner_lr=0.4,
            meta_batch_size=8,
            batched=False,
            steps_per_fit=3 if quick else 6,
        ),
    ]


def _algorithm(w: EngineWorkload, seed: int) -> meta_algos.MAML:
    torch.manual_seed(seed)
    return meta_algos.MAML(w.make_model(), inner_lr=w.inner_lr)


def native_fit(w: EngineWorkload, seed: int) -> list[float]:
    """Milliseconds between consecutive meta-updates of one ``MetaTrainer.fit``."""
    maml = _algorithm(w, seed)
    trainer = MetaTrainer(
        maml,
        torch.optim.Adam(maml.parameters(), lr=META_LR),
        w.loss_fn,
        w.make_sampler(),
        batched=w.batched,
        progress=False,
    )
    ends: list[float] = []
    trainer.fit(
        w.steps_per_fit,
        w.meta_batch_size,
        callback=lambda iteration, loss: ends.append(time.perf_counter()),
    )
    return _intervals_ms(ends)


class _BatchEnds(L.Callback):
    """Records when every training batch (one meta-update) ends."""

    def __init__(self) -> None:
        self.ends: list[float] = []

    def on_train_batch_end(self, *args: object, **kwargs: object) -> None:
        self.ends.append(time.perf_counter())


def _data(w: EngineWorkload) -> MetaDataModule:
    return MetaDataModule(
        w.make_sampler(), meta_batch_size=w.meta_batch_size, epoch_length=w.steps_per_fit
    )


def _timed_fit(module: L.LightningModule, w: EngineWorkload) -> list[float]:
    """Milliseconds between consecutive steps of one ``lightning.Trainer.fit`` on ``w``'s tasks."""
    ends = _BatchEnds()
    trainer = L.Trainer(
        max_epochs=1,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[ends],
    )
    trainer.fit(module, _data(w))
    return _intervals_ms(ends.ends)


def lightning_fit(w: EngineWorkload, seed: int) -> list[float]:
    """Milliseconds between consecutive meta-updates of one ``lightning.Trainer.fit``."""
    module = MetaLightningModule(_algorithm(w, seed), w.loss_fn, meta_lr=META_LR, batched=w.batched)
    return _timed_fit(module, w)


class _EmptyStep(L.LightningModule):
    """Lightning's own share of a meta-update: the same batches, a step that does nothing.

    A fit of this module costs Lightning's loop and hooks and the data module's task sampling
    and transfer; the optimizer step, which both engines take, is left out.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.model = model

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.model.parameters(), lr=META_LR)

    def training_step(self, batch: object, batch_idx: int) -> None:
        return None


def lightning_alone_fit(w: EngineWorkload, seed: int) -> list[float]:
    """Milliseconds between consecutive steps of a fit of `_EmptyStep` on ``w``'s tasks."""
    torch.manual_seed(seed)
    return _timed_fit(_EmptyStep(w.make_model()), w)


def stream_alone(w: EngineWorkload, seed: int) -> list[float]:
    """Milliseconds between consecutive meta-batches of the data module's stream, no engine."""
    torch.manual_seed(seed)
    ends = [time.perf_counter() for _ in _data(w).train_dataloader()]
    return _intervals_ms(ends)


def _intervals_ms(ends: list[float]) -> list[float]:
    return [(later - earlier) * 1000.0 for earlier, later in itertools.pairwise(ends)]


def benchmark(
    workloads: list[EngineWorkload], rounds: int, seed: int
) -> dict[tuple[str, str], list[float]]:
    """Alternate short fits of every engine and baseline (the order flips every round)."""
    engines = {
        NATIVE: native_fit,
        LIGHTNING: lightning_fit,
        LIGHTNING_ALONE: lightning_alone_fit,
        STREAM_ALONE: stream_alone,
    }
    times: dict[tuple[str, str], list[float]] = {
        (w.name, engine): [] for w in workloads for engine in engines
    }
    for w in workloads:
        for engine in engines.values():  # warm-up: imports, first-call allocations
            engine(w, seed)
        for round_index in range(rounds):
            order = list(engines.items())
            if round_index % 2:
                order.reverse()
            for name, engine in order:
                times[(w.name, name)] += engine(w, seed)
    return times


def summarise(times: dict[tuple[str, str], list[float]]) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for (workload, engine), samples in times.items():
        native = statistics.median(times[(workload, NATIVE)])
        median = statistics.median(samples)
        rows.append(
            {
                "workload": workload,
                "engine": engine,
                "meta_updates": len(samples),
                "median_ms": round(median, 3),
                "min_ms": round(min(samples), 3),
                "ratio_to_native": round(median / native, 3),
            }
        )
    return rows


def markdown(rows: list[dict[str, object]], workloads: list[EngineWorkload], rounds: int) -> str:
    lines = [
        "One meta-update (MAML, second order, Adam) driven by Lightning 2 "
        f"(`lightning` {L.__version__}) against the native `MetaTrainer` loop; torch "
        f"{torch.__version__}, {torch.get_num_threads()} threads, {platform.machine()}; "
        f"{rounds} alternating fits per engine on fresh models, medians over their "
        "meta-updates (the first of each fit left out). Target: Lightning within 5 % of "
        "the native step. The empty-step row is a fit whose step does nothing (Lightning's "
        "loop and hooks, the data module's task sampling and transfer) and the stream row "
        "the data module's sampling alone, which the native loop does too: their difference "
        "is what Lightning's loop adds to every meta-update.",
        "",
    ]
    lines += [f"- **{w.name}**: {w.description}" for w in workloads]
    lines += [
        "",
        "| workload | engine | meta-updates | median ms | min ms | / native |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['workload']} | {row['engine']} | {row['meta_updates']} "
            f"| {row['median_ms']:.2f} | {row['min_ms']:.2f} | {row['ratio_to_native']:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few fits (a smoke run)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this path")
    parser.add_argument("--rounds", type=int, default=None, help="fits per engine and workload")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    # Lightning's advice about dataloader workers and the like is not what is measured here.
    warnings.filterwarnings("ignore", module="lightning")
    # and its per-fit notices (accelerator, "fit stopped") would interleave with the table
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    rounds = args.rounds or (2 if args.quick else 8)
    workloads = make_workloads(args.quick)
    rows = summarise(benchmark(workloads, rounds, args.seed))
    print(markdown(rows, workloads, rounds))
    if args.json is not None:
        payload = {"torch": torch.__version__, "lightning": L.__version__, "rows": rows}
        write_json(args.json, payload)


if __name__ == "__main__":
    main()
