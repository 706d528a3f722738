"""`MetaDataModule` and `TaskStream`: the tasks `lightning.Trainer` feeds a meta-learner."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import lightning as L
import torch
from meta_functional.checks import check_non_negative_int
from meta_tasks import Task, TaskSampler, derive_seed

from ..cli._distributed import Ranks, share_bounds


def rank_share(meta_batch_size: int, rank: int, world_size: int) -> int:
    """Rank ``rank``'s tasks of a meta-batch split over ``world_size`` ranks.

    The split of [`MetaTrainer.fit`][meta_train.MetaTrainer.fit] (and of ``meta-train`` under
    ``torchrun``): the first ``meta_batch_size % world_size`` ranks take one task more.

    Args:
        meta_batch_size: Tasks per meta-update over all ranks.
        rank: This rank.
        world_size: The number of ranks.

    Returns:
        This rank's number of tasks.

    Raises:
        ValueError: If ``meta_batch_size`` is below ``world_size`` (a rank would get none).

    Examples:
        >>> [rank_share(5, rank, 2) for rank in (0, 1)]
        [3, 2]
    """
    if meta_batch_size < world_size:
        raise ValueError(
            f"meta_batch_size={meta_batch_size} is below the world size {world_size}; "
            "every rank needs at least one task"
        )
    start, stop = share_bounds(meta_batch_size, Ranks(rank=rank, world_size=world_size))
    return stop - start


class TaskStream:
    """One rank's meta-batches, ``epoch_length`` per epoch, each a function of its index.

    Meta-batch ``i`` (counted over the whole run) of rank ``r`` is
    ``sampler.sample(tasks_per_batch)`` right after seeding ``sampler.generator`` with
    ``derive_seed(seed, "train", r, i)``. So every rank draws its own tasks, every run with
    the same seed draws the same ones, and the stream's whole state is its position: Lightning
    saves ``state_dict`` in its checkpoints and restores it before iterating again, so a run
    resumed from any step draws exactly what the uninterrupted run draws.

    Iterating yields the meta-batches left in the current epoch (all ``epoch_length`` of them
    unless the stream was restored mid-epoch).

    Args:
        sampler: The task sampler; it must have a ``generator`` (``torch.Generator``), as
            [`SinusoidTaskSampler`][meta_tasks.SinusoidTaskSampler] and
            [`FewShotSampler`][meta_tasks.FewShotSampler] have.
        tasks_per_batch: Tasks per meta-batch of this rank.
        epoch_length: Meta-batches per epoch.
        seed: Seed of the stream.
        rank: This rank (``0`` in a single process).

    Attributes:
        position: Index of the next meta-batch, over the whole run.

    Raises:
        TypeError: If ``sampler`` has no ``sample`` method or no ``generator``.
        ValueError: If a count is not a positive int or ``rank`` is negative.

    Examples:
        >>> from meta_tasks import SinusoidTaskSampler
        >>> stream = TaskStream(SinusoidTaskSampler(), tasks_per_batch=4, epoch_length=3, seed=0)
        >>> [len(batch) for batch in stream], stream.state_dict()
        ([4, 4, 4], {'position': 3})
        >>> again = TaskStream(SinusoidTaskSampler(), tasks_per_batch=4, epoch_length=3, seed=0)
        >>> again.load_state_dict({"position": 2})
        >>> torch.equal(next(iter(again))[0].query_y, stream.meta_batch(2)[0].query_y)
        True
    """

    def __init__(
        self,
        sampler: TaskSampler,
        *,
        tasks_per_batch: int,
        epoch_length: int,
        seed: int,
        rank: int = 0,
    ) -> None:
        if not callable(getattr(sampler, "sample", None)):
            raise TypeError(
                "sampler must have a sample(meta_batch_size) -> list[Task] method, "
                f"got {type(sampler).__name__}"
            )
        if not isinstance(getattr(sampler, "generator", None), torch.Generator):
            raise TypeError(
                "sampler must draw from a torch.Generator in its 'generator' attribute (as "
                f"SinusoidTaskSampler and FewShotSampler do), got {type(sampler).__name__}"
            )
        self.sampler = sampler
        self.tasks_per_batch = check_non_negative_int(tasks_per_batch, "tasks_per_batch", minimum=1)
        self.epoch_length = check_non_negative_int(epoch_length, "epoch_length", minimum=1)
        self.seed = check_non_negative_int(seed, "seed")
        self.rank = check_non_negative_int(rank, "rank")
        self.position = 0

    def meta_batch(self, index: int) -> list[Task]:
        """Meta-batch ``index`` of this rank (the same on every call).

        Args:
            index: Its index over the whole run.

        Returns:
            ``tasks_per_batch`` tasks.
        """
        generator: torch.Generator = getattr(self.sampler, "generator")  # noqa: B009
        generator.manual_seed(derive_seed(self.seed, "train", self.rank, index))
        return self.sampler.sample(self.tasks_per_batch)

    def __len__(self) -> int:
        return self.epoch_length

    def __iter__(self) -> Iterator[list[Task]]:
        end = (self.position // self.epoch_length + 1) * self.epoch_length
        while self.position < end:
            batch = self.meta_batch(self.position)
            self.position += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        """``{"position": ...}``, the stream's whole state."""
        return {"position": self.position}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue from a [`state_dict`][meta_train.lightning.TaskStream.state_dict].

        Raises:
            ValueError: If ``state`` holds no non-negative int ``"position"``.
        """
        self.position = check_non_negative_int(state.get("position"), "the stream's position")


class EvalBatches:
    """Fixed tasks in batches of ``batch_size``, for Lightning's validation and test loops.

    (A plain list would be read by Lightning as a list of dataloaders.)

    Args:
        tasks: The tasks, in order.
        batch_size: Tasks per batch (the last batch may hold fewer).

    Examples:
        >>> from meta_tasks import SinusoidTaskSampler
        >>> [len(batch) for batch in EvalBatches(SinusoidTaskSampler(seed=0).sample(5), 2)]
        [2, 2, 1]
    """

    def __init__(self, tasks: Sequence[Task], batch_size: int) -> None:
        self.tasks = list(tasks)
        self.batch_size = check_non_negative_int(batch_size, "batch_size", minimum=1)

    def __len__(self) -> int:
        return -(-len(self.tasks) // self.batch_size)

    def __iter__(self) -> Iterator[list[Task]]:
        for start in range(0, len(self.tasks), self.batch_size):
            yield self.tasks[start : start + self.batch_size]


class MetaDataModule(L.LightningDataModule):
    """Meta-training, validation and test tasks for ``lightning.Trainer``.

    Training: a [`TaskStream`][meta_train.lightning.TaskStream] per rank over ``train``,
    ``epoch_length`` meta-batches per epoch. ``meta_batch_size`` is the number of tasks of a
    meta-update over all ranks; each rank draws its share (as
    [`MetaTrainer.fit`][meta_train.MetaTrainer.fit] splits it) from its own deterministic
    stream, seeded from ``(seed, rank)``. Validation and test: every rank evaluates all the
    given tasks (as ``MetaTrainer`` does), ``eval_batch_size`` tasks per batch.

    Args:
        train: Sampler of the meta-training tasks (with a ``generator``, see
            [`TaskStream`][meta_train.lightning.TaskStream]).
        validation: Held-out tasks evaluated by ``validate`` and during ``fit``, or ``None``.
        test: Tasks evaluated by ``trainer.test``, or ``None``.
        meta_batch_size: Tasks per meta-update, over all ranks.
        epoch_length: Meta-updates per epoch.
        seed: Seed of the training streams.
        eval_batch_size: Tasks per validation or test batch.

    Raises:
        TypeError: If ``validation`` or ``test`` is not a sequence of
            [`Task`][meta_tasks.Task], or ``train`` is no sampler with a generator.
        ValueError: If a count is not a positive int, or a task list is empty; in ``setup``,
            if ``meta_batch_size`` is below the world size.

    Examples:
        >>> from meta_tasks import SinusoidTaskSampler
        >>> data = MetaDataModule(
        ...     SinusoidTaskSampler(), SinusoidTaskSampler(seed=1).sample(10),
        ...     meta_batch_size=4, epoch_length=100,
        ... )
        >>> data.setup("fit")
        >>> len(data.train_dataloader()), [len(b) for b in data.val_dataloader()]
        (100, [8, 2])
    """

    def __init__(
        self,
        train: TaskSampler,
        validation: Sequence[Task] | None = None,
        test: Sequence[Task] | None = None,
        *,
        meta_batch_size: int,
        epoch_length: int,
        seed: int = 0,
        eval_batch_size: int = 8,
    ) -> None:
        super().__init__()
        self.train = train
        self.validation = _checked_tasks(validation, "validation")
        self.test = _checked_tasks(test, "test")
        self.meta_batch_size = check_non_negative_int(meta_batch_size, "meta_batch_size", minimum=1)
        self.epoch_length = check_non_negative_int(epoch_length, "epoch_length", minimum=1)
        self.seed = check_non_negative_int(seed, "seed")
        self.eval_batch_size = check_non_negative_int(eval_batch_size, "eval_batch_size", minimum=1)
        self.stream = self._stream(rank=0, world_size=1)

    def _stream(self, *, rank: int, world_size: int) -> TaskStream:
        return TaskStream(
            self.train,
            tasks_per_batch=rank_share(self.meta_batch_size, rank, world_size),
            epoch_length=self.epoch_length,
            seed=self.seed,
            rank=rank,
        )

    def setup(self, stage: str) -> None:
        """Build this rank's training stream (the trainer's rank and world size)."""
        trainer = self.trainer
        if trainer is not None and stage == "fit":
            self.stream = self._stream(rank=trainer.global_rank, world_size=trainer.world_size)

    def train_dataloader(self) -> TaskStream:
        """This rank's [`TaskStream`][meta_train.lightning.TaskStream]."""
        return self.stream

    def val_dataloader(self) -> EvalBatches:
        """The validation tasks in batches (none without ``validation``)."""
        return EvalBatches(self.validation, self.eval_batch_size)

    def test_dataloader(self) -> EvalBatches:
        """The test tasks in batches (none without ``test``)."""
        return EvalBatches(self.test, self.eval_batch_size)

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        """Move a list of tasks with [`Task.to`][meta_tasks.Task.to], anything else as Lightning.

        Lightning's generic transfer deep-copies every dataclass it meets (about 0.4 ms
        a meta-batch even when nothing moves); `Task.to` returns a task that is already on
        ``device`` unchanged.
        """
        if isinstance(batch, list) and all(isinstance(task, Task) for task in batch):
            return [task.to(device) for task in batch]
        return super().transfer_batch_to_device(batch, device, dataloader_idx)


def _checked_tasks(tasks: Sequence[Task] | None, name: str) -> list[Task]:
    if tasks is None:
        return []
    if isinstance(tasks, Task) or not isinstance(tasks, Sequence):
        raise TypeError(f"{name} must be a sequence of Task or None, got {type(tasks).__name__}")
    if len(tasks) == 0:
        raise ValueError(f"{name} needs at least one task (or None), got an empty sequence")
    for index, task in enumerate(tasks):
        if not isinstance(task, Task):
            raise TypeError(f"{name}[{index}] must be a meta_tasks.Task, got {type(task).__name__}")
    return list(tasks)
