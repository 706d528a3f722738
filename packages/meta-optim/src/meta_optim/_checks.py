"""Boundary checks of meta-optim; every message names what was given and what was expected.

The checks every package shares (numbers, names, losses, modules) live in
[`meta_functional.checks`][meta_functional.checks]; this module holds only those about
meta-optim's own objects (learning rates that may be tensors, tensor maps, optimizer states).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meta_functional.checks import check_finite_rate, describe_names
from torch import Tensor


def check_lr(lr: object) -> None:
    """Raise unless ``lr`` is a finite real number ``>= 0`` or a single-element float tensor."""
    if isinstance(lr, Tensor):
        if lr.numel() != 1:
            raise ValueError(f"lr must be a scalar tensor, got shape {tuple(lr.shape)}")
        if not lr.is_floating_point():
            raise TypeError(f"lr must be a floating-point tensor, got dtype {lr.dtype}")
        return
    check_finite_rate(lr, "lr")


def check_in_unit_interval(name: str, value: float, *, closed: bool) -> None:
    """Raise unless ``0 <= value <= 1`` (``closed``) or ``0 <= value < 1``."""
    number = check_finite_rate(value, name)
    if number > 1 or (number == 1 and not closed):
        interval = "[0, 1]" if closed else "[0, 1)"
        raise ValueError(f"{name} must be in {interval}, got {value}")


def check_tensor_map(what: str, mapping: object) -> None:
    """Raise unless ``mapping`` is a mapping from names to tensors."""
    if not isinstance(mapping, Mapping):
        raise TypeError(
            f"{what} must be a mapping from parameter names to tensors, "
            f"got {type(mapping).__name__}"
        )
    bad = [str(name) for name, value in mapping.items() if not isinstance(value, Tensor)]
    if bad:
        raise TypeError(
            f"{what} must map names to tensors; entries {describe_names(bad)} are not tensors"
        )


def check_same_names(
    left_what: str,
    left: Mapping[str, Any],
    right_what: str,
    right: Mapping[str, Any],
    optimizer: str,
) -> None:
    """Raise a KeyError naming the differences unless both mappings have the same keys."""
    if left.keys() == right.keys():
        return
    missing = [name for name in right if name not in left]
    extra = [name for name in left if name not in right]
    problems = []
    if missing:
        problems.append(f"{left_what} lacks {describe_names(missing)}")
    if extra:
        problems.append(f"{left_what} has {describe_names(extra)} that {right_what} lacks")
    raise KeyError(
        f"{optimizer}: {left_what} and {right_what} name different parameters: "
        f"{'; '.join(problems)}; expected the names {describe_names(list(right))}"
    )


def check_state_type(state: object, expected: type, optimizer: str) -> None:
    """Raise unless ``state`` is an instance of ``expected`` (the optimizer's state type)."""
    if not isinstance(state, expected):
        raise TypeError(
            f"{optimizer}.update expected a {expected.__name__} from {optimizer}.init, "
            f"got {type(state).__name__}"
        )
