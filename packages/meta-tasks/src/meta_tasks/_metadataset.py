"""Label bookkeeping over any labelled dataset: `MetaDataset` and its union and filtered views."""

from __future__ import annotations

import operator
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any, SupportsIndex

from torch import Tensor
from torch.utils.data import ConcatDataset, Dataset, Subset

Label = Hashable
"""A class label as the bookkeeping stores it: ``int`` for integer-like labels (Python and NumPy
integers, one-element integer tensors), the scalar ``.item()`` for other one-element tensors and
NumPy scalars, any other hashable value (e.g. a ``str``) as it is."""


_MISSING: Label = object()  # marks an item the given bookkeeping has not labelled yet


def label_key(value: object, where: str) -> Label:
    """Normalise one label to the hashable key the bookkeeping uses (see ``Label``).

    Args:
        value: A label as a dataset returns it.
        where: Where the label came from, for the error message.

    Returns:
        The label key.

    Raises:
        TypeError: If ``value`` is a tensor with more than one element, or is not hashable.
    """
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise TypeError(
                f"{where} must be a scalar label, got a tensor of shape {tuple(value.shape)}"
            )
        key: object = value.item()
    elif isinstance(value, SupportsIndex) and not isinstance(value, bool | int):
        key = operator.index(value)  # numpy integers and other integer scalars
    elif callable(getattr(value, "item", None)) and not isinstance(value, str | bytes):
        key = value.item()  # type: ignore[attr-defined]  # numpy scalars (float, str_, ...)
    else:
        key = value
    if not isinstance(key, Hashable):
        raise TypeError(f"{where} must be a hashable label, got {type(value).__name__}")
    return key


def _labels_from(dataset: Any, size: int) -> list[Label]:
    """One label per item: from another `MetaDataset`, a per-item ``labels``, or the items."""
    if isinstance(dataset, MetaDataset):
        return [dataset.indices_to_labels[index] for index in range(size)]
    offered = getattr(dataset, "labels", None)
    if isinstance(offered, Tensor) and offered.ndim == 1 and len(offered) == size:
        return list(offered.tolist())
    if isinstance(offered, Sequence) and not isinstance(offered, str) and len(offered) == size:
        return [label_key(value, f"dataset.labels[{i}]") for i, value in enumerate(offered)]
    labels: list[Label] = []
    for index in range(size):
        item = dataset[index]
        if not isinstance(item, Sequence) or len(item) < 2:
            raise TypeError(
                f"dataset[{index}] must be a sequence (input, label, ...), got "
                f"{type(item).__name__}"
            )
        labels.append(label_key(item[1], f"dataset[{index}][1]"))
    return labels


class MetaDataset(Dataset[Any]):
    """A labelled dataset with its label bookkeeping, built once: labels to item indices and back.

    Wraps any map-style dataset whose items are ``(input, label, ...)`` (a
    ``torch.utils.data.Dataset``, or anything with ``__len__`` and ``__getitem__``); indexing
    and ``len`` are the wrapped dataset's. The bookkeeping is what the task transforms
    ([`NWays`][meta_tasks.NWays], [`KShots`][meta_tasks.KShots], ...) sample from:

    * ``labels_to_indices``: label -> indices of its items, in increasing order;
    * ``indices_to_labels``: item index -> label;
    * ``labels``: the distinct labels, in order of first appearance.

    It is built once, at construction, from (in this order of preference) the ``labels_to_indices``
    or ``indices_to_labels`` given, the bookkeeping of a wrapped `MetaDataset`, a ``labels``
    attribute holding one label per item (as [`Omniglot`][meta_tasks.Omniglot] and
    [`RotatedClasses`][meta_tasks.RotatedClasses] offer: nothing is loaded), or by reading the
    label of every item once. Labels are normalised as ``Label`` describes.

    Args:
        dataset: The labelled dataset.
        labels_to_indices: Precomputed bookkeeping: label -> item indices.
        indices_to_labels: Precomputed bookkeeping: item index -> label. When both are given
            they must agree.

    Attributes:
        dataset: The wrapped dataset.
        labels_to_indices: Label -> indices of its items (sorted).
        indices_to_labels: Item index -> label.
        labels: The distinct labels, in order of first appearance (by item index).

    Raises:
        TypeError: If ``dataset`` has no ``__len__``/``__getitem__``, an item is not a
            sequence ``(input, label, ...)``, or a label is not hashable.
        ValueError: If given bookkeeping does not cover every item index exactly once, names
            an index outside the dataset, or the two given mappings disagree.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = TensorDataset(torch.randn(6, 2), torch.tensor([2, 0, 2, 1, 0, 2]))
        >>> meta = MetaDataset(data)
        >>> meta.labels, meta.labels_to_indices[2], meta.indices_to_labels[3]
        ([2, 0, 1], [0, 2, 5], 1)
    """

    def __init__(
        self,
        dataset: Any,
        labels_to_indices: Mapping[Any, Iterable[int]] | None = None,
        indices_to_labels: Mapping[int, Any] | None = None,
    ) -> None:
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(
                f"MetaDataset expects a map-style dataset (with __len__ and __getitem__), got "
                f"{type(dataset).__name__}"
            )
        self.dataset = dataset
        self.create_bookkeeping(labels_to_indices, indices_to_labels)

    def create_bookkeeping(
        self,
        labels_to_indices: Mapping[Any, Iterable[int]] | None = None,
        indices_to_labels: Mapping[int, Any] | None = None,
    ) -> None:
        """(Re)build ``labels_to_indices``, ``indices_to_labels`` and ``labels``.

        Args:
            labels_to_indices: Precomputed label -> item indices, or ``None``.
            indices_to_labels: Precomputed item index -> label, or ``None``.

        Raises:
            ValueError: If given bookkeeping does not cover every item exactly once or the two
                mappings disagree.
        """
        size = len(self.dataset)
        owner = type(self).__name__
        per_item: list[Label] = [_MISSING] * size
        if labels_to_indices is not None:
            for label, indices in labels_to_indices.items():
                for index in indices:
                    position = operator.index(index)
                    if not 0 <= position < size:
                        raise ValueError(
                            f"{owner}: labels_to_indices[{label!r}] holds index {position}, "
                            f"outside the dataset of {size} items"
                        )
                    if per_item[position] is not _MISSING:
                        raise ValueError(
                            f"{owner}: labels_to_indices lists item {position} more than once"
                        )
                    per_item[position] = label
        if indices_to_labels is not None:
            given = {operator.index(index): label for index, label in indices_to_labels.items()}
            if sorted(given) != list(range(size)):
                raise ValueError(
                    f"{owner}: indices_to_labels must map every item index 0..{size - 1} to a "
                    f"label, got {len(given)} indices"
                )
            if labels_to_indices is not None:
                differ = [i for i in range(size) if per_item[i] != given[i]]
                if differ:
                    raise ValueError(
                        f"{owner}: labels_to_indices and indices_to_labels disagree on item "
                        f"{differ[0]} ({per_item[differ[0]]!r} != {given[differ[0]]!r})"
                    )
            per_item = [given[i] for i in range(size)]
        elif labels_to_indices is None:
            per_item = list(_labels_from(self.dataset, size))
        missing = [i for i, label in enumerate(per_item) if label is _MISSING]
        if missing:
            raise ValueError(
                f"{owner}: labels_to_indices covers {size - len(missing)} of the {size} items; "
                f"item {missing[0]} has no label"
            )
        by_label: dict[Label, list[int]] = {}
        for index, label in enumerate(per_item):
            by_label.setdefault(label, []).append(index)
        self.labels_to_indices: dict[Label, list[int]] = by_label
        self.indices_to_labels: dict[int, Label] = dict(enumerate(per_item))
        self.labels: list[Label] = list(by_label)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        """Return item ``index`` of the wrapped dataset."""
        return self.dataset[index]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(items={len(self)}, labels={len(self.labels)})"


class UnionMetaDataset(MetaDataset):
    """The union of several labelled datasets, their labels renumbered to stay distinct.

    Items are those of ``datasets[0]``, then ``datasets[1]``, and so on. The ``j``-th label
    (in ``labels`` order) of dataset ``d`` becomes ``offset_d + j``, where ``offset_d`` is the
    number of labels of the datasets before it: the same label in two datasets becomes two
    labels. Items are returned as tuples ``(input, new_label, ...)``.

    Args:
        datasets: Labelled datasets; those that are not a [`MetaDataset`][meta_tasks.MetaDataset]
            are wrapped in one.

    Attributes:
        datasets: The (wrapped) datasets.

    Raises:
        ValueError: If ``datasets`` is empty.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> first = TensorDataset(torch.zeros(3, 1), torch.tensor([5, 7, 5]))
        >>> second = TensorDataset(torch.ones(2, 1), torch.tensor([5, 5]))
        >>> union = UnionMetaDataset([first, second])
        >>> len(union), union.labels, union[3][1]
        (5, [0, 1, 2], 2)
    """

    def __init__(self, datasets: Sequence[Any]) -> None:
        wrapped = [d if isinstance(d, MetaDataset) else MetaDataset(d) for d in datasets]
        if not wrapped:
            raise ValueError("UnionMetaDataset needs at least one dataset, got none")
        self.datasets = wrapped
        labels_to_indices: dict[Label, list[int]] = {}
        index_offset = label_offset = 0
        for dataset in wrapped:
            for position, label in enumerate(dataset.labels):
                indices = dataset.labels_to_indices[label]
                labels_to_indices[label_offset + position] = [index_offset + i for i in indices]
            index_offset += len(dataset)
            label_offset += len(dataset.labels)
        super().__init__(ConcatDataset(wrapped), labels_to_indices=labels_to_indices)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        """Return item ``index`` as ``(input, new_label, ...)``."""
        item = tuple(self.dataset[index])
        position = index % len(self) if index < 0 else index
        return (item[0], self.indices_to_labels[position], *item[2:])


class FilteredMetaDataset(MetaDataset):
    """The items of a labelled dataset whose label is one of ``labels`` (labels kept as they are).

    Items come label by label, in the order of ``labels``, each label's items in their
    original order; item ``i`` is ``dataset[to_true_indices[i]]``.

    Args:
        dataset: A labelled dataset (wrapped in a [`MetaDataset`][meta_tasks.MetaDataset] if it
            is not one).
        labels: The labels to keep.

    Attributes:
        to_true_indices: Index in ``dataset`` of every item.

    Raises:
        ValueError: If ``labels`` repeats a label or names one the dataset does not have.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = TensorDataset(torch.arange(5.0), torch.tensor([3, 1, 3, 2, 1]))
        >>> kept = FilteredMetaDataset(data, [1, 3])
        >>> kept.to_true_indices, kept.labels, kept[0][1].item()
        ([1, 4, 0, 2], [1, 3], 1)
    """

    def __init__(self, dataset: Any, labels: Iterable[Label]) -> None:
        base = dataset if isinstance(dataset, MetaDataset) else MetaDataset(dataset)
        keep = [label_key(label, "labels[...]") for label in labels]
        if len(set(keep)) != len(keep):
            raise ValueError(f"FilteredMetaDataset: labels must not repeat, got {keep}")
        unknown = [label for label in keep if label not in base.labels_to_indices]
        if unknown:
            raise ValueError(
                f"FilteredMetaDataset: labels {unknown[:10]} are not labels of the dataset "
                f"({len(base.labels)} labels)"
            )
        self.to_true_indices = [i for label in keep for i in base.labels_to_indices[label]]
        labels_to_indices: dict[Label, list[int]] = {}
        for position, index in enumerate(self.to_true_indices):
            labels_to_indices.setdefault(base.indices_to_labels[index], []).append(position)
        super().__init__(Subset(base, self.to_true_indices), labels_to_indices=labels_to_indices)
