"""Checkpoint files: atomic ``torch.save`` and ``weights_only`` loading, RNG state capture."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch

from ._io import PathLike, atomic_write

CHECKPOINT_FORMAT = 1


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
        ValueError: If the snapshot has a sampler state but ``generator`` is ``None``, or the
            other way round.
    """
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    sampler_state = state["sampler"]
    if (sampler_state is None) != (generator is None):
        raise ValueError(
            "checkpoint and task sampler disagree on the sampler generator: the checkpoint "
            f"{'has no' if sampler_state is None else 'has a'} sampler RNG state, the task sampler "
            f"{'has no' if generator is None else 'has a'} `generator` attribute"
        )
    if generator is not None:
        generator.set_state(sampler_state)


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


def load_checkpoint_file(path: PathLike) -> dict[str, Any]:
    """Load a checkpoint written by `save_checkpoint_file` with ``weights_only=True``.

    Args:
        path: The checkpoint.

    Returns:
        The payload, on the CPU.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        ValueError: If the file is not a meta-train checkpoint of a known format.
    """
    checkpoint_path = Path(path)
    if not checkpoint_path.is_file():
        raise FileNotFoundError(f"no checkpoint at {str(checkpoint_path)!r}")
    payload = torch.load(checkpoint_path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else type(payload).__name__
        raise ValueError(
            f"{str(checkpoint_path)!r} is not a meta-train checkpoint of format "
            f"{CHECKPOINT_FORMAT} (found format {found!r})"
        )
    return payload
