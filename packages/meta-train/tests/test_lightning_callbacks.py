"""meta_train.lightning's callbacks: the test loop after every validation, a test bar that goes."""

from __future__ import annotations

import csv
import doctest
import importlib
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

L = pytest.importorskip("lightning")

from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import CSVLogger  # noqa: E402
from lightning.pytorch.trainer.states import TrainerFn  # noqa: E402
from meta_train.lightning import NoLeaveProgressBar, TrackTestAccuracyCallback  # noqa: E402

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*treespec.*:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*treespec.*:FutureWarning"),
    pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning"),
]


class _Regression(L.LightningModule):
    """A linear regression that counts its test batches and records the fit's state there."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)
        self.test_batches = 0
        self.states_in_test: list[tuple[TrainerFn, bool]] = []

    def _loss(self, batch: list[torch.Tensor]) -> torch.Tensor:
        inputs, targets = batch
        return F.mse_loss(self.linear(inputs), targets)

    def training_step(self, batch: list[torch.Tensor], batch_idx: int) -> torch.Tensor:
        return self._loss(batch)

    def validation_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.log("valid_loss", self._loss(batch))

    def test_step(self, batch: list[torch.Tensor], batch_idx: int) -> None:
        self.test_batches += 1
        self.states_in_test.append((self.trainer.state.fn, torch.is_grad_enabled()))
        self.log("test_loss", self._loss(batch))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.1)


class _Data(L.LightningDataModule):
    """Eight points per split, two batches of four."""

    def _loader(self, seed: int) -> DataLoader[tuple[torch.Tensor, ...]]:
        generator = torch.Generator().manual_seed(seed)
        inputs = torch.randn(8, 2, generator=generator)
        data = TensorDataset(inputs, torch.randn(8, 1, generator=generator))
        return DataLoader(data, batch_size=4)

    def train_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        return self._loader(0)

    def val_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        return self._loader(1)

    def test_dataloader(self) -> DataLoader[tuple[torch.Tensor, ...]]:
        return self._loader(2)


def _trainer(root: Path, callbacks: list[L.Callback], **options: object) -> L.Trainer:
    settings: dict[str, object] = {"max_epochs": 3, "enable_model_summary": False, **options}
    return L.Trainer(accelerator="cpu", default_root_dir=str(root), callbacks=callbacks, **settings)


def test_track_test_accuracy_tests_after_every_validation_and_keeps_the_fit(
    tmp_path: Path,
) -> None:
    torch.manual_seed(0)
    module = _Regression()
    checkpoint = ModelCheckpoint(dirpath=tmp_path / "ckpt", monitor="valid_loss")
    trainer = _trainer(
        tmp_path,
        [TrackTestAccuracyCallback(), checkpoint],
        logger=CSVLogger(tmp_path, name="logs", version=0),
        enable_progress_bar=False,
        num_sanity_val_steps=2,
    )
    trainer.fit(module, datamodule=_Data())

    # three validations (the sanity check is skipped), two test batches each, as in a test
    assert module.test_batches == 6
    assert module.states_in_test == [(TrainerFn.TESTING, False)] * 6
    # the fit went on as usual: every step, its state and the validation metric kept
    assert trainer.global_step == 6
    assert trainer.current_epoch == 3
    assert trainer.state.fn == TrainerFn.FITTING
    assert module.training
    assert set(trainer.callback_metrics) == {"valid_loss", "test_loss"}
    assert checkpoint.best_model_score is not None
    assert trainer.test_loop.verbose is True  # restored: a later trainer.test prints its table
    # the test metric reached the logger at each validation's step
    trainer.logger.save()
    with (tmp_path / "logs" / "version_0" / "metrics.csv").open() as file:
        rows = list(csv.DictReader(file))
    tested_steps = [int(row["step"]) for row in rows if row.get("test_loss")]
    validated_steps = [int(row["step"]) for row in rows if row.get("valid_loss")]
    assert tested_steps == validated_steps == [1, 3, 5]


def test_track_test_accuracy_logs_the_loss_of_the_current_weights(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = _Regression()
    trainer = _trainer(
        tmp_path,
        [TrackTestAccuracyCallback()],
        logger=False,
        enable_progress_bar=False,
        max_epochs=1,
    )
    trainer.fit(module, datamodule=_Data())
    logged = float(trainer.callback_metrics["test_loss"])
    inputs, targets = next(iter(_Data().test_dataloader()))
    with torch.no_grad():
        first_batch = float(F.mse_loss(module.linear(inputs), targets))
    inputs, targets = list(_Data().test_dataloader())[1]
    with torch.no_grad():
        second_batch = float(F.mse_loss(module.linear(inputs), targets))
    assert logged == pytest.approx((first_batch + second_batch) / 2, rel=1e-6)


def test_track_test_accuracy_does_nothing_outside_fit(tmp_path: Path) -> None:
    module = _Regression()
    trainer = _trainer(tmp_path, [TrackTestAccuracyCallback()], logger=False)
    trainer.validate(module, datamodule=_Data(), verbose=False)
    assert module.test_batches == 0


def test_no_leave_progress_bar_clears_only_the_test_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bar = NoLeaveProgressBar(refresh_rate=3)
    assert bar.refresh_rate == 3
    assert bar.init_test_tqdm().leave is False
    assert bar.init_train_tqdm().leave is True  # the other bars are Lightning's
    torch.manual_seed(0)
    module = _Regression()
    trainer = _trainer(tmp_path, [bar, TrackTestAccuracyCallback()], logger=False, max_epochs=1)
    assert trainer.progress_bar_callback is bar
    trainer.fit(module, datamodule=_Data())
    trainer.test(module, datamodule=_Data(), verbose=False)
    assert module.test_batches == 4
    assert "Epoch 0: 100%" in capsys.readouterr().out
    assert bar.test_progress_bar.leave is False


def test_docstring_examples_run() -> None:
    module = importlib.import_module("meta_train.lightning._callbacks")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 4
    assert result.failed == 0
