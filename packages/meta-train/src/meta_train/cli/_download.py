"""``meta-train download omniglot --root DIR``: fetch and check the Omniglot archives.

A thin shell over [`meta_tasks.download_omniglot`][meta_tasks.download_omniglot]: the archives
that ``meta-train omniglot --subset ...`` reads (and ``all_runs.zip`` for Lake's one-shot
runs) are downloaded into ``DIR``, checked against their SHA-256 and for member paths that
would escape ``DIR``; a download that broke off is resumed by running the command again, and
archives already in ``DIR`` are checked and kept.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from meta_tasks import (
    OMNIGLOT_BASE_URL,
    OMNIGLOT_RUNS_ARCHIVE,
    OMNIGLOT_SUBSETS,
    ArchiveDownload,
    download_omniglot,
)

NAME = "download"
"""The sub-command: ``meta-train download ...``."""

_DEFAULT_SUBSET = "background_small"
_STATUS_WORDS = {"downloaded": "downloaded", "resumed": "resumed", "present": "already present"}


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``download`` sub-command to ``commands``.

    Args:
        commands: The ``meta-train`` sub-command parsers.
    """
    parser = commands.add_parser(
        NAME,
        help="download a dataset's archives into --root and check them",
        description="Download the Omniglot archives into --root, check their SHA-256 and "
        "their member paths, resume a download that broke off (run the command again), and "
        "keep archives that are already there and pass the checks.",
    )
    parser.add_argument("dataset", choices=["omniglot"], help="the dataset to download")
    parser.add_argument(
        "--root",
        type=Path,
        required=True,
        help="directory to download into (created if missing); pass the same to "
        "'meta-train omniglot --root'",
    )
    parser.add_argument(
        "--subset",
        action="append",
        choices=sorted(OMNIGLOT_SUBSETS),
        default=None,
        help="whose archives to fetch, as 'meta-train omniglot --subset' takes it; repeat for "
        f"several (default: {_DEFAULT_SUBSET})",
    )
    parser.add_argument(
        "--no-runs",
        action="store_true",
        help=f"do not fetch {OMNIGLOT_RUNS_ARCHIVE} (Lake's 20 one-shot runs)",
    )
    parser.add_argument(
        "--base-url",
        default=OMNIGLOT_BASE_URL,
        help="directory URL to download from, e.g. a mirror (default: %(default)s)",
    )


def main(args: argparse.Namespace) -> int:
    """Run ``meta-train download`` with parsed ``args``.

    Prints one line per archive once all are in place (downloaded, resumed or already
    present, with its size and how it was checked).

    Args:
        args: The arguments that `add_parser` defines.

    Returns:
        0 when every archive is in ``--root`` and checked; 2 after a one-line error (failed
        transfer, checksum mismatch, unsafe archive, unusable ``--root``); 130 when
        interrupted, with the partial download kept for the next run to resume.
    """
    try:
        with warnings.catch_warnings():
            # an unknown checksum is reported on the archive's own line instead
            warnings.simplefilter("ignore", UserWarning)
            results = download_omniglot(
                args.root,
                subsets=args.subset or _DEFAULT_SUBSET,
                include_runs=not args.no_runs,
                base_url=args.base_url,
            )
    except (OSError, ValueError) as error:
        print(f"meta-train {NAME}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            f"meta-train {NAME}: interrupted; the partial download is kept in {args.root}: "
            "run the same command again to resume it",
            file=sys.stderr,
        )
        return 130
    for result in results:
        print(_describe(result))
    return 0


def _describe(result: ArchiveDownload) -> str:
    """``<path>: <status>, <size> (<how it was checked>)``."""
    check = (
        f"SHA-256 {result.sha256[:12]}... verified"
        if result.verified
        else "no known SHA-256: only the zip's member CRCs were checked"
    )
    return f"{result.path}: {_STATUS_WORDS[result.status]}, {_size(result.size)} ({check})"


def _size(size: int) -> str:
    """Bytes as ``B``, ``KB`` or ``MB`` (powers of 1000), one decimal above bytes."""
    if size < 1000:
        return f"{size} B"
    if size < 1000**2:
        return f"{size / 1000:.1f} KB"
    return f"{size / 1000**2:.1f} MB"
