"""CPU settings for the conv4 meta-step: memory format, oneDNN, threads, compiling first order.

Workload B of ``maml_step.py`` (OmniglotCNN, 8 tasks of 5-way 1-shot with 15 queries per class,
one inner step), through ``MAML.meta_gradient``: the per-task loop (a backward per task) and
the batched path (one ``vmap`` over the tasks), second order under each setting, and first
order eager and compiled. Settings: the defaults (contiguous tensors, oneDNN convolutions, all
cores), ``channels_last`` model and images, oneDNN switched off
(``torch.backends.mkldnn.flags(enabled=False)``), one thread. Each row runs in a fresh
subprocess: time is the median of the meta-steps after the first; peak memory is the growth
of the peak RSS (``VmHWM``, see ``_peak_rss.py``) from right before the first meta-step, or,
for compiled rows, from right after the compiling first call with its freed memory handed
back. Every row's meta-gradient is compared with the default per-task loop's of the same
order (the largest difference over the largest entry): in float32 on the timed workload, and
in float64 on its first two tasks, which tells rounding from a setting that changes the
result.

Usage::

    python tests-integration/benchmarks/conv_settings.py --quick
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import meta_algos
import torch
from _peak_rss import hand_back_freed_memory, peak_rss_growth_bytes
from _report import write_json
from maml_step import Workload, omniglot_workload, task_list
from torch import nn

DEFAULT = "defaults"
CHANNELS_LAST = "channels_last"
NO_ONEDNN = "oneDNN off"
ONE_THREAD = "1 thread"
COMPILED = "compiled"
LOOP, BATCHED = "loop", "batched"
SECOND, FIRST = "second", "first"
# (order, path, setting) of every row; the first row of each order is its reference
ROWS = [
    *(
        (SECOND, path, setting)
        for setting in (DEFAULT, CHANNELS_LAST, NO_ONEDNN, ONE_THREAD)
        for path in (LOOP, BATCHED)
    ),
    *((FIRST, path, setting) for setting in (DEFAULT, COMPILED) for path in (LOOP, BATCHED)),
]
QUICK_ROWS = [
    (SECOND, LOOP, DEFAULT),
    (SECOND, BATCHED, DEFAULT),
    (SECOND, BATCHED, CHANNELS_LAST),
    (SECOND, LOOP, NO_ONEDNN),
]


@dataclass(frozen=True)
class Setting:
    """How a setting changes a run: its tensors' memory format, a context, the threads."""

    channels_last: bool = False
    context: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext
    threads: int | None = None  # None: all cores
    compile: bool = False


SETTINGS = {
    DEFAULT: Setting(),
    CHANNELS_LAST: Setting(channels_last=True),
    NO_ONEDNN: Setting(context=lambda: torch.backends.mkldnn.flags(enabled=False)),
    ONE_THREAD: Setting(threads=1),
    COMPILED: Setting(compile=True),
}


def workload(tasks: int) -> Workload:
    return omniglot_workload("B", 1).first(tasks)


def channels_last_tasks(tasks: list[types.SimpleNamespace]) -> list[types.SimpleNamespace]:
    def images(x: torch.Tensor) -> torch.Tensor:
        return x.contiguous(memory_format=torch.channels_last)

    return [
        types.SimpleNamespace(
            support_x=images(t.support_x),
            support_y=t.support_y,
            query_x=images(t.query_x),
            query_y=t.query_y,
        )
        for t in tasks
    ]


def meta_step(
    order: str, path: str, setting: Setting, tasks: int, dtype: torch.dtype = torch.float32
) -> tuple[meta_algos.MAML, Callable[[], None]]:
    """The algorithm and one meta-step (``.grad`` set from zero) of a row."""
    w = workload(tasks).to(dtype)
    torch.manual_seed(0)
    model = w.make_model().to(dtype)
    batch = task_list(w)
    if setting.channels_last:
        model = model.to(memory_format=torch.channels_last)
        batch = channels_last_tasks(batch)
    maml = meta_algos.MAML(
        model, inner_lr=w.inner_lr, first_order=order == FIRST, compile=setting.compile
    )

    def run() -> None:
        model.zero_grad(set_to_none=True)
        with setting.context():
            maml.meta_gradient(batch, w.loss_fn, batched=path == BATCHED)

    return maml, run


def child(order: str, path: str, setting_name: str, tasks: int, repeats: int, out: Path) -> None:
    """Run one row in this (fresh) process: print its timings, save its meta-gradients.

    Saved to ``out``: the float32 meta-gradient of the timed workload and the float64 one of
    its first two tasks (float64 tells rounding from a setting that changes the result).
    """
    setting = SETTINGS[setting_name]
    torch.set_num_threads(setting.threads or max(1, os.cpu_count() or 1))
    maml, run = meta_step(order, path, setting, tasks)
    times: list[float] = []

    def timed(steps: int) -> None:
        for _ in range(steps):
            start = time.perf_counter()
            run()
            times.append((time.perf_counter() - start) * 1000.0)

    if setting.compile:
        timed(1)  # compiles
        hand_back_freed_memory()
        peak = peak_rss_growth_bytes(lambda: timed(repeats))
    else:
        peak = peak_rss_growth_bytes(lambda: timed(1 + repeats))
    maml64, run64 = meta_step(order, path, setting, 2, torch.float64)
    run64()
    torch.save({"float32": gradients(maml.module), "float64": gradients(maml64.module)}, out)
    median, threads = statistics.median(times[1:]), torch.get_num_threads()
    print(f"{peak / 2**20} {median} {threads} {maml.compile_seconds}")


def gradients(model: nn.Module) -> list[torch.Tensor]:
    return [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]


@dataclass
class Measured:
    """One row of the table."""

    order: str
    path: str
    setting: str
    threads: int
    ms: float
    peak_mb: float
    compile_s: float  # 0.0 for eager rows
    # from the reference meta-gradient, float32 and float64 (set by run_rows)
    difference: float = 0.0
    difference64: float = 0.0


def measure(row: tuple[str, str, str], tasks: int, repeats: int, out: Path) -> Measured:
    """Run ``row`` in a fresh process that saves its meta-gradients to ``out``.

    Each process compiles into an empty cache next to ``out``: compile times as a first run
    measures them.
    """
    order, path, setting = row
    command = [sys.executable, __file__, "--child", order, path, setting, str(tasks)]
    command += [str(repeats), str(out)]
    cache = {"TORCHINDUCTOR_CACHE_DIR": str(out.with_suffix(".inductor"))}
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, **cache}
    )
    if result.returncode != 0:
        raise RuntimeError(f"{row} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")
    peak, median, threads, compile_seconds = result.stdout.split()[-4:]
    return Measured(
        order, path, setting, int(threads), float(median), float(peak), float(compile_seconds)
    )


def difference(grads: list[torch.Tensor], reference: list[torch.Tensor]) -> float:
    """The largest entry of ``grads - reference`` over the largest entry of ``reference``."""
    worst = max((a - b).abs().max().item() for a, b in zip(grads, reference, strict=True))
    return worst / max(b.abs().max().item() for b in reference)


def run_rows(rows: list[tuple[str, str, str]], tasks: int, repeats: int) -> list[Measured]:
    results: list[Measured] = []
    references: dict[str, dict[str, list[torch.Tensor]]] = {}
    with tempfile.TemporaryDirectory() as work:
        for index, row in enumerate(rows):
            out = Path(work) / f"{index}.pt"
            result = measure(row, tasks, repeats, out)
            grads = torch.load(out)
            reference = references.setdefault(row[0], grads)
            result.difference = difference(grads["float32"], reference["float32"])
            result.difference64 = difference(grads["float64"], reference["float64"])
            results.append(result)
    return results


def verdicts(rows: list[Measured]) -> list[str]:
    """Each setting against the defaults on the same order and path; each batched row
    against issue 14's target (time and memory of the default per-task loop)."""
    by_key = {(row.order, row.path, row.setting): row for row in rows}
    lines = []
    for (order, path, setting), row in by_key.items():
        base = by_key.get((order, path, DEFAULT))
        if setting == DEFAULT or base is None:
            continue
        speed = base.ms / row.ms
        lines.append(
            f"- {setting}, {order} order, {path}: {speed:.2f}x the defaults' speed at "
            f"{row.peak_mb / base.peak_mb:.2f}x their memory, meta-gradient "
            f"{row.difference:.1e} from the default loop's ({row.difference64:.0e} in float64)"
        )
    for order in (SECOND, FIRST):
        loop = by_key.get((order, LOOP, DEFAULT))
        if loop is None:
            continue
        for (row_order, path, setting), row in by_key.items():
            if row_order != order or path != BATCHED:
                continue
            time_ratio = row.ms / loop.ms
            memory = row.peak_mb / loop.peak_mb
            met = time_ratio <= 1.0 and memory <= 1.5
            lines.append(
                f"- batched, {order} order, {setting}: {time_ratio:.2f}x the default loop's "
                f"time at {memory:.2f}x its memory: issue 14's target (at most 1x at at most "
                f"1.5x) {'met' if met else 'missed'}"
            )
    return lines


def markdown(rows: list[Measured], tasks: int, repeats: int) -> str:
    lines = [
        f"OmniglotCNN, {tasks} tasks 5-way 1-shot, 15 queries per class, one inner step, "
        f"`MAML.meta_gradient`; torch {torch.__version__}, {platform.machine()}; fresh process "
        f"per row, median of {repeats} meta-steps after the first; peak memory from before "
        "the first meta-step (compiled rows: after the compiling first call, its freed memory "
        "handed back); difference: the largest deviation of the row's meta-gradient from the "
        "default per-task loop's of the same order, over its largest entry, in float32 and "
        "in float64 on the first two tasks (conv meta-gradients are not smooth at float32 "
        "resolution: see the compiled rows above).",
        "",
        "| order | path | setting | threads | compile s | ms | peak MB | difference | float64 |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append(
            f"| {row.order} | {row.path} | {row.setting} | {row.threads} "
            f"| {f'{row.compile_s:.0f}' if row.compile_s else ''} "
            f"| {row.ms:.0f} | {row.peak_mb:.0f} | {row.difference:.1e} "
            f"| {row.difference64:.0e} |"
        )
    return "\n".join([*lines, "", *verdicts(rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 rows, 2 tasks, one repeat")
    parser.add_argument("--json", type=Path, help="write the results as JSON to this path")
    parser.add_argument("--child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        order, path, setting, tasks, repeats, out = args.child
        child(order, path, setting, int(tasks), int(repeats), Path(out))
        return
    rows, tasks, repeats = (QUICK_ROWS, 2, 1) if args.quick else (ROWS, 8, 5)
    results = run_rows(rows, tasks, repeats)
    print(markdown(results, tasks, repeats))
    if args.json is not None:
        write_json(
            args.json,
            {"rows": [asdict(row) for row in results], "tasks": tasks, "repeats": repeats},
        )


if __name__ == "__main__":
    main()
