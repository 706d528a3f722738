"""``meta-train`` under ``torchrun``: the process group, each rank's device, tasks and output.

``torchrun --nproc-per-node N -m meta_train ...`` starts N processes with ``WORLD_SIZE``,
``RANK`` and ``LOCAL_RANK`` in their environment. With ``WORLD_SIZE`` above 1 the run joins a
process group (gloo on the CPU, NCCL on CUDA, where ``--device cuda`` means
``cuda:LOCAL_RANK``) and [`MetaTrainer`][meta_train.MetaTrainer] splits every meta-batch
across the ranks and averages their meta-gradients.

Seeding: the model is built after seeding with ``--seed`` on every rank, so every rank starts
from the same parameters; the task samplers are seeded with ``--seed`` on every rank too, and
each rank draws the whole meta-batch and keeps its own share of it (`RankShare`), so the
ranks together meta-train on exactly the tasks of a one-process run with the same
``--meta-batch``, and the runs agree up to the order of floating-point sums. Once the model
is built, the global generators (torch, Python ``random``: dropout and the like) are seeded
with ``--seed + rank``, so that ranks draw different noise.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist
from meta_tasks import Task, TaskSampler

_ENVIRONMENT = ("WORLD_SIZE", "RANK", "LOCAL_RANK")


@dataclass(frozen=True)
class Ranks:
    """Where this process stands in a ``torchrun`` launch.

    Attributes:
        rank: This process's rank, ``0`` to ``world_size - 1``.
        world_size: The number of processes.
        local_rank: The rank on this machine (which GPU it uses).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        """Whether the run spans several processes."""
        return self.world_size > 1

    @property
    def writer(self) -> bool:
        """Whether this process writes the run's files and prints (rank 0)."""
        return self.rank == 0


def ranks_from_environment(environment: Mapping[str, str] | None = None) -> Ranks:
    """This process's `Ranks` from the variables ``torchrun`` sets.

    Args:
        environment: The variables; ``None`` reads ``os.environ``.

    Returns:
        ``Ranks()`` (one process) when ``WORLD_SIZE`` is unset.

    Raises:
        ValueError: If a variable is not an integer, or they do not fit together
            (``0 <= RANK < WORLD_SIZE``).
    """
    found = os.environ if environment is None else environment
    if "WORLD_SIZE" not in found:
        return Ranks()
    values: dict[str, int] = {}
    for name in _ENVIRONMENT:
        text = found.get(name, "0")
        try:
            values[name] = int(text)
        except ValueError:
            raise ValueError(
                f"the environment variable {name}={text!r} is not an integer; "
                "launch with torchrun, which sets WORLD_SIZE, RANK and LOCAL_RANK"
            ) from None
    world_size, rank = values["WORLD_SIZE"], values["RANK"]
    if world_size < 1 or not 0 <= rank < world_size or values["LOCAL_RANK"] < 0:
        raise ValueError(
            f"the environment says RANK={rank} of WORLD_SIZE={world_size} "
            f"(LOCAL_RANK={values['LOCAL_RANK']}); expected 0 <= RANK < WORLD_SIZE"
        )
    return Ranks(rank=rank, world_size=world_size, local_rank=values["LOCAL_RANK"])


def rank_device(device: torch.device, ranks: Ranks) -> torch.device:
    """The device of this rank: ``cuda`` without an index becomes ``cuda:LOCAL_RANK``."""
    if ranks.distributed and str(device) == "cuda":
        return torch.device("cuda", ranks.local_rank)
    return device


@contextlib.contextmanager
def process_group(ranks: Ranks, device: torch.device) -> Iterator[None]:
    """Join the ``torchrun`` process group for the duration of the block, then leave it.

    Does nothing for a one-process run. The backend is NCCL for a CUDA ``device`` (made
    the current device), gloo otherwise. After a block that ended normally, the ranks leave
    together (a barrier first); after an error, at once, since the others may be gone.

    Args:
        ranks: This process's place in the launch.
        device: This rank's device (see `rank_device`).

    Yields:
        Nothing; the process group is initialised inside the block.
    """
    if not ranks.distributed:
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(
        "nccl" if device.type == "cuda" else "gloo",
        rank=ranks.rank,
        world_size=ranks.world_size,
    )
    finished = False
    try:
        yield
        finished = True
    finally:
        if finished:
            dist.barrier()
        dist.destroy_process_group()


def agreed_signal(signum: int | None, device: torch.device) -> int | None:
    """The signal that asked any rank to stop, so that every rank stops after the same step.

    A collective under ``torch.distributed`` (every rank must call it at the same point);
    otherwise returns ``signum``.

    Args:
        signum: The signal this rank received, or ``None``.
        device: This rank's device (NCCL reduces on the GPU).

    Returns:
        The highest signal number any rank received, or ``None`` when none did.
    """
    if not (dist.is_available() and dist.is_initialized()):
        return signum
    received = torch.tensor([signum or 0], dtype=torch.int64, device=device)
    dist.all_reduce(received, op=dist.ReduceOp.MAX)
    highest = int(received.item())
    return highest or None


@contextlib.contextmanager
def quiet_unless_writer(ranks: Ranks) -> Iterator[None]:
    """Discard what ranks other than 0 print to stdout (their errors still reach stderr)."""
    if ranks.writer:
        yield
        return
    with open(os.devnull, "w") as sink, contextlib.redirect_stdout(sink):
        yield


def share_bounds(total: int, ranks: Ranks) -> tuple[int, int]:
    """``(start, stop)`` of this rank's share of ``total`` tasks.

    The first ``total % world_size`` ranks take one task more, as
    [`MetaTrainer.fit`][meta_train.MetaTrainer.fit] asks of them.
    """
    base, extra = divmod(total, ranks.world_size)
    start = ranks.rank * base + min(ranks.rank, extra)
    return start, start + base + (1 if ranks.rank < extra else 0)


class RankShare:
    """A task sampler that draws the whole meta-batch and serves this rank's share of it.

    Every rank wraps an identically seeded sampler, so all ranks draw the same meta-batch
    and together train on the tasks a one-process run draws (see the module docstring).

    Args:
        sampler: The command's training sampler, seeded alike on every rank.
        meta_batch: The total meta-batch size (``--meta-batch``).
        ranks: This process's place in the launch.
    """

    def __init__(self, sampler: TaskSampler, meta_batch: int, ranks: Ranks) -> None:
        self.sampler = sampler
        self.meta_batch = meta_batch
        self.ranks = ranks

    @property
    def generator(self) -> torch.Generator | None:
        """The wrapped sampler's generator (checkpoints save and restore it)."""
        generator = getattr(self.sampler, "generator", None)
        return generator if isinstance(generator, torch.Generator) else None

    def sample(self, meta_batch_size: int) -> list[Task]:
        """Draw ``meta_batch`` tasks and return this rank's ``meta_batch_size`` of them.

        Raises:
            ValueError: If ``meta_batch_size`` is not this rank's share of ``meta_batch``.
        """
        start, stop = share_bounds(self.meta_batch, self.ranks)
        if meta_batch_size != stop - start:
            raise ValueError(
                f"rank {self.ranks.rank} of {self.ranks.world_size} was asked for "
                f"{meta_batch_size} tasks, but its share of the meta-batch of "
                f"{self.meta_batch} is {stop - start}"
            )
        return self.sampler.sample(self.meta_batch)[start:stop]
