"""Stateful module utilities in the style of learn2learn: differentiable clones and updates.

These work on ``nn.Module`` objects rather than on parameter mappings. A cloned or updated
module holds *non-leaf* tensors in its parameter slots (``module._parameters``), so a forward
pass through it stays connected to the original parameters and can be differentiated with
respect to them. The functional core (:func:`~meta_functional.functional_forward`,
:func:`~meta_functional.adapt`) reaches the same results without touching modules at all and is
the recommended path; these utilities exist for code written against the stateful style.

Note:
    A module holding non-leaf parameters must not be moved with ``.to()``/``.cuda()`` (which
    turns them back into leaf ``nn.Parameter`` objects and cuts the graph): move the original
    first, then clone.
"""

from __future__ import annotations

import copy
import weakref
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def _check_module(module: object, function: str) -> None:
    if not isinstance(module, nn.Module):
        raise TypeError(f"{function} expects a torch.nn.Module, got {type(module).__name__}")


def _slots(module: nn.Module) -> Iterator[tuple[dict[str, Any], str, Tensor]]:
    """Yield ``(slot_dict, key, tensor)`` for every parameter and buffer slot of the tree.

    Shared submodules are visited once; a tensor tied between two slots is yielded for each.
    The slot dicts are typed ``Any``-valued because this module stores plain (non-leaf)
    tensors in ``_parameters``, whose annotation admits only ``nn.Parameter``.
    """
    for submodule in module.modules():
        for slots in (submodule._parameters, submodule._buffers):
            for key, tensor in slots.items():
                if tensor is not None:
                    yield slots, key, tensor


def _refresh_rnn_weights(module: nn.Module) -> None:
    """Point every RNN's cached weight list at the tensors now held in its parameter slots.

    ``nn.RNNBase`` caches its weights in ``_flat_weights`` (and weak references to them, to
    notice changes). After parameter slots have been replaced, the caches are rebuilt so the
    forward pass uses the new (graph-connected) tensors. ``flatten_parameters`` is deliberately
    not called: it rewrites the weights' storage in place, which must not happen to tensors
    inside an autograd graph. On CUDA, cuDNN therefore warns that the weights are not one
    contiguous chunk and compacts them on each call (correct, somewhat slower).
    """
    for submodule in module.modules():
        if isinstance(submodule, nn.RNNBase):
            weights = [getattr(submodule, name, None) for name in submodule._flat_weights_names]
            submodule._flat_weights = weights
            if hasattr(submodule, "_flat_weight_refs"):
                submodule._flat_weight_refs = [
                    None if weight is None else weakref.ref(weight) for weight in weights
                ]


def clone_module(module: ModuleT, memo: dict[int, Any] | None = None) -> ModuleT:
    """Copy ``module`` so that the copy's parameters and buffers are differentiable clones.

    Every parameter and buffer of the copy is produced by :meth:`torch.Tensor.clone` of the
    original, so the computational graph is kept: a loss computed with the clone back-propagates
    into the original's parameters. Submodules, ``None`` submodules/parameters, hooks and plain
    attributes are copied as :func:`copy.deepcopy` would copy them. Tensors tied between
    several slots (shared weights) and submodules shared between parents stay shared in the
    clone. Parameters that do not require grad are copied without a graph. Buffers are copies,
    so running statistics updated by the clone do not change the original. RNN/LSTM/GRU modules
    get their cached weight lists rebuilt, so their forward uses the cloned weights.

    Args:
        module: The module to clone.
        memo: Optional :func:`copy.deepcopy` memo (``id(original) -> copy``). Pass the same
            dict to several calls to clone objects shared between them only once. It is filled
            in by the call.

    Returns:
        The clone, an instance of the same class as ``module``.

    Raises:
        TypeError: If ``module`` is not an ``nn.Module``.

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
        >>> clone = clone_module(net)
        >>> clone(torch.ones(4, 3)).sum().backward()  # gradients reach net
        >>> net[0].weight.grad is not None
        True
    """
    _check_module(module, "clone_module")
    memo = {} if memo is None else memo
    keep_alive: list[Any] = memo.setdefault(id(memo), [])
    for _, _, tensor in _slots(module):
        if id(tensor) not in memo:
            memo[id(tensor)] = tensor.clone()
            # Keep the original alive while the memo lives, so its id cannot be reused.
            keep_alive.append(tensor)
    clone = copy.deepcopy(module, memo)
    _refresh_rnn_weights(clone)
    return clone


def detach_module(module: nn.Module, *, keep_requires_grad: bool = True) -> None:
    """Detach, in place, every parameter and buffer of ``module`` from its autograd graph.

    Meant for a module produced by :func:`clone_module` or :func:`update_module`: each slot that
    holds a non-leaf tensor is replaced by a detached leaf sharing its storage, so later
    gradients accumulate on the module itself and no longer reach the tensors it was computed
    from. Leaf tensors (e.g. the ``nn.Parameter`` objects of an ordinary module) are left
    untouched. Tied tensors stay tied.

    Args:
        module: The module to detach; it is modified in place and not copied.
        keep_requires_grad: If ``True`` (default), detached tensors require grad, so a loss
            computed with the module can still be back-propagated into it (as in the example
            below); if ``False`` they do not.

    Raises:
        TypeError: If ``module`` is not an ``nn.Module``.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(3, 1)
        >>> clone = clone_module(net)
        >>> detach_module(clone)
        >>> clone(torch.ones(2, 3)).sum().backward()  # gradients stay on the clone
        >>> net.weight.grad is None, clone.weight.grad is not None
        (True, True)
    """
    _check_module(module, "detach_module")
    detached: dict[int, Tensor] = {}
    for slots, key, tensor in list(_slots(module)):
        if tensor.grad_fn is None:
            continue
        if id(tensor) not in detached:
            detached[id(tensor)] = tensor.detach().requires_grad_(keep_requires_grad)
        slots[key] = detached[id(tensor)]
    _refresh_rnn_weights(module)


def _check_update(name: str, update: object, target: Tensor) -> Tensor:
    if not isinstance(update, Tensor):
        raise TypeError(
            f"update for {name!r} must be a torch.Tensor or None, got {type(update).__name__}"
        )
    if update.shape != target.shape:
        raise ValueError(
            f"update for {name!r} has shape {tuple(update.shape)}; expected the parameter's "
            f"shape {tuple(target.shape)}"
        )
    return update


def update_module(
    module: ModuleT,
    updates: Iterable[Tensor | None] | None = None,
    memo: dict[int, tuple[Tensor, Tensor]] | None = None,
) -> ModuleT:
    """Replace, in place and differentiably, every parameter ``p`` of ``module`` by ``p + u``.

    The new values are ordinary autograd results, so a loss computed with the updated module
    can be differentiated with respect to the old parameters and to the updates (as in MAML:
    ``updates = [-lr * g for g in grads]`` with ``create_graph=True``). Tied parameters get one
    update and stay tied.

    Args:
        module: The module to update (typically a :func:`clone_module` clone).
        updates: One entry per tensor of ``module.parameters()`` (tied parameters counted once),
            in that order; an entry is a tensor of the parameter's shape, or ``None`` to leave
            that parameter as it is. If ``None``, each parameter *and buffer* that has an
            ``update`` attribute holding a tensor is updated with it, and the others are left
            as they are.
        memo: Optional dict shared between calls, mapping ``id(original) -> (original,
            replacement)``. Pass the same dict when updating several modules that share
            tensors, so a shared tensor is updated once and stays shared. It is filled in by
            the call.

    Returns:
        ``module`` itself, updated.

    Raises:
        TypeError: If ``module`` is not an ``nn.Module`` or an update is not a tensor.
        ValueError: If the number of updates differs from the number of parameters, or an
            update's shape differs from its parameter's.

    Examples:
        >>> import torch
        >>> net = clone_module(torch.nn.Linear(2, 1))
        >>> loss = net(torch.ones(3, 2)).pow(2).mean()
        >>> grads = torch.autograd.grad(loss, list(net.parameters()), create_graph=True)
        >>> update_module(net, [-0.1 * g for g in grads]) is net
        True
    """
    _check_module(module, "update_module")
    memo = {} if memo is None else memo
    targets: list[tuple[str, Tensor, Tensor]] = []
    if updates is not None:
        if isinstance(updates, Tensor):
            raise TypeError(
                "updates must be a sequence with one tensor (or None) per parameter, "
                "got a single tensor"
            )
        entries = list(updates)
        named = list(module.named_parameters())
        if len(entries) != len(named):
            raise ValueError(
                f"update_module got {len(entries)} updates for the {len(named)} parameters of "
                f"{type(module).__name__}; expected one update (or None) per tensor of "
                f"module.parameters(), in that order"
            )
        for (name, parameter), update in zip(named, entries, strict=True):
            if update is not None:
                targets.append((name, parameter, _check_update(name, update, parameter)))
    else:
        for name, tensor in (*module.named_parameters(), *module.named_buffers()):
            update = getattr(tensor, "update", None)
            if update is not None:
                targets.append((name, tensor, _check_update(name, update, tensor)))

    replacements: dict[int, Tensor] = {}
    for _, original, update in targets:
        cached = memo.get(id(original))
        if cached is None or cached[0] is not original:
            cached = (original, original + update)
            memo[id(original)] = cached
        replacements[id(original)] = cached[1]
    for slots, key, tensor in list(_slots(module)):
        replacement = replacements.get(id(tensor))
        if replacement is not None:
            slots[key] = replacement
    _refresh_rnn_weights(module)
    return module


def magic_box(x: Tensor) -> Tensor:
    """The DiCE "magic box": evaluates to ones, but its gradient is that of ``exp(x)`` at 1.

    ``magic_box(x) = exp(x - stop_gradient(x))``: the value is exactly ``1`` everywhere, and
    ``d magic_box(x) / dx = magic_box(x) = 1`` to every order, so multiplying a cost by
    ``magic_box(sum of log-probabilities)`` yields an estimator whose derivatives of any order
    are correct score-function estimates.

    Args:
        x: Tensor to transform, typically cumulative log-probabilities.

    Returns:
        A tensor of ones with ``x``'s shape, dtype and device, differentiable with respect to
        ``x``.

    Raises:
        TypeError: If ``x`` is not a tensor.

    References:
        Foerster et al., 2018. "DiCE: The Infinitely Differentiable Monte-Carlo Estimator."
        ICML. arXiv:1802.05098.

    Examples:
        >>> import torch
        >>> log_probs = torch.tensor([-0.5, -1.0], requires_grad=True)
        >>> magic_box(log_probs)
        tensor([1., 1.], grad_fn=<ExpBackward0>)
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"magic_box expects a torch.Tensor, got {type(x).__name__}")
    return torch.exp(x - x.detach())
