"""Task descriptions and the composable task transforms that sample them.

A task description is a list of [`ItemDescription`][meta_tasks.ItemDescription]: the index of
one item of a [`MetaDataset`][meta_tasks.MetaDataset] and the per-item functions that turn the
index into data (load it, relabel it, rotate it). A task transform maps a description to a new
one; the first transform of a chain receives ``None`` and starts the description itself
(usually from every item, or, for [`NWays`][meta_tasks.NWays],
[`FilterLabels`][meta_tasks.FilterLabels] and
[`FusedNWaysKShots`][meta_tasks.FusedNWaysKShots], straight from the label bookkeeping).
Every random choice is drawn from the ``torch.Generator`` a transform is called with (torch's
global generator when ``None``), so a seeded [`TaskDataset`][meta_tasks.TaskDataset] is
deterministic.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch

from ._metadataset import Label, MetaDataset, label_key
from ._task import check_int


class ItemDescription:
    """One item of a task: its index in the dataset and the functions that produce its data.

    Args:
        index: Index of the item in the dataset.
        transforms: Functions applied in order, starting from ``index`` (e.g. the one
            [`LoadData`][meta_tasks.LoadData] appends turns it into ``dataset[index]``).

    Attributes:
        index: Index of the item in the dataset.
        transforms: The per-item functions (a list; task transforms append to it).

    Examples:
        >>> item = ItemDescription(3, [lambda i: i * 10])
        >>> item.load()
        30
    """

    __slots__ = ("index", "transforms")

    def __init__(self, index: int, transforms: Iterable[Callable[[Any], Any]] = ()) -> None:
        self.index = index
        self.transforms: list[Callable[[Any], Any]] = list(transforms)

    def load(self) -> Any:
        """Apply the per-item functions in order, starting from ``index``.

        Returns:
            The item's data.
        """
        data: Any = self.index
        for transform in self.transforms:
            data = transform(data)
        return data

    def copy(self) -> ItemDescription:
        """Return an independent copy (its own list of functions)."""
        return ItemDescription(self.index, self.transforms)

    def __repr__(self) -> str:
        return f"ItemDescription(index={self.index}, transforms={len(self.transforms)})"

    def __getstate__(self) -> tuple[int, list[Callable[[Any], Any]]]:
        return self.index, self.transforms

    def __setstate__(self, state: tuple[int, list[Callable[[Any], Any]]]) -> None:
        self.index, self.transforms = state


TaskDescription = list[ItemDescription]
"""A task as a list of [`ItemDescription`][meta_tasks.ItemDescription]."""


def uniforms(count: int, generator: torch.Generator | None) -> list[float]:
    """``count`` float64 numbers in [0, 1) from ``generator`` (torch's global one if ``None``)."""
    return torch.rand(count, generator=generator, dtype=torch.float64).tolist()


def draw_without_replacement(population: int, count: int, numbers: Sequence[float]) -> list[int]:
    """First ``count`` positions of a Fisher-Yates shuffle of ``range(population)``.

    Only the touched positions are stored (a dict of swaps), so this costs O(count), not
    O(population). ``numbers`` holds ``count`` uniforms in [0, 1).
    """
    swapped: dict[int, int] = {}
    drawn: list[int] = []
    for position in range(count):
        offset = min(int(numbers[position] * (population - position)), population - position - 1)
        target = position + offset
        value = swapped.get(target, target)
        swapped[target] = swapped.get(position, position)
        drawn.append(value)
    return drawn


def _draw_with_replacement(population: int, numbers: Sequence[float]) -> list[int]:
    return [min(int(number * population), population - 1) for number in numbers]


def _first_appearance(labels: Iterable[Label]) -> list[Label]:
    return list(dict.fromkeys(labels))


class TaskTransform(abc.ABC):
    """Base of the task transforms: a callable ``(description | None, generator) -> description``.

    Subclasses implement ``__call__``; a description of ``None`` asks the transform to start
    one. Any callable with that signature can be used in a
    [`TaskDataset`][meta_tasks.TaskDataset]; subclassing gives the shared ``dataset`` check and
    ``new_task``.

    Args:
        dataset: The [`MetaDataset`][meta_tasks.MetaDataset] whose items the descriptions index.

    Attributes:
        dataset: The dataset.

    Raises:
        TypeError: If ``dataset`` is not a ``MetaDataset``.
    """

    def __init__(self, dataset: MetaDataset) -> None:
        if not isinstance(dataset, MetaDataset):
            raise TypeError(
                f"{type(self).__name__} expects a MetaDataset (it samples from the label "
                f"bookkeeping), got {type(dataset).__name__}; wrap it: MetaDataset(dataset)"
            )
        self.dataset = dataset

    def new_task(self) -> TaskDescription:
        """Return a description holding every item of the dataset, in index order."""
        return [ItemDescription(index) for index in range(len(self.dataset))]

    @abc.abstractmethod
    def __call__(
        self, description: TaskDescription | None, generator: torch.Generator | None = None
    ) -> TaskDescription:
        """Return the transformed description (a new list; items may be shared).

        Args:
            description: The description so far, or ``None`` to start one.
            generator: Source of the random choices (torch's global generator if ``None``).

        Returns:
            The new description.
        """

    def _label(self, item: ItemDescription) -> Label:
        return self.dataset.indices_to_labels[item.index]

    def _by_label(self, description: TaskDescription) -> dict[Label, list[ItemDescription]]:
        groups: dict[Label, list[ItemDescription]] = {}
        for item in description:
            groups.setdefault(self._label(item), []).append(item)
        return groups


class LoadData(TaskTransform):
    """Load every item: append ``index -> dataset[index]`` to its functions.

    Args:
        dataset: The dataset to load from (any map-style dataset; a
            [`MetaDataset`][meta_tasks.MetaDataset] forwards to the one it wraps).

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = MetaDataset(TensorDataset(torch.arange(3.0), torch.tensor([0, 1, 0])))
        >>> [item.load() for item in LoadData(data)(None)][2]
        (tensor(2.), tensor(0))
    """

    def __init__(self, dataset: Any) -> None:
        if not hasattr(dataset, "__getitem__"):
            raise TypeError(f"LoadData expects a dataset to index, got {type(dataset).__name__}")
        self.dataset = dataset

    def new_task(self) -> TaskDescription:
        """Return a description holding every item of the dataset, in index order."""
        return [ItemDescription(index) for index in range(len(self.dataset))]

    def __call__(
        self, description: TaskDescription | None, generator: torch.Generator | None = None
    ) -> TaskDescription:
        """Append the loading function to every item (no randomness)."""
        description = self.new_task() if description is None else description
        load = self.dataset.__getitem__
        for item in description:
            item.transforms.append(load)
        return description


class NWays(TaskTransform):
    """Keep the items of ``n`` labels drawn at random among those of the description.

    Started from ``None``, the labels are drawn from all labels of the dataset and the
    description holds all their items (label by label, in index order).

    Args:
        dataset: The [`MetaDataset`][meta_tasks.MetaDataset].
        n: Number of labels to keep (at least 1).

    Raises:
        TypeError: If ``n`` is not an int.
        ValueError: If ``n`` is below 1, or (when called) fewer than ``n`` labels are present.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = MetaDataset(TensorDataset(torch.zeros(8), torch.arange(8) % 4))
        >>> task = NWays(data, 2)(None, torch.Generator().manual_seed(0))
        >>> len(task), len({data.indices_to_labels[item.index] for item in task})
        (4, 2)
    """

    def __init__(self, dataset: MetaDataset, n: int) -> None:
        super().__init__(dataset)
        self.n = check_int("n", n)

    def _draw_labels(
        self, labels: Sequence[Label], generator: torch.Generator | None
    ) -> list[Label]:
        if len(labels) < self.n:
            raise ValueError(
                f"NWays(n={self.n}) needs at least {self.n} labels, but the description holds "
                f"{len(labels)}"
            )
        picked = draw_without_replacement(len(labels), self.n, uniforms(self.n, generator))
        return [labels[position] for position in picked]

    def __call__(
        self, description: TaskDescription | None, generator: torch.Generator | None = None
    ) -> TaskDescription:
        """Keep the items of ``n`` random labels."""
        if description is None:
            chosen = self._draw_labels(self.dataset.labels, generator)
            table = self.dataset.labels_to_indices
            return [ItemDescription(index) for label in chosen for index in table[label]]
        present = _first_appearance(self._label(item) for item in description)
        kept = set(self._draw_labels(present, generator))
        return [item for item in description if self._label(item) in kept]


class KShots(TaskTransform):
    """Keep ``k`` items drawn at random for every label of the description.

    Items are grouped by label (labels in order of first appearance), each group in draw
    order. With ``replacement`` an item may be drawn more than once; each draw is then an
    independent copy of its description.

    Args:
        dataset: The [`MetaDataset`][meta_tasks.MetaDataset].
        k: Items per label (at least 1).
        replacement: Draw with replacement.

    Raises:
        TypeError: If ``k`` is not an int.
        ValueError: If ``k`` is below 1, or (when called without replacement) a label has
            fewer than ``k`` items.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = MetaDataset(TensorDataset(torch.zeros(9), torch.arange(9) % 3))
        >>> task = KShots(data, 2)(None, torch.Generator().manual_seed(0))
        >>> [data.indices_to_labels[item.index] for item in task]
        [0, 0, 1, 1, 2, 2]
    """

    def __init__(self, dataset: MetaDataset, k: int, *, replacement: bool = False) -> None:
        super().__init__(dataset)
        self.k = check_int("k", k)
        self.replacement = bool(replacement)

    def __call__(
        self, description: TaskDescription | None, generator: torch.Generator | None = None
    ) -> TaskDescription:
        """Keep ``k`` random items per label."""
        groups = self._by_label(self.new_task() if description is None else description)
        numbers = uniforms(self.k * len(groups), generator)
        result: TaskDescription = []
        for position, (label, items) in enumerate(groups.items()):
            drawn = numbers[position * self.k : (position + 1) * self.k]
            if self.replacement:
                result.extend(items[i].copy() for i in _draw_with_replacement(len(items), drawn))
                continue
            if len(items) < self.k:
                raise ValueError(
                    f"KShots(k={self.k}) without replacement needs {self.k} items of every "
                    f"label, but label {label!r} has {len(items)}"
                )
            result.extend(items[i] for i in draw_without_replacement(len(items), self.k, drawn))
        return result


class FilterLabels(TaskTransform):
    """Keep the items whose label is one of ``labels`` (the description's order is kept).

    Args:
        dataset: The [`MetaDataset`][meta_tasks.MetaDataset].
        labels: The labels to keep; each must be a label of the dataset.

    Attributes:
        labels: The labels kept.

    Raises:
        ValueError: If ``labels`` names a label the dataset does not have.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = MetaDataset(TensorDataset(torch.zeros(6), torch.arange(6) % 3))
        >>> [item.index for item in FilterLabels(data, [2, 0])(None)]
        [0, 2, 3, 5]
    """

    def __init__(self, dataset: MetaDataset, labels: Iterable[Label]) -> None:
        super().__init__(dataset)
        self.labels = [label_key(label, "labels[...]") for label in labels]
        unknown = [label for label in self.labels if label not in dataset.labels_to_indices]
        if unknown:
            raise ValueError(
                f"FilterLabels: {unknown[:10]} are not labels of the dataset "
                f"({len(dataset.labels)} labels)"
            )
        keep = set(self.labels)
        self._kept = [i for i in range(len(dataset)) if dataset.indices_to_labels[i] in keep]
        self._keep = keep

    def __call__(
        self, description: TaskDescription | None, generator: torch.Generator | None = None
    ) -> TaskDescription:
        """Keep the items of the chosen labels (no randomness)."""
        if description is None:
            return [ItemDescription(index) for index in self._kept]
        return [item for item in description if self._label(item) in self._keep]


class FusedNWaysKShots(TaskTransform):
    """Draw ``n`` of the allowed labels and ``k`` items of each, in one step.

    [`FilterLabels`][meta_tasks.FilterLabels], [`NWays`][meta_tasks.NWays] and
    [`KShots`][meta_tasks.KShots] fused. Started from ``None`` (the fast path) it draws from
    the bookkeeping with one ``torch.rand`` call of ``n * (1 + k)`` numbers: the first ``n``
    pick the labels, the next ``k`` the items of the first label, and so on. The description
    holds the ``k`` items of each label in turn, labels in draw order. Given a description it
    applies the three transforms in turn.

    Args:
        dataset: The [`MetaDataset`][meta_tasks.MetaDataset].
        n: Number of labels per task.
        k: Items per label.
        replacement: Draw items with replacement.
        filter_labels: Labels to draw from; ``None`` means all labels of the dataset.

    Raises:
        TypeError: If ``n`` or ``k`` is not an int.
        ValueError: If ``n`` or ``k`` is below 1, there are fewer than ``n`` labels to draw
            from, or (without replacement) one of them has fewer than ``k`` items.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = MetaDataset(TensorDataset(torch.zeros(12), torch.arange(12) % 4))
        >>> fused = FusedNWaysKShots(data, n=3, k=2, filter_labels=[0, 1, 3])
        >>> task = fused(None, torch.Generator().manual_seed(0))
        >>> labels = [data.indices_to_labels[item.index] for item in task]
        >>> len(task), labels[0] == labels[1], set(labels) <= {0, 1, 3}
        (6, True, True)
    """

    def __init__(
        self,
        dataset: MetaDataset,
        n: int,
        k: int,
        *,
        replacement: bool = False,
        filter_labels: Iterable[Label] | None = None,
    ) -> None:
        super().__init__(dataset)
        labels = dataset.labels if filter_labels is None else filter_labels
        self.filter = FilterLabels(dataset, labels)
        self.nways = NWays(dataset, n)
        self.kshots = KShots(dataset, k, replacement=replacement)
        self.n, self.k, self.replacement = self.nways.n, self.kshots.k, self.kshots.replacement
        self.filter_labels = self.filter.labels
        if len(self.filter_labels) < self.n:
            raise ValueError(
                f"FusedNWaysKShots(n={self.n}) needs at least {self.n} labels to draw from, got "
                f"{len(self.filter_labels)}"
            )
        self._pools = [dataset.labels_to_indices[label] for label in self.filter_labels]
        sizes = zip(self.filter_labels, map(len, self._pools), strict=True)
        short = [(label, size) for label, size in sizes if size < self.k]
        if short and not self.replacement:
            raise ValueError(
                f"FusedNWaysKShots(k={self.k}) without replacement needs {self.k} items of "
                f"every label, but label {short[0][0]!r} has {short[0][1]}"
            )

    def __call__(
        self, description: TaskDescription | None, generator: torch.Generator | None = None
    ) -> TaskDescription:
        """Draw ``n`` labels and ``k`` items of each."""
        if description is not None:
            return self.kshots(self.nways(self.filter(description), generator), generator)
        numbers = uniforms(self.n * (1 + self.k), generator)
        picked = draw_without_replacement(len(self._pools), self.n, numbers[: self.n])
        result: TaskDescription = []
        for way, position in enumerate(picked):
            pool = self._pools[position]
            start = self.n + way * self.k
            drawn = numbers[start : start + self.k]
            if self.replacement:
                chosen = _draw_with_replacement(len(pool), drawn)
            else:
                chosen = draw_without_replacement(len(pool), self.k, drawn)
            result.extend(ItemDescription(pool[i]) for i in chosen)
        return result


class _SetLabel:
    """Per-item function: replace the label (second entry) of a loaded item."""

    def __init__(self, label: int) -> None:
        self.label = label

    def __call__(self, item: Sequence[Any]) -> tuple[Any, ...]:
        return (item[0], self.label, *item[2:])


class RemapLabels(TaskTransform):
    """Relabel a task's items ``0 .. N-1`` (N = number of labels in the description).

    Labels are numbered in order of first appearance in the description, in a random order
    when ``shuffle``. Appends to every item a function that replaces the label of the loaded
    item (place it after [`LoadData`][meta_tasks.LoadData]).

    Args:
        dataset: The [`MetaDataset`][meta_tasks.MetaDataset].
        shuffle: Number the labels in a random order.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = MetaDataset(TensorDataset(torch.zeros(4), torch.tensor([7, 9, 7, 9])))
        >>> task = RemapLabels(data, shuffle=False)(LoadData(data)(None))
        >>> [int(item.load()[1]) for item in task]
        [0, 1, 0, 1]
    """

    def __init__(self, dataset: MetaDataset, *, shuffle: bool = True) -> None:
        super().__init__(dataset)
        self.shuffle = bool(shuffle)

    def __call__(
        self, description: TaskDescription | None, generator: torch.Generator | None = None
    ) -> TaskDescription:
        """Append the relabelling function to every item."""
        description = self.new_task() if description is None else description
        labels = _first_appearance(self._label(item) for item in description)
        if self.shuffle:
            order = draw_without_replacement(
                len(labels), len(labels), uniforms(len(labels), generator)
            )
            labels = [labels[position] for position in order]
        setters = {label: _SetLabel(new) for new, label in enumerate(labels)}
        for item in description:
            item.transforms.append(setters[self._label(item)])
        return description


class ConsecutiveLabels(TaskTransform):
    """Sort the items by their dataset label (stable), so that each label's items are together.

    The sort uses the labels of the dataset, not those [`RemapLabels`][meta_tasks.RemapLabels]
    assigns; labels that cannot be ordered (mixed types) are grouped in order of first
    appearance instead.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = MetaDataset(TensorDataset(torch.zeros(4), torch.tensor([2, 1, 2, 1])))
        >>> [item.index for item in ConsecutiveLabels(data)(None)]
        [1, 3, 0, 2]
    """

    def __call__(
        self, description: TaskDescription | None, generator: torch.Generator | None = None
    ) -> TaskDescription:
        """Return the items sorted by label (no randomness)."""
        description = self.new_task() if description is None else description
        try:
            return sorted(description, key=self._label)  # type: ignore[arg-type]  # labels may not support <: caught below
        except TypeError:
            return [item for items in self._by_label(description).values() for item in items]


class _Rotate:
    """Per-item function: rotate the input (first entry) of a loaded item by quarter turns."""

    def __init__(self, quarter_turns: int) -> None:
        self.quarter_turns = quarter_turns

    def __call__(self, item: Sequence[Any]) -> tuple[Any, ...]:
        image = item[0]
        if self.quarter_turns:
            image = torch.rot90(image, self.quarter_turns, dims=(-2, -1))
        return (image, *item[1:])


class RandomClassRotation(TaskTransform):
    """Rotate all images of each label of a task by one angle drawn from ``degrees``.

    The angle is drawn per label and per task; rotations are counter-clockwise by multiples
    of 90 degrees (``torch.rot90`` over the last two dims, exact). Appends to every item a
    function that rotates the loaded image (place it after [`LoadData`][meta_tasks.LoadData]).

    Args:
        dataset: The [`MetaDataset`][meta_tasks.MetaDataset].
        degrees: The angles to draw from, multiples of 90 (e.g. ``[0, 90, 180, 270]``).

    Raises:
        ValueError: If ``degrees`` is empty or holds an angle that is not a multiple of 90.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> images = torch.arange(4.0).view(1, 1, 2, 2).expand(4, 1, 2, 2)
        >>> data = MetaDataset(TensorDataset(images, torch.tensor([0, 0, 1, 1])))
        >>> task = RandomClassRotation(data, [180])(LoadData(data)(None))
        >>> task[0].load()[0].tolist()
        [[[3.0, 2.0], [1.0, 0.0]]]
    """

    def __init__(self, dataset: MetaDataset, degrees: Sequence[float]) -> None:
        super().__init__(dataset)
        angles = [float(angle) for angle in degrees]
        if not angles or any(angle % 90 != 0 for angle in angles):
            raise ValueError(
                f"RandomClassRotation rotates by multiples of 90 degrees, got {list(degrees)}"
            )
        self.degrees = list(degrees)
        self._turns = [int(angle // 90) % 4 for angle in angles]

    def __call__(
        self, description: TaskDescription | None, generator: torch.Generator | None = None
    ) -> TaskDescription:
        """Append a rotation of one random angle per label to every item."""
        description = self.new_task() if description is None else description
        labels = _first_appearance(self._label(item) for item in description)
        drawn = _draw_with_replacement(len(self._turns), uniforms(len(labels), generator))
        rotate = {label: _Rotate(self._turns[i]) for label, i in zip(labels, drawn, strict=True)}
        for item in description:
            item.transforms.append(rotate[self._label(item)])
        return description
