"""PNG learning curves and sinusoid fit plots (skipped without matplotlib), lazy import errors."""

from __future__ import annotations

import sys

import pytest
import torch
from meta_train import History, plot_history, plot_sinusoid_fits

PNG = b"\x89PNG\r\n\x1a\n"


def _needs_matplotlib():
    pytest.importorskip("matplotlib", reason="plots need the plot extra (matplotlib)")


def test_learning_curves_png(tmp_path):
    _needs_matplotlib()
    history = History(
        meta_loss=[2.0 / (i + 1) for i in range(60)],
        meta_accuracy=[min(1.0, i / 60) for i in range(60)],
        eval_loss=[(20, 0.5), (40, 0.3), (60, 0.2)],
        eval_accuracy=[(20, 0.5), (40, 0.7), (60, 0.8)],
    )
    path = plot_history(history, tmp_path / "curves.png", title="test")
    assert path.read_bytes()[:8] == PNG
    regression = plot_history(History(meta_loss=[1.0, 0.5]), tmp_path / "r.png")
    assert regression.read_bytes()[:8] == PNG
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "r.png"]


def test_sinusoid_fits_png(tmp_path):
    _needs_matplotlib()
    x = torch.linspace(-5, 5, 50).expand(3, -1).unsqueeze(-1)
    true_y = torch.sin(x)
    path = plot_sinusoid_fits(
        tmp_path / "fits.png",
        x=x,
        true_y=true_y,
        pre_y=0 * x,
        post_y=0.9 * true_y,
        support_x=x[:, :5],
        support_y=true_y[:, :5],
    )
    assert path.read_bytes()[:8] == PNG


def test_plot_input_errors(tmp_path):
    with pytest.raises(
        ValueError, match="needs a history with meta_loss or eval_loss, got an empty one"
    ):
        plot_history(History(), tmp_path / "x.png")
    x = torch.zeros(2, 10, 1)
    with pytest.raises(
        ValueError, match=r"of one shape \(tasks, n\[, 1\]\), got \[\(2, 10, 1\), \(2, 9, 1\)"
    ):
        plot_sinusoid_fits(
            tmp_path / "x.png",
            x=x,
            true_y=torch.zeros(2, 9, 1),
            pre_y=x,
            post_y=x,
            support_x=x,
            support_y=x,
        )
    with pytest.raises(
        ValueError, match=r"support_x and support_y of shape \(tasks, k\[, 1\]\) with tasks=2"
    ):
        plot_sinusoid_fits(
            tmp_path / "x.png",
            x=x,
            true_y=x,
            pre_y=x,
            post_y=x,
            support_x=torch.zeros(3, 5, 1),
            support_y=torch.zeros(3, 5, 1),
        )


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    with pytest.raises(ImportError, match=r"pip install meta-train\[plot\]"):
        plot_history(History(meta_loss=[1.0]), tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_importing_meta_train_does_not_import_matplotlib():
    import subprocess

    code = "import meta_train, meta_train.cli, sys; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False"]
