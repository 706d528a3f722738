"""Episodes per second: 5-way 1-shot (15 query) Omniglot background_small at 28x28.

Measures meta_tasks.FewShotSampler over meta_tasks.Omniglot, with the decoded-image cache
(``cache=True``, the configuration the issue asks for) and, for comparison, without it
(every episode decodes its 80 PNGs). Prints a Markdown table; ``--json PATH`` also writes the
numbers (atomically: temp file in the same directory, then ``os.replace``).

Usage:
    python tests-integration/benchmarks/episodes.py [--root DIR] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from _report import write_json
from meta_tasks import FewShotSampler, Omniglot

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", REPO_ROOT.parent / "shared" / "data" / "omniglot")
)
WAYS, SHOTS, QUERY_SHOTS, IMAGE_SIZE, SUBSET = 5, 1, 15, 28, "background_small"


def episodes_per_second(sampler: FewShotSampler, episodes: int, batch: int, repeats: int) -> dict:
    """Median (and spread) over ``repeats`` of episodes/s, sampling ``batch`` at a time."""
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        done = 0
        while done < episodes:
            if batch == 1:
                sampler.sample(1)
            else:
                sampler.sample_batch(batch)
            done += batch
        rates.append(done / (time.perf_counter() - start))
    return {
        "episodes_per_repeat": done,
        "repeats": repeats,
        "median": statistics.median(rates),
        "min": min(rates),
        "max": max(rates),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="Omniglot data directory")
    parser.add_argument("--quick", action="store_true", help="fewer episodes and repeats")
    parser.add_argument("--json", type=Path, default=None, help="also write results to PATH")
    args = parser.parse_args(argv)

    episodes, repeats, uncached_episodes = (200, 3, 40) if args.quick else (2000, 5, 200)
    torch.manual_seed(0)

    start = time.perf_counter()
    dataset = Omniglot(args.root, SUBSET, image_size=IMAGE_SIZE, cache=True)
    index_seconds = time.perf_counter() - start

    start = time.perf_counter()
    for index in range(len(dataset)):
        dataset.image(index)
    decode_seconds = time.perf_counter() - start

    sampler = FewShotSampler(dataset, WAYS, SHOTS, QUERY_SHOTS, seed=0)
    sampler.sample(10)  # warm-up
    cached_single = episodes_per_second(sampler, episodes, 1, repeats)
    cached_batched = episodes_per_second(sampler, episodes, 32, repeats)

    uncached = Omniglot(args.root, SUBSET, image_size=IMAGE_SIZE, cache=False)
    uncached_sampler = FewShotSampler(uncached, WAYS, SHOTS, QUERY_SHOTS, seed=0)
    uncached_single = episodes_per_second(uncached_sampler, uncached_episodes, 1, repeats)

    rows = [
        ("cached, sample(1)", cached_single),
        ("cached, sample_batch(32)", cached_batched),
        ("no cache (decode per episode), sample(1)", uncached_single),
    ]
    print(
        f"## Episodes per second: {WAYS}-way {SHOTS}-shot, {QUERY_SHOTS} query, Omniglot "
        f"{SUBSET} ({len(dataset)} images, {dataset.num_classes} classes) at "
        f"{IMAGE_SIZE}x{IMAGE_SIZE}\n"
    )
    print("| setting | episodes x repeats | episodes/s (median) | min | max |")
    print("|---|---|---|---|---|")
    for name, result in rows:
        print(
            f"| {name} | {result['episodes_per_repeat']} x {result['repeats']} | "
            f"{result['median']:.0f} | {result['min']:.0f} | {result['max']:.0f} |"
        )
    print(
        f"\nOne-off costs: index the zips {index_seconds:.2f} s; decode and cache all "
        f"{len(dataset)} images {decode_seconds:.2f} s "
        f"({len(dataset) / decode_seconds:.0f} images/s).\n"
        f"torch {torch.__version__}, Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs visible, torch threads {torch.get_num_threads()}."
    )
    if args.json is not None:
        write_json(
            args.json,
            {
                "benchmark": "episodes",
                "task": {
                    "ways": WAYS,
                    "shots": SHOTS,
                    "query_shots": QUERY_SHOTS,
                    "image_size": IMAGE_SIZE,
                    "subset": SUBSET,
                },
                "quick": args.quick,
                "index_seconds": index_seconds,
                "decode_all_seconds": decode_seconds,
                "images": len(dataset),
                "results": {name: result for name, result in rows},
                "environment": {
                    "torch": torch.__version__,
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "platform": platform.platform(),
                },
            },
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
