"""TensorBoard event files of a ``meta-train`` run, when the ``[tensorboard]`` extra is installed.

`open_tensorboard` returns a `TensorBoardLog` writing into the run directory, or ``None``
(after one line saying how to enable it) when ``torch.utils.tensorboard`` cannot be
imported. The log reads what the trainer recorded in its [`History`][meta_train.History]
after every meta-update, so the trainer knows nothing of it.

Scalars (step = meta-iteration): ``train/meta_loss``, ``train/accuracy`` (classification),
``validation/loss`` and ``validation/accuracy`` (at every evaluation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._history import History

ENABLE_HINT = 'TensorBoard logs are off; enable them with: pip install "meta-train[tensorboard]"'
"""The line printed when ``torch.utils.tensorboard`` cannot be imported."""

_EVENT_FILES = "events.out.tfevents.*"


class TensorBoardLog:
    """Write the scalars a meta-update added to a run's history as TensorBoard events.

    Args:
        writer: A ``torch.utils.tensorboard.SummaryWriter``.
    """

    # Any: tensorboard is an optional extra, so SummaryWriter cannot be named for mypy here.
    def __init__(self, writer: Any) -> None:
        self.writer = writer

    def record(self, history: History) -> None:
        """Write the latest meta-update's scalars and any evaluation made after it.

        The events are flushed to disk at once, so that a run that is killed or stops on an
        error loses none (a meta-update costs far more than the write).

        Args:
            history: The trainer's history, just after a meta-update.
        """
        step = history.iterations
        if step == 0:
            return
        self.writer.add_scalar("train/meta_loss", history.meta_loss[-1], step)
        if len(history.meta_accuracy) == step:
            self.writer.add_scalar("train/accuracy", history.meta_accuracy[-1], step)
        for tag, records in (
            ("validation/loss", history.eval_loss),
            ("validation/accuracy", history.eval_accuracy),
        ):
            if records and records[-1][0] == step:
                self.writer.add_scalar(tag, records[-1][1], step)
        self.writer.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self.writer.close()


def open_tensorboard(out: Path, *, start: int, fresh: bool) -> TensorBoardLog | None:
    """A `TensorBoardLog` writing into ``out``, or ``None`` without ``torch.utils.tensorboard``.

    Args:
        out: The run directory.
        start: The iteration training continues from: events of later steps that an
            interrupted run wrote after its last checkpoint are dropped (TensorBoard's
            ``purge_step``), so that a resumed run's curves have no duplicates.
        fresh: Whether this is a new run (``--overwrite``): earlier event files in ``out``
            are removed first.

    Returns:
        The log, or ``None`` after printing `ENABLE_HINT`.
    """
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        print(ENABLE_HINT, flush=True)
        return None
    if fresh:
        for stale in out.glob(_EVENT_FILES):
            stale.unlink()
    return TensorBoardLog(SummaryWriter(log_dir=str(out), purge_step=start + 1 if start else None))
