"""N-way K-shot episodes over any labeled map-style dataset, class splits and rotations."""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Sequence
from typing import Any, Protocol, SupportsIndex, runtime_checkable

import torch
from torch import Tensor

from ._metadataset import MetaDataset
from ._task import Task, TaskBatch, check_int, resolve_generator
from ._transforms import FusedNWaysKShots


@runtime_checkable
class LabeledDataset(Protocol):
    """A map-style dataset whose items are ``(input_tensor, integer_label)`` pairs.

    A dataset may also offer a ``labels`` attribute (a sequence of ints or a 1-D integer
    tensor, one label per item); [`FewShotSampler`][meta_tasks.FewShotSampler] then reads labels
    from it instead of loading every item once.
    """

    def __len__(self) -> int:
        """Return the number of items."""
        ...

    def __getitem__(self, index: int) -> tuple[Tensor, Any]:
        """Return item ``index`` as ``(input, label)``."""
        ...


def _as_label(value: object, where: str) -> int:
    if isinstance(value, Tensor):
        if value.numel() != 1 or value.is_floating_point() or value.is_complex():
            raise TypeError(
                f"{where} must be an integer label, got a tensor of shape {tuple(value.shape)} "
                f"and dtype {value.dtype}"
            )
        return int(value.item())
    if isinstance(value, bool):
        raise TypeError(f"{where} must be an integer label, got bool")
    if not isinstance(value, SupportsIndex):  # int, or an integer scalar such as numpy.int64
        raise TypeError(f"{where} must be an integer label, got {type(value).__name__}")
    return operator.index(value)


def dataset_labels(dataset: LabeledDataset) -> list[int]:
    """Return one integer label per item, from ``dataset.labels`` when offered.

    Args:
        dataset: A labeled map-style dataset.

    Returns:
        ``labels[i]`` is the label of ``dataset[i]``.

    Raises:
        ValueError: If ``dataset.labels`` does not have one entry per item.
        TypeError: If a label is not an integer.
    """
    size = len(dataset)
    if isinstance(dataset, MetaDataset):  # its ``labels`` are the distinct labels
        where = "dataset.indices_to_labels"
        return [_as_label(dataset.indices_to_labels[i], f"{where}[{i}]") for i in range(size)]
    offered = getattr(dataset, "labels", None)
    if offered is None:
        return [_as_label(dataset[index][1], f"dataset[{index}][1]") for index in range(size)]
    if isinstance(offered, Tensor):
        if offered.ndim != 1 or offered.is_floating_point():
            raise TypeError(
                f"dataset.labels must be a 1-D integer tensor, got shape {tuple(offered.shape)} "
                f"and dtype {offered.dtype}"
            )
        labels = [int(v) for v in offered.tolist()]
    else:
        labels = [_as_label(v, f"dataset.labels[{i}]") for i, v in enumerate(offered)]
    if len(labels) != size:
        raise ValueError(
            f"dataset.labels has {len(labels)} entries but the dataset has {size} items; "
            f"expected one label per item"
        )
    return labels


class FewShotSampler:
    """Sample N-way K-shot classification episodes from any labeled map-style dataset.

    Each episode picks ``ways`` distinct classes, and for each class ``shots`` support and
    ``query_shots`` query examples, all distinct (support and query are disjoint). Episode
    labels are remapped to ``0 .. ways - 1`` in a random order per episode: the k-th class
    drawn gets label k. Support examples are grouped by label (``support_y`` is
    ``[0]*shots + [1]*shots + ...``), and so are query examples.

    A shell over the episodic-data API: the class -> indices table is a
    [`MetaDataset`][meta_tasks.MetaDataset] (``index``) built once, at construction, from
    ``dataset.labels`` when the dataset offers it (no decoding) and otherwise by reading each
    item's label once; an episode is one [`FusedNWaysKShots`][meta_tasks.FusedNWaysKShots]
    draw of ``ways`` classes and ``shots + query_shots`` examples of each on ``generator`` (one
    ``torch.rand`` call), split into support and query. Sampling costs
    O(ways * (shots + query_shots)) plus loading the chosen items.

    Args:
        dataset: Map-style dataset of ``(input_tensor, integer_label)``; all inputs must have
            the same shape.
        ways: Number of classes per episode (N).
        shots: Support examples per class (K).
        query_shots: Query examples per class.
        classes: Labels (of ``dataset``) to sample from, e.g. one part of
            [`split_classes`][meta_tasks.split_classes]; ``None`` means every label present in the
            dataset.
        seed: Seed of a new CPU generator (when ``generator`` is ``None``). With neither, the
            seed is drawn from torch's global RNG.
        generator: A CPU `torch.Generator` to draw from.

    Attributes:
        generator: The generator in use (checkpoint it with ``get_state``/``set_state``).
        classes: The dataset labels episodes are drawn from, sorted.
        index: The [`MetaDataset`][meta_tasks.MetaDataset] over ``dataset``.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If a count is below 1, fewer than ``ways`` classes are available, a class
            has fewer than ``shots + query_shots`` examples, ``classes`` names a label absent
            from the dataset or repeats one, or both ``seed`` and ``generator`` are given.

    Examples:
        >>> import torch
        >>> data = [(torch.full((2,), float(i)), i % 4) for i in range(20)]
        >>> sampler = FewShotSampler(data, ways=3, shots=1, query_shots=2, seed=0)
        >>> task = sampler.sample(1)[0]
        >>> tuple(task.support_x.shape), task.support_y.tolist(), task.query_y.tolist()
        ((3, 2), [0, 1, 2], [0, 0, 1, 1, 2, 2])
    """

    def __init__(
        self,
        dataset: LabeledDataset,
        ways: int,
        shots: int,
        query_shots: int,
        *,
        classes: Sequence[int] | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        self.ways = check_int("ways", ways)
        self.shots = check_int("shots", shots)
        self.query_shots = check_int("query_shots", query_shots, minimum=0)
        self.generator = resolve_generator("FewShotSampler", generator, seed, cpu_only=True)
        self.dataset = dataset

        self._labels = dataset_labels(dataset)
        by_class: dict[int, list[int]] = {}
        for index, label in enumerate(self._labels):
            by_class.setdefault(label, []).append(index)
        if classes is None:
            chosen = sorted(by_class)
        else:
            if isinstance(classes, str | bytes) or not isinstance(classes, Sequence | range):
                raise TypeError(
                    f"classes must be a sequence of int labels, got {type(classes).__name__}"
                )
            chosen = [_as_label(value, f"classes[{i}]") for i, value in enumerate(classes)]
            if len(set(chosen)) != len(chosen):
                repeated = sorted({c for c in chosen if chosen.count(c) > 1})
                raise ValueError(f"classes must not repeat labels, got repeats of {repeated}")
            missing = sorted(set(chosen) - set(by_class))
            if missing:
                raise ValueError(
                    f"classes contains {len(missing)} label(s) with no example in the dataset: "
                    f"{missing[:10]}{' ...' if len(missing) > 10 else ''}; the dataset has "
                    f"{len(by_class)} labels"
                )
            chosen = sorted(chosen)
        if len(chosen) < self.ways:
            raise ValueError(
                f"{self.ways}-way episodes need at least {self.ways} classes, but only "
                f"{len(chosen)} are available"
            )
        needed = self.shots + self.query_shots
        short = [(c, len(by_class[c])) for c in chosen if len(by_class[c]) < needed]
        if short:
            shown = ", ".join(f"class {c} has {n}" for c, n in short[:5])
            raise ValueError(
                f"every class needs at least shots + query_shots = {self.shots} + "
                f"{self.query_shots} = {needed} examples, but {len(short)} class(es) have fewer "
                f"({shown}{', ...' if len(short) > 5 else ''})"
            )
        self.classes: list[int] = chosen
        self.index = MetaDataset(dataset, labels_to_indices=dict(by_class))
        self._draw = FusedNWaysKShots(self.index, self.ways, needed, filter_labels=chosen)

    def __repr__(self) -> str:
        return (
            f"FewShotSampler(ways={self.ways}, shots={self.shots}, "
            f"query_shots={self.query_shots}, classes={len(self.classes)})"
        )

    def _episode_indices(self) -> tuple[list[int], list[list[int]]]:
        per_class = self.shots + self.query_shots
        drawn = [item.index for item in self._draw(None, self.generator)]
        examples = [drawn[way * per_class : (way + 1) * per_class] for way in range(self.ways)]
        return [self._labels[pool[0]] for pool in examples], examples

    def sample_episode(self) -> tuple[Task, list[int]]:
        """Sample one episode and also return the dataset labels behind its episode labels.

        Returns:
            ``(task, classes)`` where episode label ``k`` stands for dataset label
            ``classes[k]``.
        """
        task, classes = self._episodes(1)
        return task[0], classes[0]

    def _episodes(self, count: int) -> tuple[TaskBatch, list[list[int]]]:
        """Draw ``count`` episodes and load all their inputs with a single ``torch.stack``."""
        support: list[int] = []
        query: list[int] = []
        drawn_classes: list[list[int]] = []
        for _ in range(count):
            classes, examples = self._episode_indices()
            drawn_classes.append(classes)
            support.extend(i for pool in examples for i in pool[: self.shots])
            query.extend(i for pool in examples for i in pool[self.shots :])
        inputs = self._load(support + query)
        split = len(support)
        shape = inputs.shape[1:]
        labels = torch.arange(self.ways, dtype=torch.int64)
        batch = TaskBatch(
            inputs[:split].view(count, self.ways * self.shots, *shape),
            labels.repeat_interleave(self.shots).expand(count, -1).clone(),
            inputs[split:].view(count, self.ways * self.query_shots, *shape),
            labels.repeat_interleave(self.query_shots).expand(count, -1).clone(),
        )
        return batch, drawn_classes

    def _load(self, indices: list[int]) -> Tensor:
        inputs = [self.dataset[index][0] for index in indices]
        first = inputs[0]
        for position, value in enumerate(inputs):
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"dataset[{indices[position]}][0] must be a torch.Tensor, got "
                    f"{type(value).__name__}"
                )
            if value.shape != first.shape:
                raise ValueError(
                    f"dataset inputs must all have the same shape to form an episode: "
                    f"dataset[{indices[position]}][0] has shape {tuple(value.shape)} but "
                    f"dataset[{indices[0]}][0] has {tuple(first.shape)}"
                )
        return torch.stack(inputs)

    def sample(self, meta_batch_size: int) -> list[Task]:
        """Return ``meta_batch_size`` independent episodes.

        Args:
            meta_batch_size: Number of episodes (at least 1).

        Returns:
            Tasks with ``support_x`` of shape ``(ways * shots, *input_shape)``, ``support_y``
            of dtype ``int64`` in ``0 .. ways - 1``, and ``query_x``/``query_y`` alike with
            ``ways * query_shots`` examples.

        Raises:
            TypeError: If ``meta_batch_size`` is not an int.
            ValueError: If ``meta_batch_size`` is below 1.
        """
        meta_batch_size = check_int("meta_batch_size", meta_batch_size)
        return [self._episodes(1)[0][0] for _ in range(meta_batch_size)]

    def sample_batch(self, meta_batch_size: int) -> TaskBatch:
        """Return ``meta_batch_size`` independent episodes stacked as a `TaskBatch`.

        From the same generator state this equals ``stack_tasks(sampler.sample(n))``, but all
        inputs are gathered with one ``torch.stack`` (no second copy).

        Args:
            meta_batch_size: Number of episodes (at least 1).

        Returns:
            The stacked episodes (shapes as in [`sample`][meta_tasks.FewShotSampler.sample], with a
            leading task dimension).

        Raises:
            TypeError: If ``meta_batch_size`` is not an int.
            ValueError: If ``meta_batch_size`` is below 1.
        """
        return self._episodes(check_int("meta_batch_size", meta_batch_size))[0]


def split_classes(
    classes: int | Sequence[int],
    *,
    fractions: Sequence[float] | None = None,
    counts: Sequence[int] | None = None,
    seed: int = 0,
) -> tuple[list[int], ...]:
    """Split class labels into disjoint parts (e.g. meta-train / meta-validation / meta-test).

    The classes are shuffled with a generator seeded by ``seed`` and cut into consecutive
    parts, so the same arguments always give the same split. Give exactly one of
    ``fractions`` (part ``i`` gets the classes between ``round(n * sum(fractions[:i]))`` and
    ``round(n * sum(fractions[:i+1]))`` of the shuffled order; the fractions may sum to less
    than 1 to leave classes out) or ``counts`` (exact part sizes).

    Args:
        classes: The class labels, or an int ``n`` meaning ``range(n)``.
        fractions: Positive fractions, summing to at most 1.
        counts: Positive part sizes, summing to at most the number of classes.
        seed: Seed of the shuffle.

    Returns:
        One sorted list of labels per part; parts are disjoint and non-empty.

    Raises:
        TypeError: If an argument has the wrong type.
        ValueError: If both or neither of ``fractions`` and ``counts`` are given, a fraction or
            count is not positive, they ask for more classes than there are, a part would be
            empty, or ``classes`` repeats a label.

    Examples:
        >>> train, val, test = split_classes(10, fractions=(0.6, 0.2, 0.2), seed=0)
        >>> len(train), len(val), len(test), sorted(train + val + test) == list(range(10))
        (6, 2, 2, True)
    """
    if isinstance(classes, bool):
        raise TypeError("classes must be an int or a sequence of int labels, got bool")
    if isinstance(classes, int):
        labels = list(range(check_int("classes", classes)))
    elif isinstance(classes, Sequence | range) and not isinstance(classes, str | bytes):
        labels = [_as_label(value, f"classes[{i}]") for i, value in enumerate(classes)]
        if len(set(labels)) != len(labels):
            raise ValueError(
                f"classes must not repeat labels, got {len(labels)} entries with "
                f"{len(set(labels))} distinct"
            )
    else:
        raise TypeError(
            f"classes must be an int or a sequence of int labels, got {type(classes).__name__}"
        )
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    total = len(labels)
    if (fractions is None) == (counts is None):
        raise ValueError("give exactly one of fractions or counts to split_classes")
    if fractions is not None:
        values = [float(f) for f in fractions]
        if not values or any(not (f > 0) or not math.isfinite(f) for f in values):
            raise ValueError(
                f"fractions must be a non-empty sequence of positive numbers, got {list(fractions)}"
            )
        if sum(values) > 1.0 + 1e-9:
            raise ValueError(
                f"fractions must sum to at most 1, got {list(fractions)} (sum {sum(values):g})"
            )
        bounds = [0]
        running = 0.0
        for value in values:
            running += value
            bounds.append(min(total, round(running * total)))
    else:
        sizes = [check_int(f"counts[{i}]", c) for i, c in enumerate(counts or ())]
        if not sizes:
            raise ValueError("counts must be a non-empty sequence of positive ints, got []")
        if sum(sizes) > total:
            raise ValueError(
                f"counts {sizes} ask for {sum(sizes)} classes but only {total} are given"
            )
        bounds = [0]
        for size in sizes:
            bounds.append(bounds[-1] + size)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(total, generator=generator).tolist()
    shuffled = [labels[i] for i in order]
    parts: list[list[int]] = []
    for part, (start, stop) in enumerate(itertools.pairwise(bounds)):
        if stop <= start:
            raise ValueError(
                f"part {part} of the split would be empty ({total} classes, bounds {bounds}); "
                f"use larger fractions or counts"
            )
        parts.append(sorted(shuffled[start:stop]))
    return tuple(parts)


class RotatedClasses:
    """Dataset wrapper that makes every (class, rotation) pair a new class.

    The standard Omniglot protocol: rotating a character by 90, 180 or 270 degrees gives a new
    character class. Item ``r * len(dataset) + i`` is item ``i`` of ``dataset`` rotated by
    ``rotations[r]`` degrees counter-clockwise (``torch.rot90`` over the last two dims,
    applied lazily on access) and has label ``label_i * len(rotations) + r``.

    Args:
        dataset: Map-style dataset of ``(image_tensor, integer_label)`` with labels in
            ``0 .. num_classes - 1``; images have at least two dims (``(..., H, W)``).
        rotations: Distinct multiples of 90 degrees.

    Attributes:
        labels: Label of every item, computed without loading images (from
            ``dataset.labels`` when offered).
        num_classes: ``base_num_classes * len(rotations)``, where ``base_num_classes`` is
            ``dataset.num_classes`` when offered, else ``max(label) + 1``.

    Raises:
        TypeError: If a rotation is not an int.
        ValueError: If ``rotations`` is empty, repeats an angle, or holds a non-multiple of
            90, or a base label is outside ``0 .. base_num_classes - 1``.

    Examples:
        >>> import torch
        >>> image = torch.tensor([[1.0, 2.0], [3.0, 4.0]]).unsqueeze(0)
        >>> rotated = RotatedClasses([(image, 0), (image, 1)], rotations=(0, 90))
        >>> len(rotated), rotated.num_classes, rotated.labels
        (4, 4, [0, 2, 1, 3])
        >>> rotated[2][0].tolist(), rotated[2][1]
        ([[[2.0, 4.0], [1.0, 3.0]]], 1)
    """

    def __init__(
        self, dataset: LabeledDataset, rotations: Sequence[int] = (0, 90, 180, 270)
    ) -> None:
        angles = list(rotations)
        if not angles:
            raise ValueError("rotations must hold at least one angle, got none")
        for angle in angles:
            if isinstance(angle, bool) or not isinstance(angle, int):
                raise TypeError(f"rotations must be ints (degrees), got {angle!r}")
            if angle % 90 != 0:
                raise ValueError(f"rotations must be multiples of 90 degrees, got {angle}")
        if len({a % 360 for a in angles}) != len(angles):
            raise ValueError(f"rotations must be distinct angles (mod 360), got {angles}")
        self.dataset = dataset
        self.rotations: tuple[int, ...] = tuple(angles)
        base_labels = dataset_labels(dataset)
        offered = getattr(dataset, "num_classes", None)
        base_classes = int(offered) if offered is not None else max(base_labels, default=-1) + 1
        outside = [label for label in base_labels if not 0 <= label < base_classes]
        if outside:
            raise ValueError(
                f"RotatedClasses needs base labels in 0..{base_classes - 1}, got "
                f"{sorted(set(outside))[:10]}"
            )
        self.base_num_classes = base_classes
        count = len(self.rotations)
        self.labels: list[int] = [label * count + r for r in range(count) for label in base_labels]
        self.num_classes = base_classes * count
        self._base_size = len(base_labels)

    def __len__(self) -> int:
        return self._base_size * len(self.rotations)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        """Return item ``index``: a rotated image of the base dataset and its new label.

        Args:
            index: Item index (negative counts from the end).

        Returns:
            ``(rotated_image, label)``.

        Raises:
            IndexError: If ``index`` is out of range.
        """
        size = len(self)
        if not -size <= index < size:
            raise IndexError(f"index {index} is out of range for a dataset of {size} items")
        index %= size
        rotation, base_index = divmod(index, self._base_size)
        image, _ = self.dataset[base_index]
        quarter_turns = (self.rotations[rotation] // 90) % 4
        if quarter_turns:
            image = torch.rot90(image, quarter_turns, dims=(-2, -1))
        return image, self.labels[index]

    def split(self, label: int) -> tuple[int, int]:
        """Return ``(base_label, degrees)`` behind a rotated-class label.

        Args:
            label: A label of this dataset.

        Returns:
            The label in the wrapped dataset and the rotation in degrees.

        Raises:
            ValueError: If ``label`` is outside ``0 .. num_classes - 1``.
        """
        if not 0 <= label < self.num_classes:
            raise ValueError(f"label must be in 0..{self.num_classes - 1}, got {label}")
        base_label, rotation = divmod(label, len(self.rotations))
        return base_label, self.rotations[rotation]
