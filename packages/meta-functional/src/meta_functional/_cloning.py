"""Differentiable copies of parameter lists, parameter mappings and distributions.

The companions of [`clone_module`][meta_functional.clone_module] and
[`detach_module`][meta_functional.detach_module] for the other containers of learnable tensors
(learn2learn's ``clone_parameters``, ``clone_named_parameters``, ``clone_distribution`` and
``detach_distribution``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from torch import Tensor, nn
from torch.distributions import Distribution

from ._modules import clone_module, detach_module

DistributionT = TypeVar("DistributionT", bound=Distribution)


def clone_parameters(param_list: Iterable[Tensor]) -> list[Tensor]:
    """``[p.clone() for p in param_list]``: copies that back-propagate into the originals.

    Args:
        param_list: The tensors to copy.

    Returns:
        One clone per tensor, in order.

    Examples:
        >>> import torch
        >>> weight = torch.ones(2, requires_grad=True)
        >>> (clone,) = clone_parameters([weight])
        >>> (3 * clone).sum().backward()
        >>> weight.grad.tolist()
        [3.0, 3.0]
    """
    return [param.clone() for param in param_list]


def clone_named_parameters(param_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """``{name: p.clone()}``: [`clone_parameters`][meta_functional.clone_parameters] by name.

    Args:
        param_dict: The tensors to copy, by name.

    Returns:
        A new dict with one clone per name, in the same order.

    Examples:
        >>> import torch
        >>> clone_named_parameters({"w": torch.ones(1)})
        {'w': tensor([1.])}
    """
    return {name: param.clone() for name, param in param_dict.items()}


def clone_distribution(dist: DistributionT) -> DistributionT:
    """Copy a distribution so that its learnable tensors stay connected to the original's.

    The copy is a deep copy except that every tensor attribute that requires grad becomes
    ``original.clone()`` (so gradients flow back), every module attribute a
    [`clone_module`][meta_functional.clone_module] clone and every distribution attribute a
    clone made by this function. Unlike learn2learn's, this also works when the parameters are
    non-leaf tensors (the output of a network), which ``copy.deepcopy`` refuses.

    Args:
        dist: The distribution to copy.

    Returns:
        The copy, of ``dist``'s class.

    Examples:
        >>> import torch
        >>> loc = torch.zeros(2, requires_grad=True)
        >>> normal = torch.distributions.Normal(2 * loc, torch.ones(2))
        >>> clone_distribution(normal).log_prob(torch.ones(2)).sum().backward()
        >>> loc.grad.tolist()
        [2.0, 2.0]
    """
    attributes = vars(dist)
    memo: dict[int, Any] = {
        id(value): value.clone()
        for value in attributes.values()
        if isinstance(value, Tensor) and value.requires_grad
    }
    clone = copy.deepcopy(dist, memo)
    for key, value in attributes.items():
        if isinstance(value, nn.Module):
            vars(clone)[key] = clone_module(value)
        elif isinstance(value, Distribution):
            vars(clone)[key] = clone_distribution(value)
    return clone


def detach_distribution(dist: DistributionT) -> DistributionT:
    """Detach, in place, the tensors, modules and distributions a distribution holds.

    Every tensor attribute that requires grad is replaced by its ``detach()``, every module
    attribute is detached in place with [`detach_module`][meta_functional.detach_module] (where
    learn2learn's version replaced it by ``None``) and every distribution attribute is
    detached by this function.

    Args:
        dist: The distribution to detach; changed in place.

    Returns:
        ``dist`` itself.

    Examples:
        >>> import torch
        >>> loc = torch.zeros(2, requires_grad=True)
        >>> normal = detach_distribution(torch.distributions.Normal(2 * loc, torch.ones(2)))
        >>> normal.loc.requires_grad
        False
    """
    attributes = vars(dist)
    for key, value in list(attributes.items()):
        if isinstance(value, Tensor) and value.requires_grad:
            attributes[key] = value.detach()
        elif isinstance(value, nn.Module):
            detach_module(value)
        elif isinstance(value, Distribution):
            detach_distribution(value)
    return dist
