"""Benchmark: ``meta_nn.KroneckerLinear(n, n)`` against a dense ``nn.Linear(n*n, n*n)``.

Not a test: it prints a Markdown table (and optionally writes JSON) and always exits 0 unless
something crashes.

What is measured, for n = m in ``--sizes`` (default 16, 64, 128) and a batch of ``--batch``
(default 32) random inputs of size ``n*m``:

* **time**: one forward + backward of ``layer(x).square().mean()`` (gradients reset with
  ``set_to_none`` before each step), in milliseconds. After ``--warmup`` untimed steps per
  configuration, the configurations are run *interleaved* (``for repeat: for config: step``)
  ``--repeats`` times and the median is reported, so slow drifts of a shared machine hit every
  configuration alike. On CUDA each step is bracketed by ``torch.cuda.synchronize()``.
* **parameter memory**: exact bytes of the layer's parameters (gradients take as much again).
* **peak memory**: on CPU (Linux), the increase of the peak resident set size (``VmHWM``,
  reset through ``/proc/self/clear_refs``) of a *fresh subprocess* that builds the layer and
  runs two forward+backward steps, over its resident size after importing torch and creating
  the input; so it counts parameters, gradients, activations and allocator overhead, nothing
  from other configurations. Page granularity (4 KiB) and allocator caching make values below
  ~1 MiB coarse. On CUDA,
  ``torch.cuda.max_memory_allocated()`` minus the allocation before building the layer, in
  this process after ``torch.cuda.reset_peak_memory_stats()``.

The dense layer at n = 128 is a 16384 x 16384 matrix (1 GiB of float32, 2 GiB with its
gradient, ~51 GFLOP per step); ``--quick`` skips it (reported as "skipped") and uses fewer
repeats. ``--skip-dense-above N`` sets the threshold explicitly.

Usage::

    .venv/bin/python tests-integration/benchmarks/kronecker.py --quick
    .venv/bin/python tests-integration/benchmarks/kronecker.py --json kron.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from _peak_rss import peak_rss_growth_bytes
from _report import write_json
from meta_nn import KroneckerLinear
from torch import nn

MIB = 1024**2


@dataclass
class Row:
    n: int
    layer: str
    status: str = "ok"
    params: int = 0
    param_bytes: int = 0
    times_ms: list[float] = field(default_factory=list)
    median_ms: float | None = None
    peak_bytes: int | None = None


def build(layer: str, n: int, device: torch.device) -> nn.Module:
    if layer == "kronecker":
        return KroneckerLinear(n, n, device=device)
    return nn.Linear(n * n, n * n, device=device)


def step(module: nn.Module, x: torch.Tensor) -> None:
    for parameter in module.parameters():
        parameter.grad = None
    module(x).square().mean().backward()


def timed_step(module: nn.Module, x: torch.Tensor) -> float:
    cuda = x.device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(x.device)
    start = time.perf_counter()
    step(module, x)
    if cuda:
        torch.cuda.synchronize(x.device)
    return (time.perf_counter() - start) * 1000.0


def probe_memory_cpu(layer: str, n: int, batch: int) -> int:
    """Peak-RSS increase of building + 2 steps, measured in this (fresh) process."""
    torch.manual_seed(0)
    x = torch.randn(batch, n * n)
    step(nn.Linear(4, 4), torch.randn(2, 4))  # warm autograd's one-off allocations

    def build_and_step() -> None:
        module = build(layer, n, torch.device("cpu"))
        for _ in range(2):
            step(module, x)

    return peak_rss_growth_bytes(build_and_step)


def measure_memory(layer: str, n: int, batch: int, device: torch.device) -> int:
    if device.type == "cuda":
        x = torch.randn(batch, n * n, device=device)
        torch.cuda.synchronize(device)
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
        module = build(layer, n, device)
        for _ in range(2):
            step(module, x)
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device) - baseline
        del module
        torch.cuda.empty_cache()
        return peak
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--probe-memory",
        layer,
        str(n),
        "--batch",
        str(batch),
        "--threads",
        str(torch.get_num_threads()),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    return int(json.loads(result.stdout)["peak_bytes"])


def run(args: argparse.Namespace) -> tuple[list[Row], dict[str, object]]:
    device = torch.device(args.device)
    torch.manual_seed(0)
    rows: list[Row] = []
    modules: dict[tuple[int, str], nn.Module] = {}
    inputs: dict[int, torch.Tensor] = {}
    for n in args.sizes:
        inputs[n] = torch.randn(args.batch, n * n, device=device)
        for layer in ("kronecker", "dense"):
            row = Row(n=n, layer=layer)
            rows.append(row)
            if layer == "dense" and n > args.skip_dense_above:
                row.status = "skipped"
                continue
            module = build(layer, n, device)
            row.params = sum(p.numel() for p in module.parameters())
            row.param_bytes = sum(p.numel() * p.element_size() for p in module.parameters())
            for _ in range(args.warmup):
                step(module, inputs[n])
            modules[(n, layer)] = module
    for _ in range(args.repeats):
        for row in rows:
            if row.status == "ok":
                row.times_ms.append(timed_step(modules[(row.n, row.layer)], inputs[row.n]))
    modules.clear()
    for row in rows:
        if row.status == "ok":
            row.median_ms = statistics.median(row.times_ms)
            row.peak_bytes = measure_memory(row.layer, row.n, args.batch, device)
    meta: dict[str, object] = {
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "threads": torch.get_num_threads(),
        "batch": args.batch,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "quick": args.quick,
        "malloc_env": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "memory_measure": (
            "torch.cuda.max_memory_allocated delta"
            if device.type == "cuda"
            else "peak RSS (VmHWM) increase of a fresh subprocess (build + 2 steps)"
        ),
    }
    return rows, meta


def fmt_mib(value: int | None) -> str:
    return "-" if value is None else f"{value / MIB:.2f}"


def table(rows: list[Row], meta: dict[str, object]) -> str:
    lines = [
        f"KroneckerLinear(n, n) vs nn.Linear(n*n, n*n), forward+backward, batch {meta['batch']}, "
        f"device {meta['device']}, torch {meta['torch']}, {meta['threads']} threads, "
        f"median of {meta['repeats']} interleaved repeats after {meta['warmup']} warm-up; "
        f"peak memory = {meta['memory_measure']}.",
        "",
        "| n = m | n*m | layer | params | param MiB | median ms | peak MiB | dense / kron time |",
        "|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    medians = {(r.n, r.layer): r.median_ms for r in rows}
    for row in rows:
        if row.status != "ok":
            lines.append(
                f"| {row.n} | {row.n * row.n} | {row.layer} | - | - | {row.status} | "
                f"{row.status} | - |"
            )
            continue
        kron, dense = medians.get((row.n, "kronecker")), medians.get((row.n, "dense"))
        ratio = f"{dense / kron:.1f}x" if row.layer == "dense" and kron and dense else ""
        lines.append(
            f"| {row.n} | {row.n * row.n} | {row.layer} | {row.params:,} | "
            f"{fmt_mib(row.param_bytes)} | {row.median_ms:.3f} | {fmt_mib(row.peak_bytes)} | "
            f"{ratio} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, skip dense n=128")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 64, 128])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=None, help="default 5 quick / 9 full")
    parser.add_argument("--warmup", type=int, default=None, help="default 1 quick / 2 full")
    parser.add_argument(
        "--skip-dense-above", type=int, default=None, help="default 64 quick / no limit full"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads for the run (default: torch's default); 1 is far more "
        "stable on a busy shared CPU, where 2+ threads suffer from oversubscription",
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--probe-memory", nargs=2, metavar=("LAYER", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 5 if args.quick else 9
    if args.warmup is None:
        args.warmup = 1 if args.quick else 2
    if args.skip_dense_above is None:
        args.skip_dense_above = 64 if args.quick else max(args.sizes)
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    if args.repeats < 1 or args.warmup < 0 or args.batch < 1 or min(args.sizes) < 1:
        parser.error(
            f"need repeats >= 1, warmup >= 0, batch >= 1 and sizes >= 1; got repeats="
            f"{args.repeats}, warmup={args.warmup}, batch={args.batch}, sizes={args.sizes}"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.probe_memory is not None:
        layer, n = args.probe_memory[0], int(args.probe_memory[1])
        print(json.dumps({"peak_bytes": probe_memory_cpu(layer, n, args.batch)}))
        return 0
    rows, meta = run(args)
    print(table(rows, meta))
    if args.json is not None:
        write_json(args.json, {"meta": meta, "rows": [asdict(row) for row in rows]})
    return 0


if __name__ == "__main__":
    sys.exit(main())
