"""learn2learn's ``l2l.algorithms.LightningMetaOptNet`` on Lightning 2 (with lightning and qpth)."""

from __future__ import annotations

import importlib
import random
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

L = pytest.importorskip("lightning")
pytest.importorskip("qpth", reason='needs qpth: pip install "meta-nn[svm]"')

import meta_algos  # noqa: E402
import meta_all.compat.learn2learn as l2l  # noqa: E402
from meta_tasks import split_by_shots  # noqa: E402
from meta_train.lightning import MetaLightningModule  # noqa: E402

transforms = importlib.import_module("meta_all.compat.learn2learn.data.transforms")

pytestmark = [
    pytest.mark.filterwarnings("ignore:.*treespec.*:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:.*treespec.*:FutureWarning"),
    pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning"),
]

WAYS, SHOTS, QUERIES, FEATURES = 3, 2, 2, 6


@pytest.fixture(autouse=True)
def one_thread():
    """qpth's many tiny LU solves are faster on one thread than on two busy cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def task_dataset(seed: int) -> l2l.data.TaskDataset:
    generator = torch.Generator().manual_seed(0)
    data = l2l.data.MetaDataset(
        TensorDataset(torch.randn(120, FEATURES, generator=generator), torch.arange(120) % 12)
    )
    chain = [
        transforms.NWays(data, WAYS),
        transforms.KShots(data, SHOTS + QUERIES),
        transforms.LoadData(data),
        transforms.RemapLabels(data),
        transforms.ConsecutiveLabels(data),
    ]
    random.seed(seed)
    return l2l.data.TaskDataset(data, task_transforms=chain)


def features() -> nn.Module:
    return nn.Sequential(nn.Linear(FEATURES, 8), nn.ReLU(), nn.Linear(8, 4))


def settings() -> dict[str, int]:
    return {
        "train_ways": WAYS,
        "test_ways": WAYS,
        "train_shots": SHOTS,
        "test_shots": SHOTS,
        "train_queries": QUERIES,
        "test_queries": QUERIES,
    }


def test_keeps_learn2learns_arguments_and_defaults() -> None:
    embedding = features()
    metaoptnet = l2l.algorithms.LightningMetaOptNet(embedding, data_parallel=True)
    assert isinstance(metaoptnet, MetaLightningModule)
    assert isinstance(metaoptnet, l2l.algorithms.LightningEpisodicModule)
    assert isinstance(metaoptnet.algorithm, meta_algos.MetaOptNet)
    assert metaoptnet.features is embedding
    assert (metaoptnet.svm_C_reg, metaoptnet.svm_max_iters) == (0.1, 15)
    assert (metaoptnet.algorithm.C_reg, metaoptnet.algorithm.max_iters) == (0.1, 15)
    assert (metaoptnet.train_ways, metaoptnet.train_shots, metaoptnet.lr) == (5, 1, 0.001)
    assert isinstance(metaoptnet.loss, nn.CrossEntropyLoss)
    custom = l2l.algorithms.LightningMetaOptNet(
        embedding, svm_C_reg=0.5, svm_max_iters=4, train_ways=20, test_ways=5
    )
    assert (custom.algorithm.C_reg, custom.algorithm.max_iters) == (0.5, 4)
    assert (custom.train_ways, custom.test_ways) == (20, 5)
    with pytest.raises(ValueError, match="C_reg must be a positive number, got 0"):
        l2l.algorithms.LightningMetaOptNet(embedding, svm_C_reg=0)


def test_fit_makes_the_meta_updates_of_meta_trainer_and_test_logs(tmp_path: Path) -> None:
    torch.manual_seed(0)
    metaoptnet = l2l.algorithms.LightningMetaOptNet(features(), lr=0.01, **settings())
    torch.manual_seed(0)
    reference = l2l.algorithms.LightningMetaOptNet(features(), lr=0.01, **settings()).engine
    batcher = l2l.utils.lightning.EpisodicBatcher(
        task_dataset(1), task_dataset(2), task_dataset(3), epoch_length=2
    )
    run = L.Trainer(
        accelerator="cpu",
        default_root_dir=str(tmp_path),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        max_epochs=2,
    )
    run.fit(metaoptnet, batcher)
    (tested,) = run.test(metaoptnet, batcher, verbose=False)

    tasks = task_dataset(1)
    for _ in range(4):
        reference.meta_step([split_by_shots(*tasks.sample(), SHOTS, ways=WAYS)])
    assert run.global_step == 4
    for ours, theirs in zip(metaoptnet.parameters(), reference.maml.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-6, atol=1e-7)
    assert 0.0 <= tested["test/accuracy"] <= 1.0
    assert set(tested) == {"test/loss", "test/accuracy", "test/pre_loss", "test/pre_accuracy"}
