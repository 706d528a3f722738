"""meta_train.lightning: fit/validate/test, parity with MetaTrainer, exact resume, loggers."""

from __future__ import annotations

import csv
import doctest
import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

L = pytest.importorskip("lightning")

import meta_train.lightning  # noqa: E402
from lightning.pytorch.callbacks import ModelCheckpoint  # noqa: E402
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger  # noqa: E402
from lightning.pytorch.plugins import MixedPrecision  # noqa: E402
from meta_algos import MAML  # noqa: E402
from meta_nn import MLP, ConvNet4  # noqa: E402
from meta_tasks import (  # noqa: E402
    OMNIGLOT_IMAGE_SIZE,
    FewShotSampler,
    Omniglot,
    SinusoidTaskSampler,
    split_classes,
)
from meta_train import NonFiniteError  # noqa: E402
from meta_train.lightning import (  # noqa: E402
    MetaDataModule,
    MetaLightningModule,
    TaskStream,
    rank_share,
)

# Lightning's own notices (pytree deprecation under new torch, "few workers", tips) are not
# about this code; everything else still fails the test.
pytestmark = [
    pytest.mark.filterwarnings("ignore:.*treespec.*:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*treespec.*:FutureWarning"),
    pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning"),
]

REPO_ROOT = Path(__file__).resolve().parents[3]
OMNIGLOT_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", REPO_ROOT.parent / "shared" / "data" / "omniglot")
)
TRAIN_METRICS = {"train/meta_loss"}
EVAL_NAMES = ("loss", "pre_loss")


def _module(**options: object) -> MetaLightningModule:
    torch.manual_seed(0)
    return MetaLightningModule(MAML(MLP([1, 40, 40, 1]), inner_lr=0.01), F.mse_loss, **options)


def _data(epoch_length: int = 3, meta_batch_size: int = 4) -> MetaDataModule:
    return MetaDataModule(
        SinusoidTaskSampler(),
        SinusoidTaskSampler(seed=1).sample(5),
        SinusoidTaskSampler(seed=2).sample(3),
        meta_batch_size=meta_batch_size,
        epoch_length=epoch_length,
        seed=7,
        eval_batch_size=2,
    )


def _trainer(root: Path, **options: object) -> L.Trainer:
    settings: dict[str, object] = {
        "default_root_dir": str(root),
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
        "num_sanity_val_steps": 0,
        "log_every_n_steps": 1,
    }
    settings.update(options)
    return L.Trainer(accelerator="cpu", devices=1, **settings)


def _parameters(module: MetaLightningModule) -> list[torch.Tensor]:
    return [param.detach().clone() for param in module.algorithm.parameters()]


def test_import_meta_train_does_not_import_lightning():
    code = "import sys, meta_train; print('lightning' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_without_lightning_the_import_names_the_extra(monkeypatch):
    for name in [name for name in sys.modules if name.startswith("meta_train.lightning")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "lightning", None)
    with pytest.raises(ImportError) as excinfo:
        importlib.import_module("meta_train.lightning")
    message = str(excinfo.value)
    assert message.count("\n") == 0
    assert 'pip install "meta-train[lightning]"' in message


def test_fit_makes_the_meta_updates_of_meta_trainer_over_the_same_tasks(tmp_path):
    module, data = _module(meta_lr=0.01, scheduler_step=2, scheduler_decay=0.5), _data()
    _trainer(tmp_path, max_epochs=2).fit(module, data)

    native = _module(meta_lr=0.01, scheduler_step=2, scheduler_decay=0.5).engine
    stream = TaskStream(SinusoidTaskSampler(), tasks_per_batch=4, epoch_length=3, seed=7)
    losses = [native.meta_step(stream.meta_batch(index)) for index in range(6)]
    assert module.trainer.global_step == 6
    for ours, theirs in zip(_parameters(module), native.maml.parameters(), strict=True):
        assert torch.equal(ours, theirs)
    assert module._optimizer.param_groups[0]["lr"] == pytest.approx(0.01 * 0.5**3)
    assert module.trainer.callback_metrics["train/meta_loss"].item() == pytest.approx(losses[-1])


def test_validate_and_test_log_the_evaluation_of_meta_trainer(tmp_path):
    module, data = _module(eval_steps=2), _data()
    trainer = _trainer(tmp_path)
    (validation,) = trainer.validate(module, data, verbose=False)
    (test,) = trainer.test(module, data, verbose=False)
    expected = {
        "validation": module.engine.evaluate_tasks(data.validation, steps=2),
        "test": module.engine.evaluate_tasks(data.test, steps=2),
    }
    for stage, logged in (("validation", validation), ("test", test)):
        result = expected[stage]
        assert set(logged) == {f"{stage}/{name}" for name in EVAL_NAMES}
        assert logged[f"{stage}/loss"] == pytest.approx(
            sum(result.post_loss) / len(result.post_loss)
        )
        assert logged[f"{stage}/pre_loss"] == pytest.approx(
            sum(result.pre_loss) / len(result.pre_loss)
        )


# A meta-update is one optimizer step: the checkpoint after step 3 is the state to resume from,
# not the "pre-optimization state" this Lightning notice is about.
@pytest.mark.filterwarnings("ignore:Using ModelCheckpoint with manual optimization:UserWarning")
@pytest.mark.filterwarnings("ignore:Checkpoint directory .* exists and is not empty:UserWarning")
def test_a_resumed_run_continues_bit_for_bit(tmp_path):
    options = {"meta_lr": 0.01, "scheduler_step": 2, "scheduler_decay": 0.5}
    whole = _module(**options)
    _trainer(tmp_path / "whole", max_epochs=2).fit(whole, _data(epoch_length=4))

    def saving(**limits: int) -> L.Trainer:
        saver = ModelCheckpoint(dirpath=tmp_path / "ckpt", every_n_train_steps=3, save_top_k=-1)
        return _trainer(tmp_path, enable_checkpointing=True, callbacks=[saver], **limits)

    first = _module(**options)
    saving(max_steps=3).fit(first, _data(epoch_length=4))
    (checkpoint,) = (tmp_path / "ckpt").glob("*step=3.ckpt")  # mid-epoch: 3 of 4 done

    torch.manual_seed(123)  # the resumed run must not depend on the global RNG
    resumed = MetaLightningModule(MAML(MLP([1, 40, 40, 1]), inner_lr=0.01), F.mse_loss, **options)
    saving(max_epochs=2).fit(resumed, _data(epoch_length=4), ckpt_path=checkpoint)
    assert resumed.trainer.global_step == whole.trainer.global_step == 8
    for ours, theirs in zip(_parameters(resumed), _parameters(whole), strict=True):
        assert torch.equal(ours, theirs)
    assert resumed._optimizer.state_dict()["param_groups"][0]["lr"] == 0.01 * 0.5**4


def test_non_finite_meta_updates_raise_or_are_skipped(tmp_path):
    def diverging(on_nonfinite: str) -> MetaLightningModule:
        algorithm = MAML(MLP([1, 40, 40, 1]), inner_lr=1e30)
        return MetaLightningModule(algorithm, F.mse_loss, on_nonfinite=on_nonfinite)

    with pytest.raises(NonFiniteError, match="non-finite meta-loss at meta-iteration 1"):
        _trainer(tmp_path, max_epochs=1).fit(diverging("raise"), _data())
    skipping = diverging("skip")
    before = _parameters(skipping)
    _trainer(tmp_path, max_epochs=1).fit(skipping, _data())
    assert skipping.trainer.global_step == 0  # no optimizer step was made
    assert all(torch.equal(a, b) for a, b in zip(before, _parameters(skipping), strict=True))


def test_bf16_mixed_precision_trains_and_a_gradient_scaler_is_refused(tmp_path):
    module = _module()
    _trainer(tmp_path, max_epochs=1, precision="bf16-mixed").fit(module, _data())
    assert module.trainer.global_step == 3
    assert torch.isfinite(module.trainer.callback_metrics["train/meta_loss"])
    scaler = MixedPrecision("16-mixed", "cpu", scaler=torch.amp.GradScaler("cpu"))
    with pytest.raises(ValueError, match=r"cannot train with a gradient scaler \(precision='16"):
        _trainer(tmp_path, max_epochs=1, plugins=[scaler]).fit(_module(), _data())


def _csv_metrics(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_csv_logger_receives_the_cli_metric_names(tmp_path):
    module, data = _module(), _data()
    logger = CSVLogger(tmp_path, name="run", version=0)
    trainer = _trainer(tmp_path, max_epochs=2, logger=logger)
    trainer.fit(module, data)
    trainer.test(module, data, verbose=False)
    rows = _csv_metrics(Path(logger.log_dir) / "metrics.csv")
    columns = set(rows[0])
    expected = TRAIN_METRICS | {
        f"{stage}/{n}" for stage in ("validation", "test") for n in EVAL_NAMES
    }
    assert expected <= columns
    losses = [row["train/meta_loss"] for row in rows if row["train/meta_loss"]]
    assert len(losses) == 6
    assert len([row for row in rows if row["validation/loss"]]) == 2


def test_loggers_get_each_logged_step_s_own_loss_when_logging_every_n_steps(tmp_path):
    module, data = _module(), _data(epoch_length=6)
    logger = CSVLogger(tmp_path, name="run", version=0)
    _trainer(tmp_path, max_epochs=1, logger=logger, log_every_n_steps=2).fit(module, data)

    native = _module().engine
    stream = TaskStream(SinusoidTaskSampler(), tasks_per_batch=4, epoch_length=6, seed=7)
    losses = [native.meta_step(stream.meta_batch(index)) for index in range(6)]
    rows = _csv_metrics(Path(logger.log_dir) / "metrics.csv")
    logged = {
        int(row["step"]): float(row["train/meta_loss"]) for row in rows if row["train/meta_loss"]
    }
    assert sorted(logged) == [1, 3, 5]
    for step, loss in logged.items():
        assert loss == pytest.approx(losses[step])


def test_data_module_moves_tasks_without_copying_those_already_there():
    data = _data()
    tasks = SinusoidTaskSampler().sample(2)
    moved = data.transfer_batch_to_device(tasks, torch.device("cpu"), 0)
    assert all(new is old for new, old in zip(moved, tasks, strict=True))
    assert data.transfer_batch_to_device({"x": torch.ones(1)}, torch.device("cpu"), 0)["x"] == 1


def test_tensorboard_logger_receives_the_cli_metric_names(tmp_path):
    accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    module, data = _module(), _data()
    logger = TensorBoardLogger(tmp_path, name="run", version=0)
    _trainer(tmp_path, max_epochs=1, logger=logger).fit(module, data)
    events = accumulator.EventAccumulator(logger.log_dir)
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/meta_loss", "validation/loss", "validation/pre_loss"} <= tags


def test_task_streams_are_per_rank_deterministic_and_resumable():
    def stream(rank: int) -> TaskStream:
        sampler = SinusoidTaskSampler()
        return TaskStream(sampler, tasks_per_batch=2, epoch_length=3, seed=5, rank=rank)

    first, again, other = stream(0), stream(0), stream(1)
    batches = [batch[0].query_y for batch in first] + [batch[0].query_y for batch in first]
    assert first.state_dict() == {"position": 6}
    assert torch.equal(batches[4], again.meta_batch(4)[0].query_y)
    assert not torch.equal(batches[4], other.meta_batch(4)[0].query_y)
    again.load_state_dict({"position": 4})
    assert [len(batch) for batch in again] == [2, 2]  # what is left of the second epoch
    assert torch.equal(again.meta_batch(5)[0].query_y, batches[5])
    with pytest.raises(ValueError, match="the stream's position"):
        again.load_state_dict({"position": -1})


def test_meta_batches_are_split_over_ranks_like_meta_trainer():
    assert [rank_share(5, rank, 3) for rank in range(3)] == [2, 2, 1]
    with pytest.raises(ValueError, match="meta_batch_size=1 is below the world size 2"):
        rank_share(1, 0, 2)


def test_bad_arguments_are_refused():
    class NoGenerator:
        def sample(self, meta_batch_size: int) -> list[object]:
            return []

    with pytest.raises(TypeError, match=r"sampler must have a sample\(meta_batch_size\)"):
        TaskStream(object(), tasks_per_batch=1, epoch_length=1, seed=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"torch\.Generator in its 'generator' attribute"):
        MetaDataModule(NoGenerator(), meta_batch_size=1, epoch_length=1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="validation needs at least one task"):
        MetaDataModule(SinusoidTaskSampler(), [], meta_batch_size=1, epoch_length=1)
    with pytest.raises(TypeError, match=r"test\[0\] must be a meta_tasks.Task"):
        MetaDataModule(SinusoidTaskSampler(), None, [1], meta_batch_size=1, epoch_length=1)
    with pytest.raises(TypeError, match=r"algorithm must be an nn\.Module"):
        MetaLightningModule(object(), F.mse_loss)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="meta_lr must be a positive number"):
        _module(meta_lr=0.0)
    with pytest.raises(ValueError, match="scheduler_decay must be a positive number"):
        _module(scheduler_step=2, scheduler_decay=-1.0)
    with pytest.raises(ValueError, match="scheduler_step"):
        _module(scheduler_step=0)
    with pytest.raises(RuntimeError, match=r"train it with lightning.Trainer.fit"):
        _module().engine.fit(1, meta_batch_size=1)


@pytest.mark.data
def test_omniglot_fit_validate_and_test(tmp_path):
    if not (OMNIGLOT_ROOT / "images_background_small1.zip").is_file():
        pytest.skip(f"Omniglot archives not found in {OMNIGLOT_ROOT} (set META_OMNIGLOT_ROOT)")
    pytest.importorskip("PIL", reason="Omniglot decoding needs Pillow (meta-tasks[images])")
    dataset = Omniglot(OMNIGLOT_ROOT, "background_small1", image_size=OMNIGLOT_IMAGE_SIZE)
    train_classes, test_classes = split_classes(dataset.num_classes, fractions=(0.8, 0.2), seed=0)
    held_out = FewShotSampler(dataset, 5, 1, 1, classes=test_classes, seed=1).sample(4)
    data = MetaDataModule(
        FewShotSampler(dataset, 5, 1, 1, classes=train_classes),
        held_out[:2],
        held_out[2:],
        meta_batch_size=2,
        epoch_length=2,
    )
    torch.manual_seed(0)
    model = ConvNet4(5, hidden_size=8, image_size=OMNIGLOT_IMAGE_SIZE)
    module = MetaLightningModule(MAML(model, inner_lr=0.4), F.cross_entropy)
    logger = CSVLogger(tmp_path, name="omniglot", version=0)
    trainer = _trainer(tmp_path, max_epochs=1, logger=logger)
    trainer.fit(module, data)
    (validation,) = trainer.validate(module, data, verbose=False)
    (test,) = trainer.test(module, data, verbose=False)
    assert trainer.global_step == 2
    for stage, logged in (("validation", validation), ("test", test)):
        assert 0.0 <= logged[f"{stage}/accuracy"] <= 1.0
        assert 0.0 <= logged[f"{stage}/pre_accuracy"] <= 1.0
    columns = set(_csv_metrics(Path(logger.log_dir) / "metrics.csv")[0])
    assert {"train/meta_loss", "train/accuracy", "validation/accuracy"} <= columns


@pytest.mark.parametrize(
    "module_name", [f"meta_train.lightning.{name}" for name in ("_data", "_module")]
)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"no examples in {module_name}"
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"


@pytest.mark.parametrize("name", meta_train.lightning.__all__)
def test_public_names_have_examples(name):
    assert "Example" in (getattr(meta_train.lightning, name).__doc__ or "")


def test_all_is_sorted():
    assert meta_train.lightning.__all__ == sorted(meta_train.lightning.__all__)
