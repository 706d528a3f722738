"""Task descriptions per second: 5-way 1-shot tasks of the episodic-data API over Omniglot.

Measures, on one core (``torch.set_num_threads(1)``), how fast ``meta_tasks.TaskDataset``
samples task descriptions (the transforms only, no image loading) for the usual chains of
task transforms, and, for reference, whole tasks (images loaded from the decoded-image cache and
collated). The target is at least 2,000 descriptions per second for the 5-way 1-shot chains.
The data are Omniglot's full background and evaluation sets (1623 classes) when their archives
are in ``--root``, else the small background archives (242 classes).

Prints a Markdown table; ``--json PATH`` also writes the numbers (atomically); ``--check``
exits with status 1 when a description chain is below the target.

Usage:
    python tests-integration/benchmarks/task_descriptions.py [--root DIR] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from _report import write_json
from meta_tasks import (
    OMNIGLOT_SUBSETS,
    ConsecutiveLabels,
    FusedNWaysKShots,
    KShots,
    LoadData,
    MetaDataset,
    NWays,
    Omniglot,
    RandomClassRotation,
    RemapLabels,
    TaskDataset,
    UnionMetaDataset,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", REPO_ROOT.parent / "shared" / "data" / "omniglot")
)
WAYS, SHOTS = 5, 1
TARGET = 2000.0


def omniglot(root: Path, *, cache: bool) -> tuple[MetaDataset, str]:
    """The full set if its archives are in ``root``, else the small background set."""
    full = ("background", "evaluation")
    if all((root / name).is_file() for s in full for name in OMNIGLOT_SUBSETS[s]):
        parts = [Omniglot(root, subset, cache=cache) for subset in full]
        return UnionMetaDataset(parts), "background + evaluation"
    return MetaDataset(Omniglot(root, "background_small", cache=cache)), "background_small"


def rate(call: Callable[[], object], count: int, repeats: int) -> dict[str, float]:
    """Median (and spread) over ``repeats`` of calls per second, ``count`` calls each."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(count):
            call()
        rates.append(count / (time.perf_counter() - start))
    return {
        "calls_per_repeat": count,
        "repeats": repeats,
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="Omniglot data directory")
    parser.add_argument("--quick", action="store_true", help="fewer tasks and repeats")
    parser.add_argument("--json", type=Path, default=None, help="also write results to PATH")
    parser.add_argument("--check", action="store_true", help=f"fail below {TARGET:.0f}/s")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    count, repeats = (200, 3) if args.quick else (2000, 5)

    start = time.perf_counter()
    data, subset = omniglot(args.root, cache=True)
    index_seconds = time.perf_counter() - start
    chains = {
        "FusedNWaysKShots, LoadData, RemapLabels": [
            FusedNWaysKShots(data, WAYS, SHOTS),
            LoadData(data),
            RemapLabels(data),
        ],
        "NWays, KShots, LoadData, RemapLabels": [
            NWays(data, WAYS),
            KShots(data, SHOTS),
            LoadData(data),
            RemapLabels(data),
        ],
        "learn2learn's Omniglot chain (fused, consecutive labels, class rotations)": [
            FusedNWaysKShots(data, WAYS, SHOTS),
            LoadData(data),
            RemapLabels(data),
            ConsecutiveLabels(data),
            RandomClassRotation(data, [0, 90, 180, 270]),
        ],
    }
    rows = []
    for name, chain in chains.items():
        tasks = TaskDataset(data, chain, seed=0)
        tasks.sample_task_description()  # warm-up
        result = rate(tasks.sample_task_description, count, repeats)
        rows.append((f"descriptions: {name}", result, result["median"] >= TARGET))
    loaded = TaskDataset(data, chains["FusedNWaysKShots, LoadData, RemapLabels"], seed=0)
    for index in range(len(data)):  # decode every image once: loading then reads the cache
        data[index]
    result = rate(loaded.sample, count // 4, repeats)
    rows.append(("whole tasks (cached images, collated)", result, None))

    print(
        f"## Task descriptions per second: {WAYS}-way {SHOTS}-shot, Omniglot {subset} "
        f"({len(data)} images, {len(data.labels)} classes), one thread\n"
    )
    print(f"| what | calls x repeats | per second (median) | min | max | >= {TARGET:.0f}/s |")
    print("|---|---|---|---|---|---|")
    for name, result, met in rows:
        verdict = "n/a" if met is None else ("yes" if met else "NO")
        print(
            f"| {name} | {result['calls_per_repeat']} x {result['repeats']} | "
            f"{result['median']:.0f} | {result['min']:.0f} | {result['max']:.0f} | {verdict} |"
        )
    print(
        f"\nOne-off cost: index the zips and build the label bookkeeping {index_seconds:.2f} s. "
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs visible, torch threads {torch.get_num_threads()}."
    )
    if args.json is not None:
        write_json(
            args.json,
            {
                "benchmark": "task_descriptions",
                "task": {"ways": WAYS, "shots": SHOTS, "subset": subset},
                "target_per_second": TARGET,
                "quick": args.quick,
                "index_seconds": index_seconds,
                "results": {name: {**result, "meets_target": met} for name, result, met in rows},
                "environment": {
                    "torch": torch.__version__,
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(),
                },
            },
        )
    if args.check and not all(met for _, _, met in rows if met is not None):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
