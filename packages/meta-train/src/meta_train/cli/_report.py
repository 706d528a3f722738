"""What a ``meta-train`` run prints and writes.

Progress lines, result tables with 95 % confidence intervals, ``metrics.json``, the history
files and the plots.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from .._history import History
from .._io import atomic_write_text
from .._metrics import mean_confidence_interval
from .._trainer import TaskEvaluation
from ._rundir import CONFIG_NAME


class ProgressPrinter:
    """Progress lines for runs without a progress bar: about ten per run.

    A line holds the iteration, the [`History.progress_fields`][meta_train.History.progress_fields]
    (meta-loss, accuracy, the last evaluation's loss and accuracy), the time spent, the speed
    and the time left, e.g. ``iteration 20/200  meta-loss 4.2581  (0.8 s, 25.1 it/s, 7 s
    left)``.

    Args:
        total: The run's ``--iterations``.
        history: The trainer's history, read at each line; a resumed run's speed counts
            from the iterations it already holds.
    """

    def __init__(self, total: int, history: History) -> None:
        self.total = total
        self.every = max(1, total // 10)
        self.history = history
        self.first = history.iterations
        self.start = time.perf_counter()

    def __call__(self, iteration: int, meta_loss: float) -> None:
        if iteration % self.every != 0 and iteration != self.total:
            return
        elapsed = time.perf_counter() - self.start
        fields = {**self.history.progress_fields(), "meta_loss": f"{meta_loss:.4f}"}
        values = "  ".join(f"{name.replace('_', '-')} {value}" for name, value in fields.items())
        speed = (iteration - self.first) / elapsed if elapsed > 0 else math.inf
        left = (self.total - iteration) / speed
        print(
            f"iteration {iteration}/{self.total}  {values}  "
            f"({elapsed:.1f} s, {speed:.3g} it/s, {_duration(left)} left)",
            flush=True,
        )


def _duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 5 s"`` or ``"2 h 13 min"``."""
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


def _format_ci(values: Sequence[float], *, percent: bool = False) -> str:
    mean, half = mean_confidence_interval(values)
    if percent:
        return f"{100 * mean:6.2f}% ± {100 * half:.2f}%"
    return f"{mean:.4f} ± {half:.4f}"


def summary(result: TaskEvaluation) -> dict[str, Any]:
    """``{"tasks": n, "<pre|post>_<loss|accuracy>": {"mean", "ci95"}}`` for ``metrics.json``."""
    out: dict[str, Any] = {"tasks": len(result.post_loss)}
    fields: list[tuple[str, list[float] | None]] = [
        ("pre_loss", result.pre_loss),
        ("post_loss", result.post_loss),
        ("pre_accuracy", result.pre_accuracy),
        ("post_accuracy", result.post_accuracy),
    ]
    for name, values in fields:
        if values is not None:
            mean, half = mean_confidence_interval(values)
            out[name] = {"mean": mean, "ci95": half}
    return out


def print_table(title: str, result: TaskEvaluation, loss_name: str) -> None:
    """Print pre- vs post-adaptation loss (and accuracy, if any) as mean ± 95 % CI."""
    rows = [(loss_name, _format_ci(result.pre_loss), _format_ci(result.post_loss))]
    if result.pre_accuracy is not None and result.post_accuracy is not None:
        rows.append(
            (
                "accuracy",
                _format_ci(result.pre_accuracy, percent=True),
                _format_ci(result.post_accuracy, percent=True),
            )
        )
    width = max(len(name) for name, _, _ in rows)
    print(f"\n{title} ({len(result.post_loss)} tasks, mean ± 95% CI)")
    print(f"  {'':{width}}  {'pre-adaptation':>22}  {'post-adaptation':>22}")
    for name, pre, post in rows:
        print(f"  {name:{width}}  {pre:>22}  {post:>22}")


def _plot_learning_curves(history: History, path: Path, title: str) -> Path:
    from .._plotting import plot_history

    return plot_history(history, path, title=title)


def write_outputs(
    out: Path,
    history: History,
    metrics: dict[str, Any],
    *,
    checkpoint: Path,
    title: str,
    plots: Sequence[Callable[[], Path]] = (),
) -> None:
    """Write the history files, the plots and ``metrics.json`` into ``out``; say what was written.

    Args:
        out: The output directory.
        history: The run's history (``history.json``, ``history.csv``).
        metrics: Everything for ``metrics.json``; its ``"plots"`` entry is set here.
        checkpoint: The checkpoint the run saved (only named in the last message).
        title: Title of the learning-curve plot, drawn unless the history is empty.
        plots: The command's own plots, each drawn by a call that returns its path. Without
            matplotlib the first plot raises ``ImportError``, and no further plot is tried.
    """
    history.to_json(out / "history.json")
    history.to_csv(out / "history.csv")
    if history.meta_loss or history.eval_loss:
        learning = partial(_plot_learning_curves, history, out / "learning_curves.png", title)
        plots = [learning, *plots]
    written: list[str] = []
    why_not: str | None = None
    for plot in plots:
        try:
            written.append(str(plot()))
        except ImportError as error:
            why_not = str(error)
            break
    metrics["plots"] = written
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    files = [CONFIG_NAME, checkpoint.name, "history.json", "history.csv", "metrics.json"]
    print(f"\nwrote {', '.join(files)} to {out}")
    for path in written:
        print(f"plot: {path}")
    if not history.meta_loss:
        print("no learning-curve plot: no meta-updates were made (--iterations 0)")
    if why_not is not None:
        print(f"no plots: {why_not}")
