"""Task-batched MAML against per-task loops on the sinusoid problem.

Workload (Finn et al. 2017): MLP 1-40-40-1 with ReLU, 25 tasks per meta-batch, 10 support
and 10 query points per task, 1 inner SGD step (lr 0.01), second order, MSE loss. One timed
meta-step is: zero the gradients, compute the mean query loss over the tasks and its
meta-gradient, take an Adam step. Implementations:

* ``torch.func loop`` - hand-written reference: ``torch.func.functional_call`` plus
  ``torch.autograd.grad(create_graph=True)`` per task, one backward at the end;
* ``meta-* loop`` - ``MAML.query_loss`` per task (``clone()``/``adapt_on()``), one backward;
* ``meta-* batched`` - ``MAML.batched_query_loss`` (``torch.func.grad`` inside
  ``torch.func.vmap`` over the 25 tasks).

Before timing, every implementation's meta-gradient is checked against the reference in
float64. Timings are interleaved (each repeat runs every implementation once, in rotating
order) after warm-up; the table reports medians and ratios.

Usage::

    python tests-integration/benchmarks/sinusoid_batched.py [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import meta_algos
import torch
import torch.nn.functional as F
from _report import write_json
from torch import Tensor, nn
from torch.func import functional_call

N_TASKS, SHOTS, INNER_LR = 25, 10, 0.01
REFERENCE, LOOP, BATCHED = "torch.func loop", "meta-* loop", "meta-* batched"

Data = tuple[Tensor, Tensor, Tensor, Tensor]
MetaGradient = Callable[[], float]


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1)
    )


def make_data(seed: int, dtype: torch.dtype) -> Data:
    g = torch.Generator().manual_seed(seed)
    amplitude = torch.rand(N_TASKS, 1, 1, generator=g) * 4.9 + 0.1
    phase = torch.rand(N_TASKS, 1, 1, generator=g) * torch.pi
    support_x = torch.rand(N_TASKS, SHOTS, 1, generator=g) * 10 - 5
    query_x = torch.rand(N_TASKS, SHOTS, 1, generator=g) * 10 - 5
    data = (
        support_x,
        amplitude * torch.sin(support_x + phase),
        query_x,
        amplitude * torch.sin(query_x + phase),
    )
    return tuple(t.to(dtype) for t in data)  # type: ignore[return-value]


def torch_func_loop(model: nn.Module, data: Data) -> MetaGradient:
    support_x, support_y, query_x, query_y = data

    def run() -> float:
        params = dict(model.named_parameters())
        total = torch.zeros((), dtype=support_x.dtype)
        for t in range(N_TASKS):
            support_loss = F.mse_loss(functional_call(model, params, (support_x[t],)), support_y[t])
            grads = torch.autograd.grad(support_loss, list(params.values()), create_graph=True)
            fast = {n: p - INNER_LR * g for (n, p), g in zip(params.items(), grads, strict=True)}
            total = total + F.mse_loss(functional_call(model, fast, (query_x[t],)), query_y[t])
        loss = total / N_TASKS
        loss.backward()
        return loss.item()

    return run


def meta_loop(model: nn.Module, data: Data) -> MetaGradient:
    maml = meta_algos.MAML(model, inner_lr=INNER_LR, inner_steps=1)

    def run() -> float:
        total = sum(maml.query_loss(F.mse_loss, *task) for task in zip(*data, strict=True))
        loss = total / N_TASKS
        loss.backward()
        return float(loss.item())

    return run


def meta_batched(model: nn.Module, data: Data) -> MetaGradient:
    maml = meta_algos.MAML(model, inner_lr=INNER_LR, inner_steps=1)

    def run() -> float:
        loss = maml.batched_query_loss(F.mse_loss, *data)
        loss.backward()
        return loss.item()

    return run


IMPLEMENTATIONS: dict[str, Callable[[nn.Module, Data], MetaGradient]] = {
    REFERENCE: torch_func_loop,
    LOOP: meta_loop,
    BATCHED: meta_batched,
}


def check_meta_gradients() -> float:
    """Largest difference of any float64 meta-gradient to the reference's."""
    data = make_data(1, torch.float64)
    gradients = {}
    for name, implementation in IMPLEMENTATIONS.items():
        torch.manual_seed(0)
        model = make_model().double()
        implementation(model, data)()
        gradients[name] = [p.grad.clone() for p in model.parameters()]  # type: ignore[union-attr]
    worst = 0.0
    for name, grads in gradients.items():
        for a, b in zip(grads, gradients[REFERENCE], strict=True):
            worst = max(worst, (a - b).abs().max().item())
        if worst > 1e-10:
            raise AssertionError(f"{name}: meta-gradient differs from the reference by {worst:.3e}")
    return worst


def benchmark(repeats: int, warmup: int) -> dict[str, list[float]]:
    data = make_data(0, torch.float32)
    steps: dict[str, Callable[[], float]] = {}
    for name, implementation in IMPLEMENTATIONS.items():
        torch.manual_seed(0)
        model = make_model()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        run = implementation(model, data)

        def step(run: MetaGradient = run, optimizer: torch.optim.Optimizer = optimizer) -> float:
            optimizer.zero_grad(set_to_none=True)
            start = time.perf_counter()
            run()
            optimizer.step()
            return (time.perf_counter() - start) * 1000

        steps[name] = step
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        order = names[repeat % len(names) :] + names[: repeat % len(names)]
        for name in order:
            times[name].append(steps[name]())
    return times


def summarise(times: dict[str, list[float]]) -> list[dict[str, float | str]]:
    reference = statistics.median(times[REFERENCE])
    loop = statistics.median(times[LOOP])
    rows: list[dict[str, float | str]] = []
    for name, samples in times.items():
        median = statistics.median(samples)
        rows.append(
            {
                "implementation": name,
                "median_ms": round(median, 3),
                "min_ms": round(min(samples), 3),
                "ratio_to_torch_func_loop": round(median / reference, 3),
                "speedup_over_meta_loop": round(loop / median, 3),
            }
        )
    return rows


def markdown(rows: list[dict[str, float | str]], repeats: int, max_diff: float) -> str:
    lines = [
        f"Sinusoid MAML meta-step: MLP 1-40-40-1, {N_TASKS} tasks, {SHOTS}+{SHOTS} points, "
        f"1 inner step, second order; torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads, {platform.machine()}; median of {repeats} interleaved repeats; float64 "
        f"meta-gradients agree to {max_diff:.1e}.",
        "",
        "| implementation | median ms | min ms | / torch.func loop | speed-up over meta-* loop |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['implementation']} | {row['median_ms']:.2f} | {row['min_ms']:.2f} "
            f"| {row['ratio_to_torch_func_loop']:.2f} | {row['speedup_over_meta_loop']:.2f}x |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats (a smoke run)")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this path")
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed repeats per implementation"
    )
    args = parser.parse_args()
    repeats = args.repeats or (10 if args.quick else 60)
    warmup = 2 if args.quick else 5
    max_diff = check_meta_gradients()
    times = benchmark(repeats, warmup)
    rows = summarise(times)
    print(markdown(rows, repeats, max_diff))
    if args.json is not None:
        payload = {
            "workload": {"tasks": N_TASKS, "shots": SHOTS, "inner_steps": 1, "second_order": True},
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "repeats": repeats,
            "max_float64_meta_gradient_diff": max_diff,
            "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
            "rows": rows,
            "samples_ms": times,
        }
        write_json(args.json, payload)


if __name__ == "__main__":
    main()
