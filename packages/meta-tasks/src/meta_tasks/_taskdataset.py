"""`TaskDataset`: tasks sampled through task transforms; support/query split; endless loaders."""

from __future__ import annotations

import hashlib
import operator
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Generic, TypeVar

import torch
from torch import Tensor
from torch.utils.data import Dataset, default_collate, get_worker_info

from ._metadataset import MetaDataset
from ._task import Task, check_int
from ._transforms import ItemDescription, TaskDescription

TaskTransformFn = Callable[[TaskDescription | None, torch.Generator | None], TaskDescription]
"""A task transform: ``(description or None, generator) -> description`` (see
[`TaskTransform`][meta_tasks.TaskTransform])."""

T = TypeVar("T")


def derive_seed(seed: int, *keys: object) -> int:
    """A 63-bit seed derived from ``seed`` and ``keys``, the same in every process.

    Args:
        seed: The base seed.
        *keys: What the derived seed is for (e.g. ``"task", 7``).

    Returns:
        A non-negative int below ``2**63``.

    Examples:
        >>> derive_seed(0, "task", 1) == derive_seed(0, "task", 1) != derive_seed(0, "task", 2)
        True
    """
    digest = hashlib.blake2b(repr((seed, *keys)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


class TaskDataset(Dataset[Any]):
    """Tasks drawn from a labelled dataset through a chain of task transforms.

    A task is sampled by calling each transform in turn on a task description (the first
    receives ``None``), then loading every item of the final description (its per-item
    functions, see [`ItemDescription`][meta_tasks.ItemDescription]) and collating the items
    with ``collate``. With the usual chain ``[NWays, KShots, LoadData, RemapLabels]`` a task is
    ``[inputs, labels]``; [`split_by_shots`][meta_tasks.split_by_shots] turns it into a
    [`Task`][meta_tasks.Task].

    * ``num_tasks=-1``: an endless stream. Every ``dataset[i]``, ``sample()`` and step of
      iteration draws a new task; ``len`` is 1 (learn2learn's convention).
    * ``num_tasks=n``: ``n`` fixed tasks. Task ``i`` is drawn from a generator seeded from
      ``(seed, i)``, so it is the same in every process (``DataLoader`` workers included)
      and for every call; its description is cached in ``sampled_descriptions`` on first use
      and replayed. Iteration yields tasks ``0 .. n-1``.

    All randomness comes from ``torch.Generator`` objects derived from ``seed``: the same seed
    gives the same tasks. The stream of an endless dataset is derived from
    ``(seed, worker id)`` inside ``DataLoader`` workers, so workers draw different tasks. The
    dataset pickles (its transforms and per-item functions are plain objects), so a
    ``DataLoader`` with ``num_workers > 0`` works with any start method.

    Args:
        dataset: The labelled dataset (wrapped in a [`MetaDataset`][meta_tasks.MetaDataset]
            if it is not one; the transforms must use that same ``MetaDataset``).
        transforms: Task transforms, called in order with ``(description, generator)``.
        num_tasks: ``-1`` for an endless stream, else the number of fixed tasks.
        seed: Seed of all draws; ``None`` draws one from torch's global generator.
        collate: Turns the list of loaded items into a task; default
            ``torch.utils.data.default_collate``.

    Attributes:
        dataset: The [`MetaDataset`][meta_tasks.MetaDataset].
        transforms: The task transforms.
        num_tasks: ``-1`` or the number of tasks.
        seed: The seed in use.
        collate: The collate function.
        sampled_descriptions: Cached descriptions of the fixed tasks, by index.

    Raises:
        TypeError: If a transform or ``collate`` is not callable, or ``num_tasks``/``seed`` is
            not an int.
        ValueError: If ``num_tasks`` is neither -1 nor positive.

    Examples:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> from meta_tasks import KShots, LoadData, MetaDataset, NWays, RemapLabels
        >>> data = MetaDataset(TensorDataset(torch.randn(40, 3), torch.arange(40) % 8))
        >>> chain = [NWays(data, 5), KShots(data, 2), LoadData(data), RemapLabels(data)]
        >>> tasks = TaskDataset(data, chain, num_tasks=100, seed=0)
        >>> inputs, labels = tasks[3]
        >>> tuple(inputs.shape), sorted(labels.tolist())
        ((10, 3), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4])
        >>> torch.equal(tasks[3][0], TaskDataset(data, chain, num_tasks=100, seed=0)[3][0])
        True
    """

    def __init__(
        self,
        dataset: Any,
        transforms: Sequence[TaskTransformFn] = (),
        *,
        num_tasks: int = -1,
        seed: int | None = None,
        collate: Callable[[list[Any]], Any] | None = None,
    ) -> None:
        self.dataset = dataset if isinstance(dataset, MetaDataset) else MetaDataset(dataset)
        self.transforms = list(transforms)
        for position, transform in enumerate(self.transforms):
            if not callable(transform):
                raise TypeError(
                    f"transforms[{position}] must be a callable (description, generator) -> "
                    f"description, got {type(transform).__name__}"
                )
        self.num_tasks = check_int("num_tasks", num_tasks, minimum=-1)
        if self.num_tasks == 0:
            raise ValueError("num_tasks must be -1 (an endless stream) or positive, got 0")
        if seed is None:
            seed = int(torch.randint(0, 2**62, (1,)).item())
        self.seed = check_int("seed", seed, minimum=0)
        if collate is not None and not callable(collate):
            raise TypeError(f"collate must be callable or None, got {type(collate).__name__}")
        self.collate = default_collate if collate is None else collate
        self.sampled_descriptions: dict[int, TaskDescription] = {}
        self._origin_pid = os.getpid()
        self._stream: torch.Generator | None = None
        self._stream_key: tuple[object, ...] = ()

    def _stream_generator(self) -> torch.Generator:
        worker = get_worker_info()
        if worker is not None:
            key: tuple[object, ...] = ("worker", worker.id)
        elif os.getpid() != self._origin_pid:
            key = ("process", os.getpid())
        else:
            key = ("stream",)
        if self._stream is None or key != self._stream_key:
            self._stream = torch.Generator().manual_seed(derive_seed(self.seed, *key))
            self._stream_key = key
        return self._stream

    def sample_task_description(self, generator: torch.Generator | None = None) -> TaskDescription:
        """Run the transforms once and return the new description (nothing is cached).

        Args:
            generator: Source of the random choices; by default the dataset's own stream.

        Returns:
            The description (every item of the dataset when there are no transforms).
        """
        generator = self._stream_generator() if generator is None else generator
        description: TaskDescription | None = None
        for transform in self.transforms:
            description = transform(description, generator)
        if description is None:
            return [ItemDescription(index) for index in range(len(self.dataset))]
        return description

    def describe(self, index: int) -> TaskDescription:
        """Return the description of fixed task ``index`` (sampled and cached on first use).

        Args:
            index: Task index (negative counts from the end).

        Returns:
            The cached description.

        Raises:
            IndexError: If the dataset is endless or ``index`` is out of range.
        """
        if self.num_tasks == -1:
            raise IndexError("an endless TaskDataset (num_tasks=-1) has no fixed tasks")
        position = operator.index(index)
        if not -self.num_tasks <= position < self.num_tasks:
            raise IndexError(f"task index {index} is out of range for {self.num_tasks} tasks")
        position %= self.num_tasks
        cached = self.sampled_descriptions.get(position)
        if cached is None:
            generator = torch.Generator().manual_seed(derive_seed(self.seed, "task", position))
            cached = self.sampled_descriptions[position] = self.sample_task_description(generator)
        return cached

    def get_task(self, description: TaskDescription) -> Any:
        """Load every item of ``description`` and collate them into a task.

        Args:
            description: A task description.

        Returns:
            ``collate([item.load() for item in description])``.
        """
        return self.collate([item.load() for item in description])

    def __getitem__(self, index: int) -> Any:
        """Return fixed task ``index``, or a new task for an endless dataset (any index).

        Raises:
            IndexError: If ``index`` is out of range of the fixed tasks.
        """
        if self.num_tasks == -1:
            return self.get_task(self.sample_task_description())
        return self.get_task(self.describe(index))

    def sample(self) -> Any:
        """Return a random fixed task (drawn from the stream), or a new task if endless."""
        if self.num_tasks == -1:
            return self[0]
        index = torch.randint(self.num_tasks, (1,), generator=self._stream_generator())
        return self[int(index.item())]

    def __len__(self) -> int:
        return 1 if self.num_tasks == -1 else self.num_tasks

    def __iter__(self) -> Iterator[Any]:
        """Yield the fixed tasks in order, or new tasks forever if endless."""
        if self.num_tasks == -1:
            while True:
                yield self[0]
        for index in range(self.num_tasks):
            yield self[index]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_stream"], state["_stream_key"] = None, ()
        return state

    def __repr__(self) -> str:
        tasks = "endless" if self.num_tasks == -1 else str(self.num_tasks)
        return (
            f"{type(self).__name__}(tasks={tasks}, transforms={len(self.transforms)}, "
            f"dataset={self.dataset!r})"
        )


def split_by_shots(inputs: Tensor, labels: Tensor, shots: int, *, ways: int | None = None) -> Task:
    """Split a classification task into support and query: ``shots`` items of each label.

    Labels are taken in increasing order; for each, its first ``shots`` items (in the order
    given) go to the support set and the rest to the query set. Every label must have the
    same number of items.

    Args:
        inputs: Inputs of the task, ``(n, ...)``.
        labels: Their labels, ``(n,)``.
        shots: Support items per label (0 gives an empty support set).
        ways: Expected number of labels (checked when given).

    Returns:
        A [`Task`][meta_tasks.Task] whose support and query sets are grouped by label.

    Raises:
        TypeError: If ``inputs`` or ``labels`` is not a tensor, or ``shots``/``ways`` is not
            an int.
        ValueError: If the shapes do not match, the labels are not all equally frequent,
            ``ways`` differs from the number of labels, or a label has fewer than ``shots``
            items.

    Examples:
        >>> import torch
        >>> task = split_by_shots(torch.arange(6.0), torch.tensor([1, 0, 1, 0, 1, 0]), 1)
        >>> task.support_x.tolist(), task.support_y.tolist(), task.query_y.tolist()
        ([1.0, 0.0], [0, 1], [0, 0, 1, 1])
    """
    for name, value in (("inputs", inputs), ("labels", labels)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if labels.dim() != 1 or inputs.dim() == 0 or inputs.shape[0] != labels.shape[0]:
        raise ValueError(
            f"split_by_shots expects inputs (n, ...) and labels (n,), got shapes "
            f"{tuple(inputs.shape)} and {tuple(labels.shape)}"
        )
    shots = check_int("shots", shots, minimum=0)
    unique, counts = torch.unique(labels, return_counts=True)
    if ways is not None and check_int("ways", ways) != unique.numel():
        raise ValueError(f"split_by_shots expected {ways} labels, got {unique.numel()}")
    per_label = int(counts[0]) if counts.numel() else 0
    if bool((counts != per_label).any()):
        raise ValueError(
            f"split_by_shots needs the same number of items for every label, got counts "
            f"{dict(zip(unique.tolist(), counts.tolist(), strict=True))}"
        )
    if shots > per_label:
        raise ValueError(f"shots={shots} but every label has only {per_label} items")
    grouped = torch.argsort(labels, stable=True).view(unique.numel(), per_label)
    support = grouped[:, :shots].reshape(-1)
    query = grouped[:, shots:].reshape(-1)
    return Task(inputs[support], labels[support], inputs[query], labels[query])


class InfiniteIterator(Generic[T]):
    """Iterate over a data loader (or any re-iterable) forever, restarting it when it ends.

    Each restart calls ``iter(loader)`` again, so a shuffling ``DataLoader`` reshuffles.

    Args:
        loader: The iterable to cycle through.

    Raises:
        ValueError: (from ``next``) if the loader yields nothing.

    Examples:
        >>> from itertools import islice
        >>> list(islice(InfiniteIterator([1, 2, 3]), 7))
        [1, 2, 3, 1, 2, 3, 1]
    """

    def __init__(self, loader: Iterable[T]) -> None:
        self.loader = loader
        self._iterator = iter(loader)

    def __iter__(self) -> InfiniteIterator[T]:
        return self

    def __next__(self) -> T:
        try:
            return next(self._iterator)
        except StopIteration:
            self._iterator = iter(self.loader)
        try:
            return next(self._iterator)
        except StopIteration:
            raise ValueError("InfiniteIterator: the loader yields no items") from None
