"""learn2learn's ``l2l.data.utils``: ``partition_task``, ``InfiniteIterator``, ``download_file``.

``OnDeviceDataset`` is [`meta_tasks.OnDeviceDataset`][meta_tasks.OnDeviceDataset], as in
[`data`][meta_all.compat.learn2learn.data]. learn2learn's Google Drive helpers
(``download_file_from_google_drive``, ``get_confirm_token``, ``save_response_content``) are not
provided: meta-tasks downloads from plain URLs only, resumably and checked by SHA-256.
"""

from __future__ import annotations

import os
from pathlib import Path

from meta_tasks import InfiniteIterator as InfiniteIterator
from meta_tasks import OnDeviceDataset as OnDeviceDataset
from meta_tasks import split_by_shots
from meta_tasks._archives import fetch_file
from torch import Tensor

__all__ = ["InfiniteIterator", "OnDeviceDataset", "download_file", "partition_task"]


def download_file(
    source: str,
    destination: str | os.PathLike[str],
    size: int | None = None,
    *,
    sha256: str | None = None,
) -> None:
    """learn2learn's ``download_file``: fetch the URL ``source`` into the file ``destination``.

    Done with meta-tasks' downloader: the bytes go to ``.<name>.part`` next to
    ``destination`` (its folder is created) and are renamed into place only when complete and
    checked, so ``destination`` never holds a partial file; an interrupted download is resumed
    with an HTTP range request by the next call. The SHA-256 checked is ``sha256``, else the
    one listed for the file name in a ``SHA256SUMS`` file in the destination folder; without
    either the download is not verified and a ``UserWarning`` says so.

    Differences from learn2learn: a ``destination`` already in place is checked (SHA-256 and
    ``size``, when known) and kept rather than fetched again; ``size``, which learn2learn only
    uses for its progress bar, is checked when positive; nothing is printed.

    Args:
        source: The URL to fetch.
        destination: The file to write.
        size: The expected size in bytes (``None`` or ``0``: not checked).
        sha256: The expected SHA-256 hex digest of the file.

    Raises:
        TypeError: If ``source`` is not a string or ``size`` not an int.
        ValueError: If ``size`` is negative, ``sha256`` is not 64 hex digits, or the file's
            SHA-256 or size is not the expected one (a fresh download is then deleted).
        OSError: If the transfer fails (the bytes received so far are kept for a resume).

    Examples:
        >>> download_file(url + "weights.pth", folder / "weights.pth", sha256=digest)
        >>> (folder / "weights.pth").read_bytes() == served
        True
    """
    if not isinstance(source, str):
        raise TypeError(f"download_file: source must be a URL string, got {source!r}")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int)):
        raise TypeError(f"download_file: size must be an int or None, got {size!r}")
    if size is not None and size < 0:
        raise ValueError(f"download_file: size must be at least 0 bytes, got {size}")
    path = Path(destination).expanduser()
    checksums = None if sha256 is None else {path.name: sha256}
    result = fetch_file(path.parent, path.name, url=source, checksums=checksums, zip_check=False)
    if size and result.size != size:
        if result.status != "present":
            path.unlink()
        kept = "kept" if result.status == "present" else "deleted"
        raise ValueError(
            f"download_file: {path} holds {result.size} bytes, expected size={size} "
            f"(from {source}); the file was {kept}"
        )


def partition_task(
    data: Tensor, labels: Tensor, shots: int = 1, ways: int | None = None
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """learn2learn's ``partition_task``: ``shots`` support items per label, the rest as query.

    A shell over [`meta_tasks.split_by_shots`][meta_tasks.split_by_shots] (labels in
    increasing order, each label's first ``shots`` items to the support set).

    Args:
        data: Inputs ``(n, ...)``.
        labels: Labels ``(n,)``; every label must have the same number of items.
        shots: Support items per label.
        ways: Expected number of labels (checked when given).

    Returns:
        ``((support_data, support_labels), (query_data, query_labels))``.

    Raises:
        ValueError: If the labels are not equally frequent or the shapes do not match.

    Examples:
        >>> import torch
        >>> (sx, sy), (qx, qy) = partition_task(torch.arange(4.0), torch.tensor([0, 1, 0, 1]))
        >>> sy.tolist(), qx.tolist()
        ([0, 1], [2.0, 3.0])
    """
    task = split_by_shots(data, labels, shots, ways=ways)
    return (task.support_x, task.support_y), (task.query_x, task.query_y)
