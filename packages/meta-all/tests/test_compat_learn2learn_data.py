"""learn2learn's l2l.data, l2l.nn additions and l2l.utils semantics, through the compat layer.

Our own tests of the behaviour learn2learn's unit tests check (data/task_dataset, data/transforms,
data/utils, nn/kroneckers, nn/protonet, utils' detach_module), written for meta-*.
"""

from __future__ import annotations

import importlib
import random
from itertools import islice

import meta_all.compat.learn2learn as l2l
import meta_nn
import meta_tasks
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

transforms = importlib.import_module("meta_all.compat.learn2learn.data.transforms")


def labelled(items: int = 120, classes: int = 10, features: int = 4, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    data = torch.randn(items, features, generator=generator)
    labels = torch.arange(items) % classes
    return TensorDataset(data, labels[torch.randperm(items, generator=generator)])


def same(first, second) -> bool:
    return all(torch.equal(a, b) for a, b in zip(first, second, strict=True))


def test_data_names_are_shells_over_meta_tasks() -> None:
    assert l2l.data.MetaDataset is meta_tasks.MetaDataset
    assert l2l.data.UnionMetaDataset is meta_tasks.UnionMetaDataset
    assert l2l.data.FilteredMetaDataset is meta_tasks.FilteredMetaDataset
    assert l2l.data.DataDescription is meta_tasks.ItemDescription
    assert l2l.data.InfiniteIterator is meta_tasks.InfiniteIterator
    assert l2l.data.Taskset is l2l.data.TaskDataset
    assert issubclass(l2l.data.TaskDataset, meta_tasks.TaskDataset)
    assert l2l.data.transforms is transforms
    assert transforms.LoadData is meta_tasks.LoadData
    assert issubclass(transforms.NWays, meta_tasks.NWays)
    assert l2l.data.utils.partition_task is l2l.data.partition_task


def test_task_dataset_over_a_plain_dataset_caches_and_replays() -> None:
    dataset = labelled()
    tasks = l2l.data.TaskDataset(
        dataset, task_transforms=[transforms.LoadData(dataset)], num_tasks=6
    )
    assert len(tasks) == 6
    assert isinstance(tasks.dataset, l2l.data.MetaDataset)
    first = list(tasks)
    assert len(first) == 6
    assert all(same(a, b) for a, b in zip(first, tasks, strict=True))
    assert all(same(first[i], tasks[i]) for i in range(6))
    assert tasks.task_collate is torch.utils.data.default_collate


def random_subset(description):
    """A learn2learn-style transform: one argument, Python's random module."""
    return random.choices(description, k=5)


def test_one_argument_transforms_and_endless_streams() -> None:
    dataset = labelled()
    tasks = l2l.data.TaskDataset(dataset, [transforms.LoadData(dataset), random_subset])
    assert len(tasks) == 1
    previous = tasks.sample()
    assert previous[0].shape == (5, 4)
    for task in islice(tasks, 5):
        assert not same(previous, task)
        previous = task
    single = l2l.data.TaskDataset(dataset, lambda description: [l2l.data.DataDescription(3)])
    assert single.task_transforms is not None
    assert [item.index for item in single.sample_task_description()] == [3]


def test_random_seed_makes_task_sets_reproducible() -> None:
    meta = l2l.data.MetaDataset(labelled())
    chain = [transforms.NWays(meta, 3), transforms.KShots(meta, 2), transforms.LoadData(meta)]
    random.seed(7)
    first = l2l.data.TaskDataset(meta, chain, num_tasks=4)
    random.seed(7)
    second = l2l.data.TaskDataset(meta, chain, num_tasks=4)
    assert all(same(first[i], second[i]) for i in range(4))
    other = l2l.data.TaskDataset(meta, chain, num_tasks=4)
    assert not all(same(first[i], other[i]) for i in range(4))


def test_transforms_keep_learn2learns_defaults_and_argument_order() -> None:
    meta = l2l.data.MetaDataset(labelled())
    generator = torch.Generator().manual_seed(0)
    assert len({meta.indices_to_labels[d.index] for d in transforms.NWays(meta)(None)}) == 2
    shots = transforms.KShots(meta)(None, generator)
    assert len(shots) == 10  # k=1 for each of the 10 labels
    with_replacement = transforms.KShots(meta, 20, True)(None, generator)  # positional flag
    assert len(with_replacement) == 200
    fused = transforms.FusedNWaysKShots(meta, 3, 2, False, [0, 1, 2, 3])(None, generator)
    assert {meta.indices_to_labels[d.index] for d in fused} <= {0, 1, 2, 3}
    loaded = transforms.RemapLabels(meta, False)(transforms.LoadData(meta)(shots))
    assert sorted(int(item.load()[1]) for item in loaded) == list(range(10))


@pytest.mark.parametrize("ways", [1, 3, 5])
def test_nways_remap_and_filter_in_task_sets(ways: int) -> None:
    meta = l2l.data.MetaDataset(labelled())
    remapped = l2l.data.Taskset(
        meta,
        [transforms.NWays(meta, ways), transforms.LoadData(meta), transforms.RemapLabels(meta)],
        num_tasks=8,
    )
    for _, labels in remapped:
        assert sorted(set(labels.tolist())) == list(range(ways))
    chosen = [1, 4, 6]
    filtered = l2l.data.Taskset(
        meta, [transforms.FilterLabels(meta, chosen), transforms.LoadData(meta)], num_tasks=3
    )
    for _, labels in filtered:
        assert set(labels.tolist()) == set(chosen)


@pytest.mark.parametrize("replacement", [False, True])
def test_kshots_in_task_sets(replacement: bool) -> None:
    meta = l2l.data.MetaDataset(labelled())
    for shots in (1, 4, 12 if replacement else 9):
        tasks = l2l.data.Taskset(
            meta,
            [transforms.KShots(meta, k=shots, replacement=replacement), transforms.LoadData(meta)],
            num_tasks=3,
        )
        for _, labels in tasks:
            assert labels.bincount().tolist() == [shots] * 10


@pytest.mark.filterwarnings("ignore:This DataLoader will create 4 worker processes:UserWarning")
def test_task_sets_work_with_four_loader_workers() -> None:
    meta = l2l.data.MetaDataset(labelled())
    chain = [transforms.NWays(meta, 2), transforms.KShots(meta, 3), transforms.LoadData(meta)]
    tasks = l2l.data.TaskDataset(meta, chain, num_tasks=8)
    batches = list(DataLoader(tasks, batch_size=2, num_workers=4))
    stacked = torch.cat([inputs for inputs, _ in batches])
    assert torch.equal(stacked, torch.stack([tasks[i][0] for i in range(8)]))


def test_partition_task_and_infinite_iterator() -> None:
    data = torch.randn(20, 3)
    labels = torch.zeros(20, dtype=torch.int64)
    for shots in range(20):
        (support_x, support_y), (query_x, query_y) = l2l.data.partition_task(data, labels, shots)
        assert (len(support_x), len(support_y), len(query_x), len(query_y)) == (
            shots,
            shots,
            20 - shots,
            20 - shots,
        )
    loader = DataLoader(TensorDataset(data), batch_size=1)
    for count, (row,) in enumerate(islice(l2l.data.InfiniteIterator(loader), 70)):
        assert torch.equal(row[0], data[count % 20])


def test_union_and_filtered_views() -> None:
    parts = [l2l.data.MetaDataset(labelled(30, 3, seed=s)) for s in range(3)]
    union = l2l.data.UnionMetaDataset(parts)
    assert len(union) == 90
    assert len(union.labels) == 9
    assert len(union.indices_to_labels) == 90
    assert torch.equal(union[30 + 23][0], parts[1][23][0])
    filtered = l2l.data.FilteredMetaDataset(parts[0], [2, 0])
    assert filtered.labels == [2, 0]
    assert len(filtered) == 20


def test_prototypical_classifier_and_accuracy() -> None:
    assert issubclass(l2l.nn.PrototypicalClassifier, meta_nn.PrototypicalClassifier)
    centres = 3 * torch.randn(5, 16, generator=torch.Generator().manual_seed(1))
    labels = torch.arange(5).repeat_interleave(4)
    embeddings = centres[labels]
    for distance in ("euclidean", "cosine"):
        for normalize in (True, False):
            head = l2l.nn.PrototypicalClassifier(embeddings, labels, distance, normalize)
            score = l2l.utils.accuracy(head(embeddings), labels)
            assert isinstance(score, torch.Tensor)
            assert score.item() == 1.0
    assert l2l.utils.accuracy(torch.eye(3), torch.tensor([0, 2, 2])).item() == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match=r"predictions \(n, classes\) for n targets"):
        l2l.utils.accuracy(torch.zeros(3), torch.zeros(3))


def test_kronecker_layers_take_learn2learns_matrix_input() -> None:
    layer = l2l.nn.KroneckerLinear(2, 3)
    x = torch.randn(2, 3)
    assert torch.equal(layer(x), x)
    assert torch.equal(layer(x.reshape(6)), x.reshape(6))
    with pytest.raises(ValueError, match=r"\(\.\.\., n\*m\) = \(\.\.\., 6\) or"):
        layer(torch.randn(2, 4))
    hidden = torch.zeros(2, 3)
    y, new_hidden = l2l.nn.KroneckerRNN(2, 3)(x, hidden)
    assert y.shape == new_hidden.shape == (2, 3)


def test_detach_module_is_learn2learns() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    l2l.detach_module(model, keep_requires_grad=True)
    assert all(p.requires_grad for p in model.parameters())
    l2l.detach_module(model)
    assert not any(p.requires_grad for p in model.parameters())
    loss = model(torch.ones(1, 4)).pow(2).sum()
    with pytest.raises(RuntimeError):
        torch.autograd.grad(loss, list(model.parameters()))
