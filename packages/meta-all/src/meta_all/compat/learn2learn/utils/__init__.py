"""learn2learn's ``l2l.utils``: differentiable module utilities, ``accuracy`` and helpers.

``detach_module``, ``update_module``, ``magic_box``, ``clone_parameters``,
``clone_named_parameters``, ``clone_distribution`` and ``detach_distribution`` are
[`meta_functional`][meta_functional]'s functions; ``clone_module`` is meta-functional's with
learn2learn's buffer sharing; ``accuracy``, ``flatten_config`` and ``warn_once`` are defined
here. All are also available at the top level (``l2l.clone_module``
etc.), as in learn2learn. ``utils.lightning.EpisodicBatcher`` is imported on first use (needs
``meta-train[lightning]``).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import warnings
from collections.abc import Mapping
from typing import Any, TypeVar

import meta_functional
from meta_functional import clone_distribution as clone_distribution
from meta_functional import clone_named_parameters as clone_named_parameters
from meta_functional import clone_parameters as clone_parameters
from meta_functional import detach_distribution as detach_distribution
from meta_functional import detach_module as detach_module
from meta_functional import magic_box as magic_box
from meta_functional import update_module as update_module
from torch import Tensor, nn

__all__ = [
    "accuracy",
    "clone_distribution",
    "clone_module",
    "clone_named_parameters",
    "clone_parameters",
    "detach_distribution",
    "detach_module",
    "flatten_config",
    "magic_box",
    "update_module",
    "warn_once",
]

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def clone_module(module: ModuleT, memo: dict[int, Any] | None = None) -> ModuleT:
    """learn2learn's ``clone_module``: a differentiable copy that shares the running statistics.

    [`meta_functional.clone_module`][meta_functional.clone_module] with ``share_buffers=True``:
    parameters (and buffers that require grad) are differentiable clones, while buffers that do
    not require grad (BatchNorm's running statistics) are the original's tensors, as in
    learn2learn, so a clone's forward passes in training mode update the original's statistics.

    Args:
        module: The module to clone.
        memo: Optional ``copy.deepcopy`` memo, shared between calls.

    Returns:
        The clone.

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
        >>> clone = clone_module(net)
        >>> clone[1].running_mean is net[1].running_mean, clone[0].weight is net[0].weight
        (True, False)
    """
    return meta_functional.clone_module(module, memo, share_buffers=True)


def accuracy(predictions: Tensor, targets: Tensor) -> Tensor:
    """learn2learn's ``accuracy``: the fraction of rows whose arg-max equals the target.

    Args:
        predictions: Scores ``(n, classes)``.
        targets: Labels, ``n`` of them (the arg-max is viewed in their shape).

    Returns:
        The accuracy as a 0-d float tensor (call ``.item()`` for a number).

    Raises:
        ValueError: If ``predictions`` is not 2-D or does not have one row per target.

    Examples:
        >>> import torch
        >>> accuracy(torch.tensor([[2.0, 0.0], [0.0, 1.0]]), torch.tensor([0, 0]))
        tensor(0.5000)
    """
    if predictions.dim() != 2 or predictions.shape[0] != targets.numel():
        raise ValueError(
            f"accuracy expects predictions (n, classes) for n targets, got shapes "
            f"{tuple(predictions.shape)} and {tuple(targets.shape)}"
        )
    hits = predictions.argmax(dim=1).view(targets.shape) == targets
    return hits.sum().float() / targets.numel()


def _config_items(args: object) -> Mapping[str, Any] | None:
    """The fields of a config (``Namespace``, dataclass instance or dict); ``None`` for a leaf."""
    if isinstance(args, argparse.Namespace):
        return vars(args)
    if dataclasses.is_dataclass(args) and not isinstance(args, type):
        return {field.name: getattr(args, field.name) for field in dataclasses.fields(args)}
    if isinstance(args, dict):
        return args
    return None


def flatten_config(args: object, prefix: str | None = None) -> dict[str | None, Any]:
    """Flatten a nested config into one dict with dotted keys, e.g. for experiment loggers.

    ``Namespace`` objects, dataclass instances and dicts are containers; anything else is a
    value. learn2learn's version means this but loses every value (its inner getter returns
    ``None``) and fails on nested containers; this one returns the values.

    Args:
        args: The config.
        prefix: Key of ``args`` itself (``None`` at the top).

    Returns:
        ``{"outer.inner": value}`` for every leaf value; a leaf ``args`` gives ``{prefix: args}``.

    Examples:
        >>> flatten_config({"lr": 0.1, "model": {"hidden": 32, "layers": 2}})
        {'lr': 0.1, 'model.hidden': 32, 'model.layers': 2}
    """
    items = _config_items(args)
    if items is None:
        return {prefix: args}
    flat: dict[str | None, Any] = {}
    for key, value in items.items():
        child = str(key) if prefix is None else f"{prefix}.{key}"
        flat.update(flatten_config(value, prefix=child))
    return flat


class _WarnOnce:
    """learn2learn's ``warn_once``: ``warnings.warn`` each distinct message only once."""

    categories: Mapping[str, type[Warning]] = {
        "default": UserWarning,
        "deprecation": DeprecationWarning,
    }

    def __init__(self) -> None:
        self.warned_messages: list[str] = []

    def __call__(self, message: str, severity: str | type[Warning] | None = None) -> None:
        """Warn with ``message`` unless it was already given.

        Args:
            message: The warning text.
            severity: ``"default"`` (``UserWarning``, also for ``None``), ``"deprecation"``,
                ``"error"`` (raise ``RuntimeError``) or a warning class.

        Raises:
            RuntimeError: If ``severity`` is ``"error"`` (the message is not remembered).
            KeyError: If ``severity`` is a string other than those above.
        """
        if message in self.warned_messages:
            return
        if severity == "error":
            raise RuntimeError(message)
        if severity is None or isinstance(severity, str):
            severity = self.categories[severity or "default"]
        warnings.warn(message, category=severity, stacklevel=2)
        self.warned_messages.append(message)


warn_once = _WarnOnce()
"""Warn once per distinct message: ``warn_once("...", severity="deprecation")``."""


def __getattr__(name: str) -> Any:
    """``utils.lightning`` (``EpisodicBatcher``), imported on first use (needs lightning)."""
    if name == "lightning":
        return importlib.import_module(f"{__name__}.lightning")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
