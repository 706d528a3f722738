from __future__ import annotations

from collections import Counter

import pytest
import torch
from meta_tasks import (
    FewShotSampler,
    RotatedClasses,
    Task,
    TaskBatch,
    TaskSampler,
    split_classes,
    stack_tasks,
)
from torch import Tensor


class ToyDataset:
    """Item i is a (2, 3, 3) tensor filled with i, labelled ``labels[i]``; counts reads."""

    def __init__(self, labels: list[int], *, offer_labels: bool = True) -> None:
        self._labels = labels
        self.offer_labels = offer_labels
        self.reads: Counter[int] = Counter()

    def __getattr__(self, name: str) -> list[int]:
        if name == "labels" and self.__dict__["offer_labels"]:
            return self.__dict__["_labels"]
        raise AttributeError(name)

    def __len__(self) -> int:
        return len(self._labels)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        self.reads[index] += 1
        return torch.full((2, 3, 3), float(index)), self._labels[index]


def toy(num_classes: int = 10, per_class: int = 6, **kwargs: bool) -> ToyDataset:
    labels = [c for c in range(num_classes) for _ in range(per_class)]
    # interleave so that the class of an index is not trivially index // per_class
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0)).tolist()
    return ToyDataset([labels[i] for i in order], **kwargs)


def item_indices(x: Tensor) -> list[int]:
    return [int(v) for v in x[:, 0, 0, 0].tolist()]


def test_episode_invariants() -> None:
    data = toy()
    sampler = FewShotSampler(data, ways=5, shots=2, query_shots=3, seed=0)
    assert isinstance(sampler, TaskSampler)
    for _ in range(20):
        task, classes = sampler.sample_episode()
        assert task.support_x.shape == (10, 2, 3, 3)
        assert task.query_x.shape == (15, 2, 3, 3)
        assert task.support_y.dtype == torch.int64
        assert task.query_y.dtype == torch.int64
        assert task.support_y.tolist() == [k for k in range(5) for _ in range(2)]
        assert task.query_y.tolist() == [k for k in range(5) for _ in range(3)]
        assert len(set(classes)) == 5
        support, query = item_indices(task.support_x), item_indices(task.query_x)
        assert len(set(support + query)) == 25, "support and query must be disjoint"
        for index, label in zip(support, task.support_y.tolist(), strict=True):
            assert data._labels[index] == classes[label]
        for index, label in zip(query, task.query_y.tolist(), strict=True):
            assert data._labels[index] == classes[label]


def test_label_order_is_random_per_episode() -> None:
    sampler = FewShotSampler(toy(num_classes=5), ways=5, shots=1, query_shots=1, seed=1)
    orders = {tuple(sampler.sample_episode()[1]) for _ in range(30)}
    assert len(orders) > 10


def test_every_class_and_example_gets_drawn() -> None:
    data = toy(num_classes=6, per_class=4)
    sampler = FewShotSampler(data, ways=2, shots=1, query_shots=1, seed=2)
    seen_classes: set[int] = set()
    seen_items: set[int] = set()
    for _ in range(200):
        task, classes = sampler.sample_episode()
        seen_classes.update(classes)
        seen_items.update(item_indices(task.support_x) + item_indices(task.query_x))
    assert seen_classes == set(range(6))
    assert seen_items == set(range(24))


def test_deterministic_for_a_seed() -> None:
    first = FewShotSampler(toy(), 5, 1, 2, seed=3).sample_batch(4)
    second = FewShotSampler(toy(), 5, 1, 2, seed=3).sample_batch(4)
    other = FewShotSampler(toy(), 5, 1, 2, seed=4).sample_batch(4)
    assert isinstance(first, TaskBatch)
    assert first.support_x.shape == (4, 5, 2, 3, 3)
    torch.testing.assert_close(first.support_x, second.support_x, rtol=0, atol=0)
    torch.testing.assert_close(first.query_x, second.query_x, rtol=0, atol=0)
    assert not torch.equal(first.support_x, other.support_x)


def test_explicit_generator_and_restore() -> None:
    generator = torch.Generator().manual_seed(9)
    sampler = FewShotSampler(toy(), 3, 1, 1, generator=generator)
    assert sampler.generator is generator
    state = generator.get_state()
    expected = sampler.sample(2)
    generator.set_state(state)
    again = sampler.sample(2)
    for a, b in zip(expected, again, strict=True):
        assert isinstance(a, Task)
        torch.testing.assert_close(a.query_x, b.query_x, rtol=0, atol=0)


def test_labels_attribute_avoids_reading_items() -> None:
    data = toy()
    sampler = FewShotSampler(data, 5, 1, 1, seed=0)
    assert sum(data.reads.values()) == 0
    sampler.sample(3)
    assert sum(data.reads.values()) == 3 * 5 * 2


def test_labels_read_by_indexing_once_without_attribute() -> None:
    data = toy(offer_labels=False)
    sampler = FewShotSampler(data, 5, 1, 1, seed=0)
    assert data.reads == Counter(range(60))
    reference = FewShotSampler(toy(), 5, 1, 1, seed=0)
    torch.testing.assert_close(
        sampler.sample_batch(2).support_x, reference.sample_batch(2).support_x
    )


def test_plain_list_dataset_and_tensor_labels() -> None:
    data = [(torch.tensor([float(i)]), torch.tensor(i % 3)) for i in range(9)]
    task = FewShotSampler(data, 3, 2, 1, seed=0).sample(1)[0]
    assert task.support_x.shape == (6, 1)


def test_classes_restricts_sampling() -> None:
    data = toy()
    sampler = FewShotSampler(data, 3, 1, 1, classes=[7, 2, 5, 9], seed=0)
    assert sampler.classes == [2, 5, 7, 9]
    drawn = {c for _ in range(50) for c in sampler.sample_episode()[1]}
    assert drawn == {2, 5, 7, 9}
    assert "classes=4" in repr(sampler)


def test_zero_query_shots() -> None:
    task = FewShotSampler(toy(), 2, 3, 0, seed=0).sample(1)[0]
    assert task.query_x.shape == (0, 2, 3, 3)
    assert task.query_y.shape == (0,)


def test_too_few_examples_names_class_and_count() -> None:
    labels = [0] * 5 + [1] * 3 + [2] * 5
    with pytest.raises(
        ValueError, match=r"shots \+ query_shots = 2 \+ 2 = 4 examples.*\(class 1 has 3\)"
    ):
        FewShotSampler(ToyDataset(labels), 2, 2, 2)


def test_too_few_classes() -> None:
    with pytest.raises(ValueError, match=r"5-way episodes need at least 5 classes, but only 3"):
        FewShotSampler(toy(num_classes=3), 5, 1, 1)
    with pytest.raises(ValueError, match=r"3-way episodes need at least 3 classes, but only 2"):
        FewShotSampler(toy(), 3, 1, 1, classes=[0, 1])


def test_classes_validation() -> None:
    with pytest.raises(ValueError, match=r"1 label\(s\) with no example in the dataset: \[42\]"):
        FewShotSampler(toy(), 2, 1, 1, classes=[0, 1, 42])
    with pytest.raises(ValueError, match=r"must not repeat labels, got repeats of \[1\]"):
        FewShotSampler(toy(), 2, 1, 1, classes=[0, 1, 1])
    with pytest.raises(TypeError, match="classes must be a sequence of int labels, got set"):
        FewShotSampler(toy(), 2, 1, 1, classes={0, 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"classes\[1\] must be an integer label, got float"):
        FewShotSampler(toy(), 2, 1, 1, classes=[0, 1.0])  # type: ignore[list-item]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "message"),
    [
        ((0, 1, 1), {}, ValueError, "ways must be at least 1, got 0"),
        ((2, 0, 1), {}, ValueError, "shots must be at least 1, got 0"),
        ((2, 1, -1), {}, ValueError, "query_shots must be at least 0, got -1"),
        ((2.0, 1, 1), {}, TypeError, "ways must be an int, got float"),
        ((2, 1, 1), {"seed": 0, "generator": torch.Generator()}, ValueError, "not both"),
        ((2, 1, 1), {"generator": 0}, TypeError, "generator must be a torch.Generator, got int"),
        ((2, 1, 1), {"seed": 1.5}, TypeError, "seed must be an int, got float"),
    ],
)
def test_argument_validation(
    args: tuple[object, ...], kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        FewShotSampler(toy(), *args, **kwargs)  # type: ignore[arg-type]


def test_bad_labels_and_inputs() -> None:
    class WrongLabels(ToyDataset):
        labels = (0, 1)

    with pytest.raises(ValueError, match=r"dataset.labels has 2 entries but the dataset has 4"):
        FewShotSampler(WrongLabels([0, 0, 1, 1]), 2, 1, 1)
    float_labels = [(torch.zeros(1), 0.5)]
    with pytest.raises(TypeError, match=r"dataset\[0\]\[1\] must be an integer label, got float"):
        FewShotSampler(float_labels, 1, 1, 0)  # type: ignore[arg-type]

    ragged = [(torch.zeros(1 + i % 2), i % 2) for i in range(4)]
    sampler = FewShotSampler(ragged, 2, 1, 1, seed=0)
    with pytest.raises(ValueError, match=r"same shape to form an episode: dataset\[\d\]\[0\] has"):
        sampler.sample(1)
    with pytest.raises(ValueError, match="meta_batch_size must be at least 1, got 0"):
        sampler.sample_batch(0)


def test_split_classes_fractions_reproducible_disjoint() -> None:
    parts = split_classes(100, fractions=(0.7, 0.1, 0.2), seed=0)
    assert [len(p) for p in parts] == [70, 10, 20]
    assert sorted(parts[0] + parts[1] + parts[2]) == list(range(100))
    assert parts == split_classes(100, fractions=(0.7, 0.1, 0.2), seed=0)
    assert parts != split_classes(100, fractions=(0.7, 0.1, 0.2), seed=1)
    assert all(p == sorted(p) for p in parts)


def test_split_classes_counts_and_labels() -> None:
    labels = [10, 20, 30, 40, 50, 60]
    train, test = split_classes(labels, counts=(3, 2), seed=5)
    assert len(train) == 3
    assert len(test) == 2
    assert not set(train) & set(test)
    assert set(train) | set(test) <= set(labels)


def test_split_classes_partial_fractions() -> None:
    (part,) = split_classes(10, fractions=(0.5,))
    assert len(part) == 5


@pytest.mark.parametrize(
    ("classes", "kwargs", "error", "message"),
    [
        (10, {}, ValueError, "exactly one of fractions or counts"),
        (10, {"fractions": (0.5,), "counts": (2,)}, ValueError, "exactly one of"),
        (10, {"fractions": (0.8, 0.4)}, ValueError, r"sum to at most 1, got \[0.8, 0.4\]"),
        (10, {"fractions": (0.5, 0.0)}, ValueError, "positive numbers, got"),
        (10, {"counts": (8, 4)}, ValueError, r"counts \[8, 4\] ask for 12 classes but only 10"),
        (10, {"counts": (0, 4)}, ValueError, r"counts\[0\] must be at least 1, got 0"),
        (3, {"fractions": (0.1, 0.9)}, ValueError, "part 0 of the split would be empty"),
        ([1, 1, 2], {"counts": (1,)}, ValueError, "must not repeat labels"),
        ("abc", {"counts": (1,)}, TypeError, "int or a sequence of int labels, got str"),
        (0, {"counts": (1,)}, ValueError, "classes must be at least 1, got 0"),
        (5, {"counts": (1,), "seed": None}, TypeError, "seed must be an int, got NoneType"),
    ],
)
def test_split_classes_validation(
    classes: object, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        split_classes(classes, **kwargs)  # type: ignore[arg-type]


def test_rotated_classes(device: torch.device) -> None:
    base = [(torch.arange(9.0, device=device).view(1, 3, 3) + 10 * i, i // 2) for i in range(6)]
    rotated = RotatedClasses(base)
    assert len(rotated) == 24
    assert rotated.num_classes == 12
    assert rotated.base_num_classes == 3
    for index in range(24):
        image, label = rotated[index]
        rotation, base_index = divmod(index, 6)
        expected = torch.rot90(base[base_index][0], rotation, dims=(-2, -1))
        torch.testing.assert_close(image, expected, rtol=0, atol=0)
        assert label == rotated.labels[index] == (base_index // 2) * 4 + rotation
        assert rotated.split(label) == (base_index // 2, 90 * rotation)
    torch.testing.assert_close(rotated[-1][0], rotated[23][0])
    # 90 degrees counter-clockwise: the top row becomes the left column, read upwards
    top_row = base[0][0][0, 0]
    torch.testing.assert_close(rotated[6][0][0, :, 0], top_row.flip(0))


def test_rotated_classes_feed_few_shot_sampler() -> None:
    data = toy(num_classes=3, per_class=4)
    rotated = RotatedClasses(data, rotations=(0, 180))
    sampler = FewShotSampler(rotated, ways=6, shots=2, query_shots=2, seed=0)
    assert sum(data.reads.values()) == 0
    task = sampler.sample(1)[0]
    assert task.support_x.shape == (12, 2, 3, 3)


def test_rotated_classes_validation() -> None:
    base = [(torch.zeros(1, 2, 2), 0)]
    with pytest.raises(ValueError, match="multiples of 90 degrees, got 45"):
        RotatedClasses(base, rotations=(0, 45))
    with pytest.raises(ValueError, match=r"distinct angles \(mod 360\), got \[0, 360\]"):
        RotatedClasses(base, rotations=(0, 360))
    with pytest.raises(ValueError, match="at least one angle"):
        RotatedClasses(base, rotations=())
    with pytest.raises(TypeError, match="rotations must be ints"):
        RotatedClasses(base, rotations=(0, 90.0))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"base labels in 0..0, got \[-1\]"):
        RotatedClasses([(torch.zeros(1, 2, 2), 0), (torch.zeros(1, 2, 2), -1)])
    rotated = RotatedClasses(base)
    with pytest.raises(IndexError, match="index 4 is out of range for a dataset of 4 items"):
        rotated[4]
    with pytest.raises(ValueError, match=r"label must be in 0..3, got 4"):
        rotated.split(4)


def test_sample_batch_equals_stacked_samples() -> None:
    batch = FewShotSampler(toy(), 4, 2, 3, seed=6).sample_batch(5)
    stacked = stack_tasks(FewShotSampler(toy(), 4, 2, 3, seed=6).sample(5))
    for name in ("support_x", "support_y", "query_x", "query_y"):
        torch.testing.assert_close(getattr(batch, name), getattr(stacked, name), rtol=0, atol=0)
    assert batch.query_y.shape == (5, 12)
    assert batch.support_y[3].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    no_query = FewShotSampler(toy(), 2, 1, 0, seed=0).sample_batch(3)
    assert no_query.query_x.shape == (3, 0, 2, 3, 3)


class TensorLabels:
    def __init__(self, labels: Tensor) -> None:
        self.labels = labels

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return torch.tensor([float(index)]), int(self.labels[index])


def test_tensor_labels_attribute() -> None:
    labels = torch.arange(12) % 3
    task, classes = FewShotSampler(TensorLabels(labels), 3, 2, 2, seed=0).sample_episode()
    for index, label in zip(
        task.support_x[:, 0].long().tolist(), task.support_y.tolist(), strict=True
    ):
        assert int(labels[index]) == classes[label]
    with pytest.raises(
        TypeError, match=r"dataset.labels must be a 1-D integer tensor, got shape \(12,\)"
    ):
        FewShotSampler(TensorLabels(labels.float()), 3, 2, 2)


class IndexLike:
    """An integer scalar that is not an int (like numpy.int64)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def test_integer_like_labels_and_classes() -> None:
    data = [(torch.tensor([float(i)]), IndexLike(i % 3)) for i in range(9)]
    sampler = FewShotSampler(data, 2, 1, 1, classes=[IndexLike(0), IndexLike(2)], seed=0)  # type: ignore[list-item]
    assert sampler.classes == [0, 2]
