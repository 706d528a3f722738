"""PNG learning curves and sinusoid adapted-fit plots (needs the ``plot`` extra: matplotlib).

matplotlib is imported lazily, and only its object-oriented API with the non-interactive Agg
canvas is used: no ``pyplot``, no global backend switch, no window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ._history import History
from ._io import PathLike, atomic_write


def _new_figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(
            "plotting needs matplotlib, which is not installed: pip install meta-train[plot]"
        ) from error
    figure = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save_png(figure: Any, path: PathLike) -> Path:
    return atomic_write(path, lambda file: figure.savefig(file, format="png"))


def _smooth(values: list[float], window: int) -> list[float]:
    out: list[float] = []
    total = 0.0
    for index, value in enumerate(values):
        total += value
        if index >= window:
            total -= values[index - window]
        out.append(total / min(index + 1, window))
    return out


def _draw_curves(
    axis: Any,
    train: list[float],
    evals: list[tuple[int, float]],
    quantity: str,
    *,
    show_raw: bool = False,
) -> None:
    """Draw the smoothed meta-train curve (and the raw one) and the eval points of ``quantity``."""
    if train:
        steps = list(range(1, len(train) + 1))
        window = max(1, len(train) // 50)
        if show_raw:
            axis.plot(steps, train, color="tab:blue", alpha=0.25, linewidth=0.8)
        axis.plot(
            steps,
            _smooth(train, window),
            color="tab:blue",
            label=f"meta-train query {quantity} (avg of {window})",
        )
    if evals:
        its, values = zip(*evals, strict=True)
        axis.plot(its, values, "o-", color="tab:orange", label=f"eval post-adaptation {quantity}")
    axis.set_xlabel("meta-iteration")
    axis.set_ylabel(quantity)
    axis.legend()
    axis.grid(True, alpha=0.3)


def plot_history(history: History, path: PathLike, *, title: str | None = None) -> Path:
    """Write the learning curves of ``history`` as a PNG (atomically).

    One panel shows the meta-training loss (raw and a moving average) and the evaluation
    loss; a second panel shows accuracy when the history has any.

    Args:
        history: The run's history (at least one meta-update or evaluation).
        path: Destination ``.png`` file.
        title: Optional figure title.

    Returns:
        The path written.

    Raises:
        ValueError: If the history is empty.
        ImportError: If matplotlib is missing (``pip install meta-train[plot]``).

    Examples:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "curves.png"
        >>> plot_history(History(meta_loss=[1.0, 0.5], eval_loss=[(2, 0.6)]), target).name
        'curves.png'
    """
    if not history.meta_loss and not history.eval_loss:
        raise ValueError(
            "plot_history needs a history with meta_loss or eval_loss, got an empty one"
        )
    has_accuracy = bool(history.meta_accuracy or history.eval_accuracy)
    figure = _new_figure(11.0 if has_accuracy else 6.5, 4.0)
    axes = figure.subplots(1, 2 if has_accuracy else 1, squeeze=False)[0]
    loss_axis = axes[0]
    _draw_curves(loss_axis, history.meta_loss, history.eval_loss, "loss", show_raw=True)
    if all(v > 0 for v in history.meta_loss) and all(v > 0 for _, v in history.eval_loss):
        loss_axis.set_yscale("log")
    if has_accuracy:
        accuracy_axis = axes[1]
        _draw_curves(accuracy_axis, history.meta_accuracy, history.eval_accuracy, "accuracy")
        accuracy_axis.set_ylim(0.0, 1.0)
    if title:
        figure.suptitle(title)
    return _save_png(figure, path)


def plot_sinusoid_fits(
    path: PathLike,
    *,
    x: Tensor,
    true_y: Tensor,
    pre_y: Tensor,
    post_y: Tensor,
    support_x: Tensor,
    support_y: Tensor,
    title: str | None = None,
) -> Path:
    """Plot pre- vs post-adaptation predictions against the true curve for a few tasks (PNG).

    Args:
        path: Destination ``.png`` file.
        x: ``(tasks, n)`` or ``(tasks, n, 1)`` dense input grid per task.
        true_y: True function values on ``x``, same shape.
        pre_y: Predictions of the meta-learned initialisation on ``x``, same shape.
        post_y: Predictions after adapting on the support set, same shape.
        support_x: ``(tasks, k)`` or ``(tasks, k, 1)`` support inputs.
        support_y: Support targets, same shape as ``support_x``.
        title: Optional figure title.

    Returns:
        The path written.

    Raises:
        ValueError: If the shapes disagree.
        ImportError: If matplotlib is missing (``pip install meta-train[plot]``).

    Examples:
        >>> import tempfile, pathlib, torch
        >>> x = torch.linspace(-5, 5, 50).expand(2, -1)
        >>> y = torch.sin(x)
        >>> path = plot_sinusoid_fits(pathlib.Path(tempfile.mkdtemp()) / "fits.png", x=x,
        ...     true_y=y, pre_y=0 * y, post_y=0.9 * y, support_x=x[:, :5], support_y=y[:, :5])
        >>> path.name
        'fits.png'
    """
    curves = [
        t.detach().cpu().reshape(t.shape[0], -1) if t.dim() > 1 else t
        for t in (x, true_y, pre_y, post_y)
    ]
    shapes = {tuple(c.shape) for c in curves}
    if len(shapes) != 1 or curves[0].dim() != 2:
        raise ValueError(
            "plot_sinusoid_fits needs x, true_y, pre_y and post_y of one shape (tasks, n[, 1]), "
            "got "
            f"{[tuple(t.shape) for t in (x, true_y, pre_y, post_y)]}"
        )
    points = [
        t.detach().cpu().reshape(t.shape[0], -1) if t.dim() > 1 else t
        for t in (support_x, support_y)
    ]
    if (
        points[0].shape != points[1].shape
        or points[0].dim() != 2
        or points[0].shape[0] != curves[0].shape[0]
    ):
        raise ValueError(
            "plot_sinusoid_fits needs support_x and support_y of shape (tasks, k[, 1]) with "
            f"tasks={curves[0].shape[0]}, got {tuple(support_x.shape)} and {tuple(support_y.shape)}"
        )
    num_tasks = curves[0].shape[0]
    figure = _new_figure(4.0 * num_tasks, 3.6)
    axes = figure.subplots(1, num_tasks, squeeze=False)[0]
    for task, axis in enumerate(axes):
        order = torch.argsort(curves[0][task])
        grid = curves[0][task][order]
        axis.plot(grid, curves[1][task][order], color="black", label="true")
        axis.plot(grid, curves[2][task][order], "--", color="tab:gray", label="pre-adaptation")
        axis.plot(grid, curves[3][task][order], color="tab:red", label="post-adaptation")
        axis.scatter(
            points[0][task],
            points[1][task],
            marker="^",
            color="tab:blue",
            zorder=3,
            label="support",
        )
        axis.set_title(f"task {task + 1}")
        axis.set_xlabel("x")
        axis.grid(True, alpha=0.3)
    axes[0].set_ylabel("y")
    axes[0].legend(fontsize="small")
    if title:
        figure.suptitle(title)
    return _save_png(figure, path)
