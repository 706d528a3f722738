"""Peak memory and time of a meta-step against the number of inner steps, with and without
checkpointing the inner loop (``MAML(..., checkpoint_inner=True)``).

Workload: OmniglotCNN, 4 tasks of 5-way 1-shot with 15 queries per class (real Omniglot
characters at 28x28), second-order MAML, the per-task loop with a backward per task (the path
``checkpoint_inner`` applies to). Each configuration runs in a fresh subprocess: peak memory
is the growth of the peak RSS (``VmHWM``, see ``_peak_rss.py``) over the process's size right
before its first meta-step; time is the median of the meta-steps after the first. Before timing, the
checkpointed meta-gradient is checked against the plain one in float64.

Usage::

    python tests-integration/benchmarks/inner_steps.py --quick
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import meta_algos
import torch
from _peak_rss import peak_rss_growth_bytes
from _report import write_json
from maml_step import Workload, omniglot_workload, task_list
from torch import nn

TASKS = 4


def workload(steps: int, tasks: int = TASKS) -> Workload:
    return omniglot_workload(f"conv4, {steps} steps", steps).first(tasks)


def meta_step(model: nn.Module, w: Workload, checkpoint: bool) -> Callable[[], None]:
    maml = meta_algos.MAML(
        model, inner_lr=w.inner_lr, inner_steps=w.inner_steps, checkpoint_inner=checkpoint
    )
    tasks = task_list(w)

    def run() -> None:
        model.zero_grad(set_to_none=True)
        maml.meta_gradient(tasks, w.loss_fn)

    return run


def check(steps: int) -> float:
    """Largest float64 difference between the checkpointed and the plain meta-gradient.

    On two of the tasks: float64 convolutions are slow, and the rule is the same per task.
    """
    w = workload(steps, tasks=2).to(torch.float64)
    grads = []
    for checkpoint in (False, True):
        torch.manual_seed(0)
        model = w.make_model().double()
        meta_step(model, w, checkpoint)()
        grads.append([p.grad.clone() for p in model.parameters()])
    return max((a - b).abs().max().item() for a, b in zip(*grads, strict=True))


def child(steps: int, checkpoint: bool, repeats: int) -> None:
    """Run in a fresh process: print ``peak_mb median_ms``."""
    w = workload(steps)
    torch.manual_seed(0)
    run = meta_step(w.make_model(), w, checkpoint)
    times: list[float] = []

    def timed() -> None:
        for _ in range(1 + repeats):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) * 1000.0)

    # from before the first step: memory the allocator keeps after a warm-up step would hide
    # the growth of the steps that follow
    peak = peak_rss_growth_bytes(timed) / 2**20
    print(f"{peak} {statistics.median(times[1:])}")


def measure(steps: int, checkpoint: bool, repeats: int) -> tuple[float, float]:
    command = [sys.executable, __file__, "--child", str(steps), str(int(checkpoint)), str(repeats)]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    peak, median = result.stdout.split()[-2:]
    return float(peak), float(median)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1, 5 steps and one repeat")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this path")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    if args.child:
        steps, checkpoint, repeats = args.child
        child(int(steps), bool(int(checkpoint)), int(repeats))
        return
    all_steps = (1, 5) if args.quick else (1, 5, 10, 20)
    repeats = 1 if args.quick else 2
    difference = max(check(steps) for steps in (1, 2))
    rows = []
    for steps in all_steps:
        row: dict[str, float | int] = {"inner_steps": steps}
        for checkpoint in (False, True):
            peak, median = measure(steps, checkpoint, repeats)
            key = "checkpointed" if checkpoint else "plain"
            row[f"{key}_peak_mb"], row[f"{key}_ms"] = round(peak, 1), round(median, 1)
        rows.append(row)
    lines = [
        f"OmniglotCNN, {TASKS} tasks 5-way 1-shot, 15 queries per class, second-order MAML, "
        f"per-task loop with a backward per task; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, {platform.machine()}; fresh process per row, "
        f"median of {repeats} meta-steps after the first; checkpointed and plain float64 "
        f"meta-gradients agree to {difference:.1e} (1 and 2 steps, 2 tasks).",
        "",
        "| inner steps | plain peak MB | checkpointed peak MB | plain ms | checkpointed ms "
        "| memory saved | time cost |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row['inner_steps']} | {row['plain_peak_mb']:.0f} "
            f"| {row['checkpointed_peak_mb']:.0f} | {row['plain_ms']:.0f} "
            f"| {row['checkpointed_ms']:.0f} "
            f"| {1 - row['checkpointed_peak_mb'] / row['plain_peak_mb']:.0%} "
            f"| {row['checkpointed_ms'] / row['plain_ms']:.2f}x |"
        )
    print("\n".join(lines))
    if args.json is not None:
        write_json(args.json, {"rows": rows, "float64_difference": difference})


if __name__ == "__main__":
    main()
