"""Argument checks shared by every meta-* package; each message names what was expected.

A ``check_*`` function returns the checked value, so callers validate and assign in one line,
or raises ``TypeError``/``ValueError``/``KeyError`` naming the argument, the value and the need.

Examples:
    >>> check_non_negative_int(3, "inner_steps"), check_flag(True, "first_order")
    (3, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

from torch import Tensor, nn

__all__ = [
    "check_adapt_names",
    "check_differentiable_loss",
    "check_finite_rate",
    "check_flag",
    "check_lr_shape",
    "check_module",
    "check_non_negative_int",
    "check_one_per_parameter",
    "check_params_match",
    "check_scalar_loss",
    "describe_mismatch",
    "describe_names",
    "parameter_aliases",
]


def describe_names(names: Iterable[str], limit: int = 8) -> str:
    """Render a sorted, possibly truncated list of names for an error message."""
    ordered = sorted(names)
    shown = ", ".join(repr(name) for name in ordered[:limit])
    if len(ordered) > limit:
        shown += f", ... ({len(ordered) - limit} more)"
    return f"[{shown}]"


def describe_mismatch(missing: Sequence[str], extra: Sequence[str], *, extra_label: str) -> str:
    """Render the ``missing [...]; <extra_label> [...]`` part of a name-mismatch message."""
    problems = []
    if missing:
        problems.append(f"missing {describe_names(missing)}")
    if extra:
        problems.append(f"{extra_label} {describe_names(extra)}")
    return "; ".join(problems)


def check_scalar_loss(loss: object, what: str = "loss") -> Tensor:
    """Return ``loss`` if it is a single-element tensor (TypeError/ValueError otherwise)."""
    if not isinstance(loss, Tensor):
        raise TypeError(f"{what} must be a torch.Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(
            f"{what} must be a scalar (a 0-dim or single-element tensor), got shape "
            f"{tuple(loss.shape)}; reduce it first, e.g. with .mean() or .sum()"
        )
    return loss


def check_differentiable_loss(loss: object, what: str = "loss") -> Tensor:
    """Return ``loss`` if it is a single-element tensor that requires grad (errors otherwise)."""
    checked = check_scalar_loss(loss, what)
    if not checked.requires_grad:
        raise ValueError(
            f"{what} does not require grad; expected a loss computed with the parameters being "
            "adapted"
        )
    return checked


def check_adapt_names(adapt_names: Iterable[str] | None, params: Mapping[str, Tensor]) -> list[str]:
    """Resolve ``adapt_names`` (``None`` means all) against ``params``; unknown names raise."""
    if adapt_names is None:
        return list(params)
    if isinstance(adapt_names, str):
        raise TypeError(
            f"adapt_names must be an iterable of parameter names, got the string {adapt_names!r}; "
            f"wrap a single name in a list"
        )
    requested = list(dict.fromkeys(adapt_names))
    unknown = [name for name in requested if name not in params]
    if unknown:
        raise KeyError(
            f"adapt_names contains names that are not parameters: {describe_names(unknown)}; "
            f"expected a subset of {describe_names(params)}"
        )
    if not requested:
        raise ValueError(
            f"adapt_names is empty: nothing would be adapted; expected a non-empty subset of "
            f"{describe_names(params)}"
        )
    return requested


def parameter_aliases(model: nn.Module) -> dict[str, list[str]]:
    """Map each parameter's primary name to every name it is reachable under (tied weights)."""
    primary_of: dict[int, str] = {}
    aliases: dict[str, list[str]] = {}
    for name, parameter in model.named_parameters(remove_duplicate=False):
        primary = primary_of.setdefault(id(parameter), name)
        aliases.setdefault(primary, []).append(name)
    return aliases


def check_params_match(model: nn.Module, params: Mapping[str, Tensor]) -> None:
    """Raise unless ``params`` names every parameter of ``model`` once and nothing else."""
    aliases = parameter_aliases(model)
    known = {alias for names in aliases.values() for alias in names}
    extra = [name for name in params if name not in known]
    missing = [
        primary for primary, names in aliases.items() if not any(alias in params for alias in names)
    ]
    if extra or missing:
        raise KeyError(
            f"params do not match the parameters of {type(model).__name__}: "
            f"{describe_mismatch(missing, extra, extra_label='unexpected')}; "
            f"expected exactly the names of named_params(model)"
        )


def check_lr_shape(name: str, lr: Tensor, param: Tensor) -> None:
    """Raise unless a per-parameter learning rate is a scalar or has its parameter's shape."""
    if lr.numel() != 1 and lr.shape != param.shape:
        raise ValueError(
            f"learning rate for {name!r} has shape {tuple(lr.shape)}; expected a scalar or the "
            f"parameter's shape {tuple(param.shape)}"
        )


def check_one_per_parameter(
    model: nn.Module, count: int, function: str, what: str, *, expected: int | None = None
) -> None:
    """Raise ValueError unless ``count`` (of ``what``, e.g. "gradients") equals the parameters'.

    ``expected``: the number of ``model.parameters()``, when the caller has counted them.
    """
    expected = len(list(model.parameters())) if expected is None else expected
    if count != expected:
        raise ValueError(
            f"{function} got {count} {what} for the {expected} parameters of "
            f"{type(model).__name__}; expected one per tensor of parameters(), in that order"
        )


def check_non_negative_int(value: object, what: str, *, minimum: int = 0) -> int:
    """Return ``value`` if it is an int (not a bool) ``>= minimum`` (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        bound = "a non-negative int" if minimum == 0 else f"an int >= {minimum}"
        raise ValueError(f"{what} must be {bound}, got {value!r}")
    return value


def check_finite_rate(value: object, what: str = "inner_lr") -> float:
    """Return a finite real ``value >= 0`` (a step size, decay, momentum) as a float.

    Raises TypeError for a non-number or a bool, ValueError if it is not finite or negative.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(
            f"{what} must be a finite real number, got {value!r} ({type(value).__name__})"
        )
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite real number, got {value!r}")
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value!r}")
    return float(value)


def check_flag(value: object, what: str) -> bool:
    """Return ``value`` if it is a ``bool``; TypeError for stand-ins such as ``"no"`` or ``1``."""
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be True or False, got {value!r} ({type(value).__name__})")
    return value


def check_module(module: object, what: str = "module") -> nn.Module:
    """Return ``module`` if it is a ``torch.nn.Module`` (TypeError otherwise)."""
    if not isinstance(module, nn.Module):
        raise TypeError(f"{what} must be a torch.nn.Module, got {type(module).__name__}")
    return module
