"""The episodic-data API: MetaDataset views, task transforms, TaskDataset, split and loaders."""

from __future__ import annotations

import pickle
from collections import Counter
from itertools import islice

import pytest
import torch
from meta_tasks import (
    ConsecutiveLabels,
    FewShotSampler,
    FilteredMetaDataset,
    FilterLabels,
    FusedNWaysKShots,
    InfiniteIterator,
    ItemDescription,
    KShots,
    LoadData,
    MetaDataset,
    NWays,
    RandomClassRotation,
    RemapLabels,
    RotatedClasses,
    Task,
    TaskDataset,
    TaskTransformFn,
    UnionMetaDataset,
    split_by_shots,
)
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, TensorDataset


class Counted(Dataset[tuple[Tensor, int]]):
    """Item i is ``(tensor([i]), labels[i])``; counts reads; optionally offers ``labels``."""

    def __init__(self, labels: list[int], *, offer: bool = False) -> None:
        self._labels = labels
        if offer:
            self.labels = labels
        self.reads = 0

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        self.reads += 1
        return torch.tensor([float(index)]), self._labels[index]


def tensor_data(num_classes: int = 6, per_class: int = 5, seed: int = 0) -> MetaDataset:
    labels = torch.arange(num_classes).repeat(per_class)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    return MetaDataset(TensorDataset(torch.arange(float(len(labels))), labels[order]))


def labels_of(data: MetaDataset, description: list[ItemDescription]) -> list[object]:
    return [data.indices_to_labels[item.index] for item in description]


def generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ------------------------------------------------------------------ MetaDataset


def test_bookkeeping_from_items() -> None:
    data = Counted([3, 1, 3, 2, 1, 3])
    meta = MetaDataset(data)
    assert data.reads == 6
    assert meta.labels == [3, 1, 2]
    assert meta.labels_to_indices == {3: [0, 2, 5], 1: [1, 4], 2: [3]}
    assert meta.indices_to_labels == {0: 3, 1: 1, 2: 3, 3: 2, 4: 1, 5: 3}
    assert len(meta) == 6
    assert meta[4][1] == 1
    assert "labels=3" in repr(meta)


def test_bookkeeping_from_per_item_labels_and_other_meta_datasets_reads_nothing() -> None:
    data = Counted([0, 1, 0, 1], offer=True)
    meta = MetaDataset(data)
    again = MetaDataset(meta)
    assert data.reads == 0
    assert again.labels_to_indices == meta.labels_to_indices == {0: [0, 2], 1: [1, 3]}
    rotated = MetaDataset(RotatedClasses(Counted([0, 1], offer=True), rotations=(0, 90)))
    assert rotated.labels_to_indices == {0: [0], 2: [1], 1: [2], 3: [3]}


def test_labels_are_normalised_hashable_keys() -> None:
    items = [(torch.zeros(1), torch.tensor(2)), (torch.zeros(1), "a"), (torch.zeros(1), 2)]
    meta = MetaDataset(items)
    assert meta.labels_to_indices == {2: [0, 2], "a": [1]}
    np = pytest.importorskip("numpy")
    meta = MetaDataset([(torch.zeros(1), np.int64(4)), (torch.zeros(1), np.str_("b"))])
    assert meta.labels == [4, "b"]
    assert type(meta.labels[0]) is int


def test_precomputed_bookkeeping() -> None:
    data = Counted([0, 1, 0])
    from_labels = MetaDataset(data, labels_to_indices={0: [0, 2], 1: [1]})
    from_indices = MetaDataset(data, indices_to_labels={0: 0, 1: 1, 2: 0})
    both = MetaDataset(data, {0: [2, 0], 1: [1]}, {0: 0, 1: 1, 2: 0})
    assert data.reads == 0
    for meta in (from_labels, from_indices, both):
        assert meta.labels_to_indices == {0: [0, 2], 1: [1]}
        assert meta.indices_to_labels == {0: 0, 1: 1, 2: 0}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"labels_to_indices": {0: [0, 5]}}, r"labels_to_indices\[0\] holds index 5, outside"),
        ({"labels_to_indices": {0: [0, 1], 1: [1, 2]}}, "lists item 1 more than once"),
        ({"labels_to_indices": {0: [0, 1]}}, r"covers 2 of the 3 items; item 2 has no label"),
        ({"indices_to_labels": {0: 0, 1: 1}}, r"every item index 0..2 to a label, got 2"),
        (
            {"labels_to_indices": {0: [0, 1, 2]}, "indices_to_labels": {0: 0, 1: 1, 2: 0}},
            r"disagree on item 1 \(0 != 1\)",
        ),
    ],
)
def test_precomputed_bookkeeping_is_checked(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MetaDataset(Counted([0, 1, 0]), **kwargs)  # type: ignore[arg-type]


def test_meta_dataset_input_errors() -> None:
    with pytest.raises(TypeError, match=r"map-style dataset .* got int"):
        MetaDataset(3)
    with pytest.raises(TypeError, match=r"dataset\[0\] must be a sequence \(input, label"):
        MetaDataset([torch.zeros(2)])
    with pytest.raises(TypeError, match=r"dataset\[0\]\[1\] must be a scalar label, got a tensor"):
        MetaDataset([(torch.zeros(1), torch.zeros(2))])
    with pytest.raises(TypeError, match=r"dataset\[0\]\[1\] must be a hashable label, got list"):
        MetaDataset([(torch.zeros(1), [1])])


def test_union_renumbers_labels_and_items() -> None:
    first = Counted([5, 7, 5])
    second = [(torch.tensor([10.0]), "x"), (torch.tensor([11.0]), "y")]
    union = UnionMetaDataset([first, MetaDataset(second)])
    assert len(union) == 5
    assert union.labels == [0, 1, 2, 3]
    assert union.labels_to_indices == {0: [0, 2], 1: [1], 2: [3], 3: [4]}
    assert [union[i][1] for i in range(5)] == [0, 1, 0, 2, 3]
    assert union[3][0].item() == 10.0
    assert union[-1][1] == 3
    assert len(union.datasets) == 2
    with pytest.raises(ValueError, match="at least one dataset"):
        UnionMetaDataset([])


def test_filtered_view_keeps_labels_in_given_order() -> None:
    data = Counted([3, 1, 3, 2, 1])
    kept = FilteredMetaDataset(data, [1, 3])
    assert kept.to_true_indices == [1, 4, 0, 2]
    assert kept.labels == [1, 3]
    assert kept.labels_to_indices == {1: [0, 1], 3: [2, 3]}
    assert [kept[i][0].item() for i in range(4)] == [1.0, 4.0, 0.0, 2.0]
    with pytest.raises(ValueError, match=r"labels \[9\] are not labels of the dataset"):
        FilteredMetaDataset(data, [1, 9])
    with pytest.raises(ValueError, match="must not repeat"):
        FilteredMetaDataset(data, [1, 1])


# ------------------------------------------------------------------ task transforms


def test_nways_from_scratch_and_from_a_description() -> None:
    data = tensor_data()
    for seed in range(10):
        task = NWays(data, 3)(None, generator(seed))
        assert len(set(labels_of(data, task))) == 3
        assert len(task) == 15
        narrowed = NWays(data, 2)(task, generator(seed))
        assert set(labels_of(data, narrowed)) < set(labels_of(data, task))
        assert [item.index for item in narrowed] == [
            item.index for item in task if item in narrowed
        ]
    drawn = Counter(
        label
        for s in range(200)
        for label in set(labels_of(data, NWays(data, 2)(None, generator(s))))
    )
    assert set(drawn) == set(range(6))
    with pytest.raises(ValueError, match=r"NWays\(n=7\) needs at least 7 labels"):
        NWays(data, 7)(None, generator())


def test_kshots_with_and_without_replacement() -> None:
    data = tensor_data(per_class=3)
    task = KShots(data, 2)(None, generator(1))
    assert Counter(labels_of(data, task)) == dict.fromkeys(range(6), 2)
    assert len({item.index for item in task}) == 12
    with pytest.raises(ValueError, match=r"KShots\(k=4\) without replacement needs 4 items"):
        KShots(data, 4)(None, generator())
    repeated = KShots(data, 5, replacement=True)(None, generator(2))
    assert Counter(labels_of(data, repeated)) == dict.fromkeys(range(6), 5)
    assert len({id(item) for item in repeated}) == 30  # independent copies
    assert len({item.index for item in repeated}) < 30


def test_load_remap_and_consecutive_labels() -> None:
    data = MetaDataset(TensorDataset(torch.arange(6.0), torch.tensor([9, 4, 9, 7, 4, 7])))
    task = RemapLabels(data, shuffle=False)(LoadData(data)(None))
    assert [int(item.load()[1]) for item in task] == [0, 1, 0, 2, 1, 2]
    assert [item.load()[0].item() for item in task] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    orders = {
        tuple(int(item.load()[1]) for item in RemapLabels(data)(LoadData(data)(None), generator(s)))
        for s in range(40)
    }
    assert len(orders) == 6  # every numbering of the 3 labels
    ordered = ConsecutiveLabels(data)(None)
    assert labels_of(data, ordered) == [4, 4, 7, 7, 9, 9]
    mixed = MetaDataset([(torch.zeros(1), "b"), (torch.zeros(1), 1), (torch.zeros(1), "b")])
    assert labels_of(mixed, ConsecutiveLabels(mixed)(None)) == ["b", "b", 1]


def test_filter_labels() -> None:
    data = tensor_data()
    kept = FilterLabels(data, [4, 1])(None)
    assert set(labels_of(data, kept)) == {1, 4}
    assert [item.index for item in kept] == sorted(item.index for item in kept)
    assert len(FilterLabels(data, [4])(kept)) == 5
    with pytest.raises(ValueError, match=r"FilterLabels: \[42\] are not labels"):
        FilterLabels(data, [1, 42])


def test_fused_matches_the_unfused_chain_semantics() -> None:
    data = tensor_data(num_classes=8, per_class=4)
    fused = FusedNWaysKShots(data, 3, 2, filter_labels=[0, 2, 4, 6])
    seen: set[object] = set()
    for seed in range(50):
        task = fused(None, generator(seed))
        labels = labels_of(data, task)
        assert len(task) == 6
        assert labels[0] == labels[1]
        assert labels[2] == labels[3]
        assert labels[4] == labels[5]
        assert len(set(labels)) == 3
        assert len({item.index for item in task}) == 6
        seen.update(labels)
    assert seen == {0, 2, 4, 6}
    chained = fused(NWays(data, 8)(None, generator()), generator(3))
    assert Counter(labels_of(data, chained)).most_common(1)[0][1] == 2
    assert set(labels_of(data, chained)) <= {0, 2, 4, 6}
    with pytest.raises(ValueError, match=r"needs at least 5 labels to draw from, got 4"):
        FusedNWaysKShots(data, 5, 1, filter_labels=[0, 2, 4, 6])
    with pytest.raises(ValueError, match=r"needs 5 items of every label, but label \d has 4"):
        FusedNWaysKShots(data, 2, 5)
    with_replacement = FusedNWaysKShots(data, 2, 6, replacement=True)(None, generator())
    assert len(with_replacement) == 12


def test_random_class_rotation_turns_each_label_by_one_angle() -> None:
    image = torch.arange(4.0).view(1, 2, 2)
    data = MetaDataset([(image, label) for label in (0, 0, 1, 1, 2, 2)])
    turns = set()
    for seed in range(20):
        task = RandomClassRotation(data, [0.0, 90.0, 180.0, 270.0])(
            LoadData(data)(None), generator(seed)
        )
        images = [item.load()[0] for item in task]
        for first, second in zip(images[::2], images[1::2], strict=True):
            assert torch.equal(first, second)
            turns.add(
                next(k for k in range(4) if torch.equal(torch.rot90(image, k, (-2, -1)), first))
            )
    assert turns == {0, 1, 2, 3}
    with pytest.raises(ValueError, match=r"multiples of 90 degrees, got \[0, 45\]"):
        RandomClassRotation(data, [0, 45])


def test_label_transforms_need_a_meta_dataset() -> None:
    with pytest.raises(TypeError, match=r"NWays expects a MetaDataset .* got list"):
        NWays([(torch.zeros(1), 0)], 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="n must be an int, got float"):
        NWays(tensor_data(), 2.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="LoadData expects a dataset to index, got int"):
        LoadData(3)


# ------------------------------------------------------------------ TaskDataset


def chain(data: MetaDataset, ways: int = 3, shots: int = 2) -> list[TaskTransformFn]:
    return [NWays(data, ways), KShots(data, shots), LoadData(data), RemapLabels(data)]


def assert_same_tasks(first: list[object], second: list[object]) -> None:
    assert len(first) == len(second)
    for a, b in zip(first, second, strict=True):
        assert isinstance(a, list)
        assert isinstance(b, list)
        assert torch.equal(a[0], b[0])
        assert torch.equal(a[1], b[1])


def test_fixed_tasks_are_cached_replayed_and_seeded() -> None:
    data = tensor_data()
    tasks = TaskDataset(data, chain(data), num_tasks=10, seed=3)
    assert len(tasks) == 10
    first = list(tasks)
    assert len(first) == 10
    assert len(tasks.sampled_descriptions) == 10
    assert_same_tasks(first, list(tasks))
    assert_same_tasks(first, [tasks[i] for i in range(10)])
    assert_same_tasks([first[-1]], [tasks[-1]])
    inputs, labels = first[0]
    assert inputs.shape == (6,)
    assert sorted(labels.tolist()) == [0, 0, 1, 1, 2, 2]
    # the same seed gives the same tasks, in any order of access; another seed others
    again = TaskDataset(data, chain(data), num_tasks=10, seed=3)
    assert_same_tasks(first[::-1], [again[i] for i in reversed(range(10))])
    other = TaskDataset(data, chain(data), num_tasks=10, seed=4)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, other, strict=True))
    assert any(torch.equal(tasks.sample()[0], task[0]) for task in first)
    with pytest.raises(IndexError, match="task index 10 is out of range for 10 tasks"):
        tasks[10]


def test_endless_stream_draws_new_tasks() -> None:
    data = tensor_data()
    stream = TaskDataset(data, chain(data), seed=0)
    assert len(stream) == 1
    drawn = [task[0] for task in islice(stream, 20)] + [stream[0][0], stream.sample()[0]]
    assert len({tuple(x.tolist()) for x in drawn}) == len(drawn)
    replay = TaskDataset(data, chain(data), seed=0)
    assert torch.equal(next(iter(replay))[0], drawn[0])
    with pytest.raises(IndexError, match="endless"):
        stream.describe(0)


def test_task_dataset_defaults_and_checks() -> None:
    data = Counted([0, 1, 0, 1])
    whole = TaskDataset(data, [LoadData(data)], num_tasks=1, collate=list)
    assert isinstance(whole.dataset, MetaDataset)
    assert [x.item() for x, _ in whole[0]] == [0.0, 1.0, 2.0, 3.0]
    no_transforms = TaskDataset(data, num_tasks=2, seed=0)
    assert [item.index for item in no_transforms.describe(1)] == [0, 1, 2, 3]
    assert "tasks=2" in repr(no_transforms)
    with pytest.raises(ValueError, match=r"num_tasks must be -1 \(an endless stream\) or positive"):
        TaskDataset(data, num_tasks=0)
    with pytest.raises(ValueError, match="num_tasks must be at least -1, got -2"):
        TaskDataset(data, num_tasks=-2)
    with pytest.raises(TypeError, match=r"transforms\[0\] must be a callable"):
        TaskDataset(data, [3])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="collate must be callable or None, got int"):
        TaskDataset(data, collate=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="seed must be an int, got str"):
        TaskDataset(data, seed="0")  # type: ignore[arg-type]


def test_task_dataset_pickles_with_its_cache() -> None:
    images = MetaDataset([(torch.randn(1, 3, 3), label % 4) for label in range(16)])
    transforms: list[TaskTransformFn] = [*chain(images), RandomClassRotation(images, [0, 90, 180])]
    tasks = TaskDataset(images, transforms, num_tasks=5, seed=1)
    before = [tasks[i] for i in range(5)]
    restored = pickle.loads(pickle.dumps(tasks))
    assert len(restored.sampled_descriptions) == 5
    assert_same_tasks(before, [restored[i] for i in range(5)])
    # without the cache the tasks are drawn again from the seed, and come out the same
    fresh = pickle.loads(pickle.dumps(TaskDataset(images, transforms, num_tasks=5, seed=1)))
    assert not fresh.sampled_descriptions
    assert_same_tasks(before, [fresh[i] for i in range(5)])


# the machine running the tests may have fewer cores than the 4 workers asked for
MANY_WORKERS = "ignore:This DataLoader will create 4 worker processes:UserWarning"


@pytest.mark.filterwarnings(MANY_WORKERS)
def test_data_loader_with_four_workers_sees_the_same_fixed_tasks() -> None:
    data = tensor_data()
    tasks = TaskDataset(data, chain(data), num_tasks=12, seed=5)
    loader = DataLoader(tasks, batch_size=3, num_workers=4)
    batches = list(loader)
    assert len(batches) == 4
    expected = [tasks[i] for i in range(12)]
    for number, (inputs, labels) in enumerate(batches):
        for row in range(3):
            task = expected[3 * number + row]
            assert torch.equal(inputs[row], task[0])
            assert torch.equal(labels[row], task[1])


@pytest.mark.filterwarnings(MANY_WORKERS)
def test_endless_stream_in_workers_draws_different_tasks() -> None:
    data = tensor_data(num_classes=20, per_class=5)
    stream = TaskDataset(data, chain(data, ways=5, shots=1), seed=5)
    loader = DataLoader(stream, batch_size=None, sampler=[0] * 8, num_workers=4)
    inputs = [tuple(task[0].tolist()) for task in loader]
    assert len(set(inputs)) == 8


# ------------------------------------------------------------------ split and loaders


def test_split_by_shots() -> None:
    inputs = torch.arange(9.0)
    labels = torch.tensor([2, 0, 1, 2, 0, 1, 2, 0, 1])
    task = split_by_shots(inputs, labels, 1, ways=3)
    assert isinstance(task, Task)
    assert task.support_x.tolist() == [1.0, 2.0, 0.0]
    assert task.support_y.tolist() == [0, 1, 2]
    assert task.query_x.tolist() == [4.0, 7.0, 5.0, 8.0, 3.0, 6.0]
    assert task.query_y.tolist() == [0, 0, 1, 1, 2, 2]
    for shots in range(4):
        task = split_by_shots(inputs, labels, shots)
        assert (task.num_support, task.num_query) == (3 * shots, 9 - 3 * shots)
    with pytest.raises(ValueError, match="same number of items for every label"):
        split_by_shots(inputs[:8], labels[:8], 1)
    with pytest.raises(ValueError, match="expected 2 labels, got 3"):
        split_by_shots(inputs, labels, 1, ways=2)
    with pytest.raises(ValueError, match="shots=4 but every label has only 3 items"):
        split_by_shots(inputs, labels, 4)
    with pytest.raises(ValueError, match=r"inputs \(n, \.\.\.\) and labels \(n,\)"):
        split_by_shots(inputs[:3], labels, 1)
    with pytest.raises(TypeError, match=r"labels must be a torch\.Tensor, got list"):
        split_by_shots(inputs, [0], 1)  # type: ignore[arg-type]


def test_infinite_iterator_restarts_the_loader() -> None:
    loader = DataLoader(TensorDataset(torch.arange(5.0)), batch_size=2)
    values = [batch[0].tolist() for batch in islice(InfiniteIterator(loader), 7)]
    assert values == [[0.0, 1.0], [2.0, 3.0], [4.0], [0.0, 1.0], [2.0, 3.0], [4.0], [0.0, 1.0]]
    with pytest.raises(ValueError, match="yields no items"):
        next(InfiniteIterator([]))


def test_few_shot_sampler_is_a_shell_over_the_meta_dataset() -> None:
    data = Counted([c for c in range(4) for _ in range(3)], offer=True)
    sampler = FewShotSampler(data, 2, 1, 1, seed=0)
    assert isinstance(sampler.index, MetaDataset)
    assert sampler.index.labels_to_indices[2] == [6, 7, 8]
    # a MetaDataset is accepted as the dataset (its bookkeeping gives the labels)
    again = FewShotSampler(MetaDataset(data), 2, 1, 1, seed=0)
    assert torch.equal(again.sample_batch(3).support_x, sampler.sample_batch(3).support_x)


def test_few_shot_sampler_episode_is_one_fused_draw_on_its_generator() -> None:
    # not a second sampler: the episode is exactly FusedNWaysKShots' draw, split per class
    data = Counted([index // 4 for index in range(20)], offer=True)
    sampler = FewShotSampler(data, 3, 1, 2, seed=7)
    task, classes = sampler.sample_episode()
    fused = FusedNWaysKShots(sampler.index, 3, 3)
    drawn = [item.index for item in fused(None, generator(7))]
    per_class = [drawn[3 * way : 3 * way + 3] for way in range(3)]
    assert task.support_x.view(-1).tolist() == [float(pool[0]) for pool in per_class]
    assert task.query_x.view(-1).tolist() == [float(i) for pool in per_class for i in pool[1:]]
    assert classes == [pool[0] // 4 for pool in per_class]
