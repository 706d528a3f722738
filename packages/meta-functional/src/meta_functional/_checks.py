"""Input validation shared by the functional core; every message names what was expected."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from torch import Tensor, nn


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


def check_scalar_loss(loss: Tensor) -> None:
    """Raise unless ``loss`` is a single-element tensor."""
    if not isinstance(loss, Tensor):
        raise TypeError(f"loss must be a torch.Tensor, got {type(loss).__name__}")
    if loss.numel() != 1:
        raise ValueError(
            f"loss must be a scalar (a 0-dim or single-element tensor), got shape "
            f"{tuple(loss.shape)}; reduce it first, e.g. with .mean() or .sum()"
        )


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
