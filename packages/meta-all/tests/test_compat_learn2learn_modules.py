"""learn2learn's submodule paths (``l2l.algorithms.maml``, ...) and the Lightning callbacks."""

from __future__ import annotations

import doctest
import importlib
import random
from pathlib import Path

import meta_all.compat.learn2learn as l2l
import meta_nn
import meta_tasks
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

COMPAT = "meta_all.compat.learn2learn"


def _module(path: str) -> object:
    return importlib.import_module(f"{COMPAT}.{path}")


@pytest.mark.parametrize(
    ("path", "name", "same_as"),
    [
        ("algorithms.base_learner", "BaseLearner", l2l.algorithms.BaseLearner),
        ("algorithms.maml", "maml_update", l2l.algorithms.maml_update),
        ("algorithms.maml", "MAML", l2l.algorithms.MAML),
        ("algorithms.maml", "clone_module", l2l.clone_module),
        ("algorithms.maml", "update_module", l2l.update_module),
        ("algorithms.meta_sgd", "meta_sgd_update", l2l.algorithms.meta_sgd_update),
        ("algorithms.gbml", "GBML", l2l.algorithms.GBML),
        ("data.meta_dataset", "MetaDataset", meta_tasks.MetaDataset),
        ("data.task_dataset", "CythonTaskDataset", l2l.data.TaskDataset),
        ("data.utils", "OnDeviceDataset", meta_tasks.OnDeviceDataset),
        ("nn.kroneckers", "KroneckerLinear", meta_nn.KroneckerLinear),
        ("nn.misc", "Scale", meta_nn.Scale),
        ("nn.protonet", "PrototypicalClassifier", l2l.nn.PrototypicalClassifier),
        ("nn.metalayers.metamodule", "MetaModule", meta_nn.MetaModule),
        ("optim.parameter_update", "ParameterUpdate", l2l.optim.ParameterUpdate),
        (
            "optim.transforms.kronecker_transform",
            "KroneckerTransform",
            l2l.optim.KroneckerTransform,
        ),
        ("optim.update_rules.differentiable_sgd", "DifferentiableSGD", l2l.optim.DifferentiableSGD),
        ("vision.models.cnn4", "maml_init_", l2l.vision.models.maml_init_),
        ("vision.models.cnn4", "CNN4", meta_nn.CNN4),
        ("vision.models.resnet12", "DropBlock", meta_nn.DropBlock),
        ("vision.datasets.full_omniglot", "FullOmniglot", l2l.vision.datasets.FullOmniglot),
        ("vision.benchmarks.omniglot_benchmark", "omniglot_tasksets", None),
    ],
)
def test_submodule_paths_re_export_the_one_object(path: str, name: str, same_as: object) -> None:
    module = _module(path)
    assert name in module.__all__  # type: ignore[attr-defined]
    expected = l2l.vision.benchmarks.omniglot_tasksets if same_as is None else same_as
    assert getattr(module, name) is expected


def test_every_compat_module_sorts_its_all_and_defines_what_it_lists() -> None:
    import pkgutil

    package = importlib.import_module(COMPAT)
    for info in pkgutil.walk_packages(package.__path__, f"{COMPAT}."):
        if any(part.startswith("_") for part in info.name.split(".")[3:]):
            continue
        if ".lightning" in info.name:
            pytest.importorskip("lightning")
        module = importlib.import_module(info.name)
        names = module.__all__
        assert names == sorted(names, key=lambda n: (not n.isupper(), not n[0].isupper(), n)), (
            info.name
        )
        assert all(hasattr(module, name) for name in names), info.name


def test_compute_prototypes_is_the_mean_of_each_label_with_its_graph() -> None:
    protonet = _module("nn.protonet")
    support = torch.tensor([[0.0, 2.0], [4.0, 0.0], [2.0, 0.0], [1.0, 1.0]], requires_grad=True)
    labels = torch.tensor([3, 0, 3, 0])
    prototypes = protonet.compute_prototypes(support, labels)  # type: ignore[attr-defined]
    torch.testing.assert_close(prototypes, torch.tensor([[2.5, 0.5], [1.0, 1.0]]))
    prototypes.sum().backward()
    torch.testing.assert_close(support.grad, torch.full((4, 2), 0.5))


def _tasks(num_tasks: int) -> l2l.data.TaskDataset:
    data = l2l.data.MetaDataset(TensorDataset(torch.arange(12.0), torch.arange(12) % 4))
    transforms = l2l.data.transforms
    chain = [transforms.NWays(data, 2), transforms.KShots(data, 2), transforms.LoadData(data)]
    random.seed(0)
    return l2l.data.TaskDataset(data, chain, num_tasks=num_tasks)


def test_taskset_sampler_yields_the_items_of_each_fixed_task_once_per_pass() -> None:
    samplers = _module("data.samplers")
    tasks = _tasks(num_tasks=5)
    in_order = list(samplers.TasksetSampler(tasks, shuffle=False))  # type: ignore[attr-defined]
    assert in_order == [[item.index for item in tasks.describe(i)] for i in range(5)]
    random.seed(3)
    shuffled = list(samplers.TasksetSampler(tasks))  # type: ignore[attr-defined]
    order = list(range(5))
    random.seed(3)
    random.shuffle(order)
    assert shuffled == [in_order[i] for i in order]
    loader = DataLoader(
        tasks.dataset,
        batch_sampler=samplers.TasksetSampler(tasks, shuffle=False),  # type: ignore[attr-defined]
    )
    x, y = next(iter(loader))
    assert x.tolist() == [float(index) for index in in_order[0]]
    assert len(set(y.tolist())) == 2


def test_taskset_sampler_of_an_endless_task_set_never_ends_and_checks_its_argument() -> None:
    samplers = _module("data.samplers")
    stream = iter(samplers.TasksetSampler(_tasks(num_tasks=-1)))  # type: ignore[attr-defined]
    batches = [next(stream) for _ in range(50)]
    assert all(len(indices) == 4 for indices in batches)
    assert len({tuple(indices) for indices in batches}) > 1
    with pytest.raises(TypeError, match="taskset must be a TaskDataset, got list"):
        samplers.TasksetSampler([1, 2])  # type: ignore[attr-defined]


def test_new_module_docstring_examples_run() -> None:
    for path in ("data.samplers", "nn.protonet"):
        result = doctest.testmod(_module(path))  # type: ignore[arg-type]
        assert result.attempted > 0
        assert result.failed == 0


@pytest.mark.filterwarnings("ignore:.*treespec.*:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:.*treespec.*:FutureWarning")
@pytest.mark.filterwarnings("ignore::lightning.fabric.utilities.warnings.PossibleUserWarning")
def test_learn2learn_lightning_callbacks_test_after_each_validation(tmp_path: Path) -> None:
    """The callbacks of learn2learn's ``examples/vision/lightning/main.py``, on a tiny fit."""
    lightning = pytest.importorskip("lightning")
    import meta_train.lightning
    from meta_all.compat.learn2learn.utils.lightning import (
        EpisodicBatcher,
        NoLeaveProgressBar,
        TrackTestAccuracyCallback,
    )

    assert TrackTestAccuracyCallback is meta_train.lightning.TrackTestAccuracyCallback
    assert NoLeaveProgressBar is meta_train.lightning.NoLeaveProgressBar

    def tasks(seed: int) -> l2l.data.TaskDataset:
        generator = torch.Generator().manual_seed(0)
        data = l2l.data.MetaDataset(
            TensorDataset(torch.randn(60, 4, generator=generator), torch.arange(60) % 6)
        )
        transforms = l2l.data.transforms
        chain = [
            transforms.NWays(data, 2),
            transforms.KShots(data, 2),
            transforms.LoadData(data),
            transforms.RemapLabels(data),
        ]
        random.seed(seed)
        return l2l.data.TaskDataset(data, chain)

    torch.manual_seed(0)
    maml = l2l.algorithms.LightningMAML(nn.Linear(4, 2), train_ways=2, test_ways=2, lr=0.1)
    tested: list[int] = []
    test_step = maml.test_step

    def counting_test_step(batch: object, batch_idx: int) -> None:
        tested.append(maml.trainer.global_step)
        test_step(batch, batch_idx)

    maml.test_step = counting_test_step  # type: ignore[method-assign]
    bar = NoLeaveProgressBar()
    trainer = lightning.Trainer(
        accelerator="cpu",
        default_root_dir=str(tmp_path),
        max_epochs=2,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        callbacks=[TrackTestAccuracyCallback(), bar],
    )
    trainer.fit(maml, EpisodicBatcher(tasks(1), tasks(2), tasks(3), epoch_length=2))
    assert tested == [2, 2, 4, 4]  # both test batches after each epoch's validation
    assert {"validation/accuracy", "test/accuracy"} <= set(trainer.callback_metrics)
    assert 0.0 <= float(trainer.callback_metrics["test/accuracy"]) <= 1.0
    assert trainer.global_step == 4
    assert bar.test_progress_bar.leave is False
