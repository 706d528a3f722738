"""learn2learn's Lightning names (l2l.algorithms.Lightning*, l2l.utils.lightning) on Lightning 2."""

from __future__ import annotations

import importlib
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

L = pytest.importorskip("lightning")

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

REPO_ROOT = Path(__file__).resolve().parents[3]
DATA_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", REPO_ROOT.parent / "shared" / "data" / "omniglot")
)
WAYS, SHOTS, QUERIES, FEATURES = 5, 1, 2, 6


def task_dataset(seed: int) -> l2l.data.TaskDataset:
    generator = torch.Generator().manual_seed(0)
    data = l2l.data.MetaDataset(
        TensorDataset(torch.randn(200, FEATURES, generator=generator), torch.arange(200) % 20)
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


def trainer(root: Path, **options: object) -> L.Trainer:
    return L.Trainer(
        accelerator="cpu",
        default_root_dir=str(root),
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        **options,
    )


def test_lightning_maml_keeps_learn2learns_arguments_and_defaults() -> None:
    model = nn.Linear(FEATURES, WAYS)
    maml = l2l.algorithms.LightningMAML(model, max_epochs=3, data_parallel=True)
    assert isinstance(maml, MetaLightningModule)
    assert isinstance(maml, l2l.algorithms.LightningEpisodicModule)
    settings = {name: getattr(maml, name) for name in ("train_ways", "train_shots", "test_ways")}
    assert settings == {"train_ways": 5, "train_shots": 1, "test_ways": 5}
    assert (maml.train_queries, maml.test_shots, maml.test_queries) == (1, 1, 1)
    assert (maml.lr, maml.scheduler_step, maml.scheduler_decay) == (0.001, 20, 1.0)
    assert (maml.adaptation_lr, maml.adaptation_steps) == (0.1, 1)
    assert isinstance(maml.algorithm, meta_algos.MAML)
    assert maml.algorithm.inner_lr == 0.1
    assert isinstance(maml.loss, nn.CrossEntropyLoss)
    configured = maml.configure_optimizers()
    assert configured["optimizer"].param_groups[0]["lr"] == 0.001
    assert configured["lr_scheduler"].step_size == 20
    custom = l2l.algorithms.LightningMAML(model, adaptation_lr=0.4, adaptation_steps=3, lr=0.01)
    assert (custom.algorithm.inner_lr, custom.algorithm.inner_steps) == (0.4, 3)
    assert custom.configure_optimizers()["optimizer"].param_groups[0]["lr"] == 0.01


def test_maml_and_anil_need_as_many_train_as_test_ways() -> None:
    with pytest.raises(ValueError, match="For MAML, train_ways should be equal to test_ways"):
        l2l.algorithms.LightningMAML(nn.Linear(2, 5), train_ways=5, test_ways=3)
    with pytest.raises(ValueError, match="For ANIL, train_ways should be equal to test_ways"):
        l2l.algorithms.LightningANIL(nn.Linear(2, 3), nn.Linear(3, 5), test_ways=20)


def test_episodic_batcher_defaults_and_checks() -> None:
    train = task_dataset(0)
    batcher = l2l.utils.lightning.EpisodicBatcher(train)
    assert batcher.validation_tasks is train
    assert batcher.test_tasks is train
    assert batcher.epoch_length == 1
    data, labels = next(iter(batcher.train_dataloader()))
    assert data.shape == (WAYS * (SHOTS + QUERIES), FEATURES)
    by_way = labels.view(WAYS, SHOTS + QUERIES)
    assert torch.equal(by_way, by_way[:, :1].expand_as(by_way))  # grouped by label
    with pytest.raises(TypeError, match="validation_tasks must be a task dataset"):
        l2l.utils.lightning.EpisodicBatcher(train, [1, 2])
    with pytest.raises(ValueError, match="epoch_length"):
        l2l.utils.lightning.EpisodicBatcher(train, epoch_length=0)


def test_lightning_maml_makes_the_meta_updates_of_meta_trainer(tmp_path: Path) -> None:
    torch.manual_seed(0)
    maml = l2l.algorithms.LightningMAML(
        nn.Linear(FEATURES, WAYS), train_queries=QUERIES, test_queries=QUERIES, lr=0.01
    )
    torch.manual_seed(0)
    reference = l2l.algorithms.LightningMAML(nn.Linear(FEATURES, WAYS), lr=0.01).engine
    batcher = l2l.utils.lightning.EpisodicBatcher(
        task_dataset(1), task_dataset(2), task_dataset(3), epoch_length=3
    )
    run = trainer(tmp_path, max_epochs=2)
    run.fit(maml, batcher)
    (tested,) = run.test(maml, batcher, verbose=False)

    tasks = task_dataset(1)
    for _ in range(6):
        reference.meta_step([split_by_shots(*tasks.sample(), SHOTS, ways=WAYS)])
    assert run.global_step == 6
    for ours, theirs in zip(maml.parameters(), reference.maml.parameters(), strict=True):
        assert torch.equal(ours, theirs)
    assert 0.0 <= tested["test/accuracy"] <= 1.0
    assert set(tested) == {"test/loss", "test/accuracy", "test/pre_loss", "test/pre_accuracy"}


def test_lightning_anil_adapts_the_classifier_and_meta_learns_both(tmp_path: Path) -> None:
    torch.manual_seed(0)
    features = nn.Sequential(nn.Linear(FEATURES, 8), nn.ReLU())
    classifier = nn.Linear(8, WAYS)
    anil = l2l.algorithms.LightningANIL(features, classifier, adaptation_lr=0.5)
    assert isinstance(anil.algorithm, meta_algos.ANIL)
    before = [param.detach().clone() for param in (features[0].weight, classifier.weight)]
    batcher = l2l.utils.lightning.EpisodicBatcher(task_dataset(4), task_dataset(5), epoch_length=2)
    run = trainer(tmp_path, max_epochs=1)
    run.fit(anil, batcher)
    (validated,) = run.validate(anil, batcher, verbose=False)
    after = (features[0].weight, classifier.weight)
    assert all(not torch.equal(old, new) for old, new in zip(before, after, strict=True))
    assert 0.0 <= validated["validation/accuracy"] <= 1.0


def test_lightning_prototypical_networks_train_the_embedding(tmp_path: Path) -> None:
    torch.manual_seed(0)
    features = nn.Sequential(nn.Linear(FEATURES, 8), nn.ReLU(), nn.Linear(8, 4))
    protonet = l2l.algorithms.LightningPrototypicalNetworks(
        features, distance_metric="cosine", train_queries=QUERIES, test_queries=QUERIES
    )
    assert isinstance(protonet.algorithm, meta_algos.ProtoNet)
    assert (protonet.distance_metric, protonet.algorithm.distance) == ("cosine", "cosine")
    assert l2l.algorithms.LightningPrototypicalNetworks(features).distance_metric == "euclidean"
    before = features[0].weight.detach().clone()
    batcher = l2l.utils.lightning.EpisodicBatcher(task_dataset(6), task_dataset(7), epoch_length=2)
    run = trainer(tmp_path, max_epochs=1)
    run.fit(protonet, batcher)
    (tested,) = run.test(protonet, batcher, verbose=False)
    assert run.global_step == 2
    assert not torch.equal(before, features[0].weight)
    assert 0.0 <= tested["test/accuracy"] <= 1.0
    with pytest.raises(ValueError, match="distance must be 'euclidean' or 'cosine'"):
        l2l.algorithms.LightningPrototypicalNetworks(features, distance_metric="manhattan")


@pytest.mark.data
@pytest.mark.filterwarnings("ignore:FullOmniglot.*small background archives:UserWarning")
def test_learn2learn_style_omniglot_script_runs_with_only_its_import_changed(
    tmp_path: Path,
) -> None:
    if not (DATA_ROOT / "images_background_small2.zip").is_file():
        pytest.skip(f"real Omniglot data not found in {DATA_ROOT} (set META_OMNIGLOT_ROOT)")
    pytest.importorskip("PIL", reason="Omniglot needs Pillow (meta-tasks[images])")
    random.seed(0)
    torch.manual_seed(0)
    tasksets = l2l.vision.benchmarks.get_tasksets(
        "omniglot", train_samples=2, test_samples=2, root=str(DATA_ROOT)
    )
    model = l2l.vision.models.OmniglotCNN(5, hidden_size=8)
    maml = l2l.algorithms.LightningMAML(model, adaptation_lr=0.4, train_queries=1, test_queries=1)
    episodic_data = l2l.utils.lightning.EpisodicBatcher(
        tasksets.train, tasksets.validation, tasksets.test, epoch_length=2
    )
    run = trainer(tmp_path, max_epochs=1)
    run.fit(maml, episodic_data)
    (tested,) = run.test(maml, episodic_data, verbose=False)
    assert run.global_step == 2
    assert 0.0 <= tested["test/accuracy"] <= 1.0


def test_without_lightning_the_names_say_which_extra_to_install(monkeypatch) -> None:
    for name in list(sys.modules):
        if name.startswith("meta_train.lightning") or name.endswith(
            ("learn2learn._lightning", "learn2learn.utils.lightning")
        ):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.delattr(l2l, "_lightning", raising=False)
    monkeypatch.delattr(l2l.utils, "lightning", raising=False)
    monkeypatch.setitem(sys.modules, "lightning", None)
    for access in (lambda: l2l.algorithms.LightningMAML, lambda: l2l.utils.lightning):
        with pytest.raises(ImportError, match=r'pip install "meta-train\[lightning\]"'):
            access()
    with pytest.raises(AttributeError, match="has no attribute 'LightningNothing'"):
        _ = l2l.algorithms.LightningNothing


def test_importing_the_compat_layer_does_not_import_lightning() -> None:
    code = "import sys, meta_all.compat.learn2learn; print('lightning' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_episodic_batcher_imports_by_learn2learn_s_module_path():
    from meta_all.compat.learn2learn.utils.lightning import EpisodicBatcher

    assert EpisodicBatcher is l2l.utils.lightning.EpisodicBatcher
