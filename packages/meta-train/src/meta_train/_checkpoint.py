"""Checkpoint files: atomic saving, ``weights_only`` loading, RNG states, fit checks.

The checks tell whether a checkpoint fits a trainer before any of the trainer's state is touched.
"""

from __future__ import annotations

import copy
import random
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from meta_functional.checks import describe_mismatch, describe_names

from ._history import History
from ._io import PathLike, atomic_write, check_writable

CHECKPOINT_FORMAT = 1

#: The sections of a trainer checkpoint, in the order `MetaTrainer.state_dict` writes them.
SECTIONS = ("format", "iteration", "module", "meta_optimizer", "scheduler", "history", "rng")
#: The section that a checkpoint of a distributed run (world size > 1) adds: every rank's RNG
#: states, a list by rank (``"rng"`` then holds rank 0's). Single-process checkpoints lack it,
#: so their layout is that of format 1 before distributed resume existed.
RANK_RNG_SECTION = "rng_by_rank"
_RNG_KEYS = ("torch", "cuda", "python", "sampler")
#: Param-group entries that say where a group's parameters are, not which optimizer it is
#: (``initial_lr`` is added by LR schedulers).
_GROUP_BOOKKEEPING = frozenset({"params", "param_names", "initial_lr"})


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, does not fit the trainer, or cannot be written.

    Raised by [`MetaTrainer.load_checkpoint`][meta_train.MetaTrainer.load_checkpoint] (and
    ``load_state_dict``) before any of the trainer's state is changed, and by
    [`MetaTrainer.fit`][meta_train.MetaTrainer.fit] before training when its
    ``checkpoint_path`` cannot be written. The message names the file (or ``state``), what
    it holds and what was expected.

    Examples:
        >>> issubclass(CheckpointError, ValueError)
        True
    """


def capture_rng_state(generator: torch.Generator | None) -> dict[str, Any]:
    """Snapshot every random number generator a meta-training run draws from.

    Args:
        generator: The task sampler's own generator, or ``None`` if it has none.

    Returns:
        ``{"torch": ByteTensor, "cuda": [ByteTensor, ...], "python": random.getstate(),
        "sampler": ByteTensor | None}``, made of tensors and primitive containers only (so
        ``torch.load(weights_only=True)`` can read it back).
    """
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python": _to_lists(random.getstate()),
        "sampler": generator.get_state() if generator is not None else None,
    }


def restore_rng_state(state: dict[str, Any], generator: torch.Generator | None) -> None:
    """Restore generators from `capture_rng_state`'s snapshot.

    Args:
        state: The snapshot.
        generator: The task sampler's generator to restore, or ``None``.

    Raises:
        CheckpointError: If the snapshot has a sampler state but ``generator`` is ``None``,
            or the other way round (checked before any generator is changed).
    """
    _check_sampler_presence(state["sampler"], generator)
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        # A run resumed on fewer GPUs than it was saved on restores the devices it has.
        for device, cuda_state in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(cuda_state, device)
    random.setstate(_python_rng_state(state["python"]))
    if generator is not None:
        generator.set_state(state["sampler"])


def _check_sampler_presence(sampler_state: object, generator: torch.Generator | None) -> None:
    if (sampler_state is None) != (generator is None):
        raise CheckpointError(
            "checkpoint and task sampler disagree on the sampler generator: the checkpoint "
            f"{'has no' if sampler_state is None else 'has a'} sampler RNG state, the task sampler "
            f"{'has no' if generator is None else 'has a'} `generator` attribute"
        )


def _python_rng_state(saved: Any) -> tuple[Any, ...]:
    """``random.getstate()``'s tuple from its list form in a checkpoint."""
    version, internal, gauss_next = saved
    return (version, tuple(internal), gauss_next)


def _to_lists(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_to_lists(item) for item in value]
    return value


def save_checkpoint_file(path: PathLike, payload: dict[str, Any]) -> Path:
    """``torch.save`` ``payload`` to ``path`` atomically (temp file beside it, then rename).

    Args:
        path: Destination file.
        payload: Tensors and primitive containers only.

    Returns:
        The path written.
    """
    return atomic_write(path, lambda file: torch.save(payload, file))


def check_checkpoint_path(path: PathLike) -> Path:
    """Refuse a checkpoint path that cannot be written, before any training is done.

    Args:
        path: Where checkpoints will be written (its directory is created if missing).

    Returns:
        The path.

    Raises:
        CheckpointError: If ``path`` is a directory, or its directory cannot be created or
            written.
    """
    try:
        return check_writable(path)
    except OSError as error:
        reason = error.strerror or str(error)
        raise CheckpointError(
            f"cannot write checkpoints to {str(path)!r}: {reason} ({type(error).__name__}); "
            "expected a file path in a writable directory"
        ) from error


def load_checkpoint_file(path: PathLike) -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint_file` with ``weights_only=True``.

    Args:
        path: The checkpoint.

    Returns:
        The payload, on the CPU.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        CheckpointError: If ``path`` is a directory, cannot be read (empty, truncated, not a
            ``torch.save`` file, or holding objects ``weights_only`` loading refuses), or is
            not a meta-train checkpoint of a known format; the message says what it holds.
    """
    checkpoint_path = Path(path)
    name = str(checkpoint_path)
    if checkpoint_path.is_dir():
        raise CheckpointError(f"{name!r} is a directory, expected a meta-train checkpoint file")
    if not checkpoint_path.is_file():
        raise FileNotFoundError(f"no checkpoint at {name!r}")
    try:
        with warnings.catch_warnings():
            # Plain pickles warn about their protocol before they fail; the error says more.
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            payload = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    # torch.load reports unreadable files with whatever its readers raise (OSError, EOFError,
    # RuntimeError, KeyError, UnpicklingError, ...): all mean "not a loadable checkpoint".
    except Exception as error:
        raise CheckpointError(
            f"cannot load {name!r} as a meta-train checkpoint: it {_describe_file(checkpoint_path)}"
            f"{_load_failure(error)}"
        ) from error
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(
            f"{name!r} is not a meta-train checkpoint of format "
            f"{CHECKPOINT_FORMAT} (found format {found!r}); it holds {_describe_payload(payload)}"
        )
    return payload


def _describe_file(path: Path) -> str:
    """What a file that ``torch.load`` refused looks like, from its size and first bytes."""
    size = path.stat().st_size
    if size == 0:
        return "is empty (0 bytes)"
    with open(path, "rb") as file:
        head = file.read(64)
    if head.startswith(b"PK\x03\x04"):
        return f"is a zip archive of {size} bytes (the torch.save format), truncated or corrupt"
    if head.startswith(b"\x80"):
        return f"is a plain Python pickle of {size} bytes, not a torch.save zip archive"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"holds {size} bytes of binary data starting with {head[:16]!r}"
    first_line = text.splitlines()[0] if text.strip() else text
    return f"holds {size} bytes of text starting with {first_line[:40]!r}"


def _load_failure(error: Exception) -> str:
    """The useful part of ``torch.load``'s complaint: which object ``weights_only`` refused."""
    marker = "Unsupported global: GLOBAL "
    message = str(error)
    if marker in message:
        refused = message.split(marker, 1)[1].split()[0]
        return f", and it holds a {refused} object, which a checkpoint never does"
    return ""


def _describe_payload(payload: object) -> str:
    if isinstance(payload, dict):
        return f"a dict with keys {describe_names(str(key) for key in payload)}"
    if isinstance(payload, torch.Tensor):
        return f"a single tensor of shape {tuple(payload.shape)}"
    return f"a {type(payload).__name__}"


@dataclass(frozen=True)
class CheckedState:
    """A trainer checkpoint that `check_trainer_state` found to fit the trainer."""

    iteration: int
    module: Mapping[str, Any]
    meta_optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None
    history: History
    rng: dict[str, Any]


def check_trainer_state(
    state: object,
    *,
    module: Any,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None,
    generator: torch.Generator | None,
    source: str,
    rank: int = 0,
    world_size: int = 1,
) -> CheckedState:
    """Check that ``state`` fits the trainer's objects, without changing any of them.

    Every section is checked the way loading it would use it: the module's keys and shapes,
    a dry-run load of the optimizer state into a shallow copy of ``optimizer`` (then the
    param-group options and per-parameter state keys are compared), the scheduler's public
    keys, the history, and each RNG state set on a scratch generator (every rank's, for a
    checkpoint of a distributed run).

    Args:
        state: What `MetaTrainer.state_dict` returned (possibly read from a file).
        module: The meta-learner (anything with ``state_dict()``).
        optimizer: The meta-optimizer.
        scheduler: The LR scheduler, or ``None``.
        generator: The task sampler's generator, or ``None``.
        source: How messages name ``state``, e.g. ``"checkpoint 'run/ck.pt'"``.
        rank: The rank whose RNG states the result holds.
        world_size: The number of processes that resume: a checkpoint saved by another
            number is refused, since each rank needs its own RNG states back.

    Returns:
        The sections, with the history already rebuilt and ``rng`` this rank's states.

    Raises:
        CheckpointError: Naming ``source``, the section and the mismatching keys.
    """
    if not isinstance(state, Mapping):
        raise CheckpointError(
            f"{source} must be a dict of {list(SECTIONS)}, got {_describe_payload(state)}"
        )
    missing = [key for key in SECTIONS if key not in state]
    if missing:
        raise CheckpointError(
            f"{source} lacks {describe_names(missing)}; a meta-train checkpoint holds "
            f"{list(SECTIONS)} and this one holds {describe_names(str(key) for key in state)}"
        )
    iteration = state["iteration"]
    if isinstance(iteration, bool) or not isinstance(iteration, int) or iteration < 0:
        raise CheckpointError(f"{source}: 'iteration' must be an int >= 0, got {iteration!r}")
    _check_module_state(state["module"], module, source)
    _check_optimizer_state(state["meta_optimizer"], optimizer, source)
    _check_scheduler_state(state["scheduler"], scheduler, source)
    _check_rng_state(state["rng"], generator, source)
    return CheckedState(
        iteration=iteration,
        module=state["module"],
        meta_optimizer=state["meta_optimizer"],
        scheduler=state["scheduler"],
        history=_checked_history(state["history"], source),
        rng=_rank_rng_state(state, generator, source, rank=rank, world_size=world_size),
    )


def saved_world_size(state: Mapping[str, Any]) -> int:
    """How many processes saved a trainer state: the length of its per-rank RNG list, or 1.

    Args:
        state: A trainer checkpoint's payload.

    Returns:
        The world size of the run that saved it (``1`` without a per-rank section).
    """
    by_rank = state.get(RANK_RNG_SECTION)
    return len(by_rank) if isinstance(by_rank, list) else 1


def _rank_rng_state(
    state: Mapping[str, Any],
    generator: torch.Generator | None,
    source: str,
    *,
    rank: int,
    world_size: int,
) -> dict[str, Any]:
    """This rank's RNG states, after checking that the state was saved by ``world_size`` ranks."""
    by_rank = state.get(RANK_RNG_SECTION)
    if by_rank is not None and not (isinstance(by_rank, list) and len(by_rank) > 1):
        found = (
            f"a list of {len(by_rank)}" if isinstance(by_rank, list) else _describe_payload(by_rank)
        )
        raise CheckpointError(
            f"{source}: {RANK_RNG_SECTION!r} must be a list of the RNG states of 2 or more "
            f"ranks, got {found}"
        )
    saved = saved_world_size(state)
    if saved != world_size:
        raise CheckpointError(
            f"{source} was saved by a run of world size {saved}, but this run has world size "
            f"{world_size}; resume it with {saved} process(es), since each rank restores its "
            "own RNG states"
        )
    if by_rank is None:
        rng: dict[str, Any] = state["rng"]
        return rng
    for index, rank_state in enumerate(by_rank):
        _check_rng_state(rank_state, generator, f"{source} (rank {index} of {saved})")
    mine: dict[str, Any] = by_rank[rank]
    return mine


def _check_module_state(saved: object, module: Any, source: str) -> None:
    if not isinstance(saved, Mapping):
        raise CheckpointError(
            f"{source}: 'module' must be a state dict, got {_describe_payload(saved)}"
        )
    expected: Mapping[str, Any] = module.state_dict()
    missing = sorted(set(expected) - set(saved))
    unexpected = sorted(set(saved) - set(expected))
    reshaped = [
        f"{name!r} is {_shape(saved[name])} in the checkpoint, {_shape(value)} in the model"
        for name, value in expected.items()
        if name in saved and _shape(saved[name]) != _shape(value)
    ]
    if missing or unexpected or reshaped:
        names = describe_mismatch(missing, unexpected, extra_label="unexpected")
        shapes = "shape mismatch: " + "; ".join(reshaped[:8]) if reshaped else ""
        raise CheckpointError(
            f"{source}: the module state does not fit this {type(module).__name__} (a model "
            f"of another architecture?): {'; '.join(part for part in (names, shapes) if part)}"
        )


def _shape(value: object) -> str:
    return str(tuple(value.shape)) if isinstance(value, torch.Tensor) else type(value).__name__


def _check_optimizer_state(saved: object, optimizer: torch.optim.Optimizer, source: str) -> None:
    kind = type(optimizer).__name__
    if not isinstance(saved, Mapping) or not {"state", "param_groups"} <= set(saved):
        raise CheckpointError(
            f"{source}: 'meta_optimizer' must be an optimizer state dict with 'state' and "
            f"'param_groups', got {_describe_payload(saved)}"
        )
    # load_state_dict on a shallow copy builds new state and param groups on the copy only,
    # and fills in the options this optimizer class defaults (so older checkpoints still fit).
    scratch = copy.copy(optimizer)
    try:
        scratch.load_state_dict(dict(saved))
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        # Another optimizer's state often fails inside load_state_dict; its options say why.
        _check_group_options(optimizer, saved["param_groups"], source)
        raise CheckpointError(
            f"{source}: the optimizer state does not fit this {kind}'s parameter groups "
            f"({len(optimizer.param_groups)} groups of sizes "
            f"{[len(group['params']) for group in optimizer.param_groups]}): "
            f"{type(error).__name__}: {error}"
        ) from error
    _check_group_options(optimizer, scratch.param_groups, source)
    for param, loaded_state in scratch.state.items():
        if not isinstance(param, torch.Tensor):
            raise CheckpointError(
                f"{source}: the optimizer state has an entry for parameter index {param!r}, but "
                f"this {kind} has {sum(len(g['params']) for g in optimizer.param_groups)} "
                "parameters"
            )
        live_state = optimizer.state.get(param)
        if live_state and set(live_state) != set(loaded_state):
            raise CheckpointError(
                f"{source}: the optimizer state is not one of this {kind} (another optimizer "
                f"type?): per-parameter state keys {describe_names(map(str, loaded_state))}, "
                f"expected {describe_names(map(str, live_state))}"
            )


def _check_group_options(optimizer: torch.optim.Optimizer, groups: object, source: str) -> None:
    """Refuse param groups whose options (``lr``, ``betas``, ...) are another optimizer's."""
    if not isinstance(groups, list) or not all(isinstance(group, Mapping) for group in groups):
        return  # malformed: load_state_dict's own error says more
    for index, (live, loaded) in enumerate(zip(optimizer.param_groups, groups, strict=False)):
        missing = sorted(set(live) - set(loaded) - _GROUP_BOOKKEEPING)
        unexpected = sorted(set(loaded) - set(live) - _GROUP_BOOKKEEPING)
        if missing or unexpected:
            raise CheckpointError(
                f"{source}: the optimizer state is not one of this {type(optimizer).__name__} "
                f"(another optimizer type?): parameter group {index} options "
                f"{describe_mismatch(missing, unexpected, extra_label='unexpected')}"
            )


def _check_scheduler_state(
    saved: object, scheduler: torch.optim.lr_scheduler.LRScheduler | None, source: str
) -> None:
    if (saved is None) != (scheduler is None):
        raise CheckpointError(
            f"{source}: checkpoint and trainer disagree on the LR scheduler: the checkpoint "
            f"{'has no' if saved is None else 'has a'} scheduler state, the trainer "
            f"{'has no' if scheduler is None else 'has a'} scheduler"
        )
    if scheduler is None:
        return
    kind = type(scheduler).__name__
    if not isinstance(saved, Mapping):
        raise CheckpointError(
            f"{source}: 'scheduler' must be a {kind} state dict, got {_describe_payload(saved)}"
        )
    # Only the public keys say which schedule it is; private ones come and go between
    # torch versions.
    live = {key for key in scheduler.state_dict() if not key.startswith("_")}
    loaded = {str(key) for key in saved if not str(key).startswith("_")}
    if live != loaded:
        mismatch = describe_mismatch(
            sorted(live - loaded), sorted(loaded - live), extra_label="unexpected"
        )
        raise CheckpointError(
            f"{source}: the scheduler state is not one of this {kind} (another schedule?): "
            f"{mismatch}"
        )


def _check_rng_state(saved: object, generator: torch.Generator | None, source: str) -> None:
    if not isinstance(saved, Mapping) or set(saved) != set(_RNG_KEYS):
        raise CheckpointError(
            f"{source}: 'rng' must be a dict with keys {list(_RNG_KEYS)}, got "
            f"{_describe_payload(saved)}"
        )
    try:
        _check_sampler_presence(saved["sampler"], generator)
    except CheckpointError as error:
        raise CheckpointError(f"{source}: {error}") from None
    trials: list[tuple[str, Any]] = [
        ("torch", lambda: torch.Generator().set_state(saved["torch"])),
        ("python", lambda: random.Random().setstate(_python_rng_state(saved["python"]))),
    ]
    if generator is not None:
        trials.append(
            ("sampler", lambda: torch.Generator(generator.device).set_state(saved["sampler"]))
        )
    for name, trial in trials:
        try:
            trial()
        except (TypeError, ValueError, RuntimeError) as error:
            raise CheckpointError(
                f"{source}: the {name!r} RNG state cannot be restored: {error}"
            ) from error
    cuda = saved["cuda"]
    if not isinstance(cuda, list) or not all(isinstance(s, torch.Tensor) for s in cuda):
        raise CheckpointError(
            f"{source}: the 'cuda' RNG state must be a list of tensors, got {cuda!r:.80}"
        )


def _checked_history(saved: object, source: str) -> History:
    if not isinstance(saved, dict):
        raise CheckpointError(
            f"{source}: 'history' must be a dict of lists, got {_describe_payload(saved)}"
        )
    try:
        return History.from_dict(saved)
    except (KeyError, ValueError, TypeError) as error:
        raise CheckpointError(f"{source}: the history cannot be read: {error}") from error
