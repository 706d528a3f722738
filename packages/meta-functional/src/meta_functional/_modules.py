"""Stateful module utilities in the style of learn2learn: differentiable clones and updates.

Such a module holds non-leaf tensors in its parameter slots, so its forward pass stays
differentiable with respect to the original. Do not ``.to()`` it (that cuts the graph).
"""

from __future__ import annotations

import collections
import copy
import functools
import weakref
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, NamedTuple, TypeVar

import torch
from torch import Tensor, nn

from ._functional import _autograd_gradients, _descend, _rate_lookup
from ._typing import LearningRate
from .checks import (
    check_differentiable_loss,
    check_module,
    check_one_per_parameter,
    describe_names,
)

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def _slots(modules: Iterable[nn.Module]) -> Iterator[tuple[dict[str, Any], str, Tensor]]:
    """Yield ``(slot_dict, key, tensor)`` per parameter/buffer slot (``Any``: non-leaf slots)."""
    for submodule in modules:
        for slots in (submodule._parameters, submodule._buffers):
            for key, tensor in slots.items():
                if tensor is not None:
                    yield slots, key, tensor


def refresh_rnn_weights(module: nn.Module) -> None:
    """Point every RNN's cached weight list at the tensors now held in its parameter slots.

    Code that replaces parameter slots calls this (not ``flatten_parameters``, which rewrites
    storage in place).

    Args:
        module: Any module; every RNN/LSTM/GRU in its tree is refreshed.

    Examples:
        >>> import torch
        >>> lstm = torch.nn.LSTM(2, 3)
        >>> lstm._parameters["weight_ih_l0"] = 2 * lstm.weight_ih_l0
        >>> refresh_rnn_weights(lstm)
        >>> lstm._flat_weights[0] is lstm.weight_ih_l0
        True
    """
    for submodule in module.modules():
        if isinstance(submodule, nn.RNNBase):
            weights = [getattr(submodule, name, None) for name in submodule._flat_weights_names]
            submodule._flat_weights = weights
            if hasattr(submodule, "_flat_weight_refs"):
                submodule._flat_weight_refs = [
                    None if weight is None else weakref.ref(weight) for weight in weights
                ]


def clone_module(
    module: ModuleT, memo: dict[int, Any] | None = None, *, share_buffers: bool = False
) -> ModuleT:
    """Copy ``module`` so that the copy's parameters and buffers are differentiable clones.

    Each tensor of the copy is ``original.clone()``, so a loss computed with the clone
    back-propagates into the original's parameters. Everything else is copied as
    ``copy.deepcopy`` would; tied tensors and shared submodules stay shared; buffers are
    copies (the clone's running statistics do not change the original) unless
    ``share_buffers``.

    Args:
        module: The module to clone.
        memo: Optional ``copy.deepcopy`` memo (``id(original) -> copy``), shared between calls
            to clone shared objects once; filled in by the call.
        share_buffers: Let the clone hold the original's buffers that do not require grad
            (BatchNorm's running statistics) instead of copies, as learn2learn's
            ``clone_module`` does: a forward pass of the clone in training mode then updates
            the original's running statistics in place.

    Returns:
        The clone, of ``module``'s class (``TypeError`` if ``module`` is not a module).

    Examples:
        >>> import torch
        >>> net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
        >>> clone = clone_module(net)
        >>> clone(torch.ones(4, 3)).sum().backward()  # gradients reach net
        >>> net[0].weight.grad is not None
        True
    """
    check_module(module, "clone_module: module")
    memo = {} if memo is None else memo
    keep_alive: list[Any] = memo.setdefault(id(memo), [])
    modules = list(module.modules())
    if share_buffers:
        for submodule in modules:
            for buffer in submodule._buffers.values():
                if buffer is not None and not buffer.requires_grad:
                    memo.setdefault(id(buffer), buffer)  # deepcopy returns it as it is
    for _, _, tensor in _slots(modules):
        if id(tensor) not in memo:
            memo[id(tensor)] = tensor.clone()
            # Keep the original alive while the memo lives, so its id cannot be reused.
            keep_alive.append(tensor)
    clone = _copy_tree(module, memo)
    if any(isinstance(submodule, nn.RNNBase) for submodule in modules):
        refresh_rnn_weights(clone)
    return clone


# The module state that _copy_tree copies itself; every other attribute goes to deepcopy.
_TREE = ("_parameters", "_buffers", "_modules")
_HOOK_DICTS = frozenset(
    key for key, value in vars(nn.Module()).items() if isinstance(value, dict) and key not in _TREE
)
_ATOMS = frozenset({type(None), bool, int, float, str})
_EMPTY_CONTAINERS = frozenset({dict, collections.OrderedDict, set, list})


def _copy_tree(module: ModuleT, memo: dict[int, Any]) -> ModuleT:
    """``copy.deepcopy(module, memo)``, walking the module tree and its slots directly.

    A meta-step clones the model once per task, and ``deepcopy``'s generic reduction of every
    submodule and of each of its dozen (empty) hook dicts costs more than the step's
    arithmetic on small nets. A module whose class customises how it is copied or reduced is
    left to ``deepcopy``; every other attribute is deep-copied with the same ``memo`` (atoms
    and empty containers directly, as ``deepcopy`` would copy them) and the state is set as
    ``deepcopy`` sets it, so the result is ``deepcopy``'s.
    """
    if id(module) in memo:
        copied: ModuleT = memo[id(module)]
        return copied
    cls: Any = type(module)  # Any: mypy types neither type.__new__ nor the cache key well
    if not _plainly_copied(cls):
        deep: ModuleT = copy.deepcopy(module, memo)
        return deep
    clone = cls.__new__(cls)
    memo[id(module)] = clone
    keep_alive: list[Any] = memo[id(memo)]
    fresh: dict[str, Any] = {}
    for key, value in module.__dict__.items():
        kind = type(value)
        if key in _TREE:
            fresh[key] = None  # set below; placed here for deepcopy's key order
            continue
        if kind in _ATOMS or (kind is tuple and all(type(item) in _ATOMS for item in value)):
            fresh[key] = value  # what deepcopy returns for these (a conv's kernel_size, ...)
        elif key in _HOOK_DICTS and kind in _EMPTY_CONTAINERS and not value:
            fresh[key] = kind()  # nn.Module's own, never shared: nothing to memoise
        elif kind in _EMPTY_CONTAINERS and not value and id(value) not in memo:
            fresh[key] = memo[id(value)] = kind()
            keep_alive.append(value)  # as deepcopy keeps the original alive with the memo
        else:
            fresh[key] = copy.deepcopy(value, memo)
    for key in ("_parameters", "_buffers"):  # clone_module has put every slot's copy in memo
        fresh[key] = {
            name: None if tensor is None else memo[id(tensor)]
            for name, tensor in module.__dict__[key].items()
        }
    fresh["_modules"] = {
        name: None if child is None else _copy_tree(child, memo)
        for name, child in module.__dict__["_modules"].items()
    }
    if cls.__setstate__ is nn.Module.__setstate__:
        # what deepcopy's reconstruction calls; Module's own only fills in attributes that
        # modules pickled by older torch versions lack, which a live module has
        clone.__dict__.update(fresh)
    else:
        clone.__setstate__(fresh)
    copied_module: ModuleT = clone
    return copied_module


@functools.cache
def _plainly_copied(cls: type) -> bool:
    """Whether ``deepcopy`` copies instances of ``cls`` as it copies a plain ``nn.Module``."""
    return (
        not hasattr(cls, "__deepcopy__")
        and all(
            getattr(cls, name) is getattr(nn.Module, name)
            for name in ("__reduce_ex__", "__reduce__", "__getstate__")
        )
        and not any("__slots__" in vars(klass) for klass in cls.__mro__)
    )


def detach_module(module: nn.Module, *, keep_requires_grad: bool = False) -> None:
    """Detach, in place, every parameter and buffer of ``module`` from its autograd graph.

    As learn2learn's: a non-leaf slot (as after [`clone_module`][meta_functional.clone_module])
    gets a detached leaf sharing its storage, leaves stay in place, ties stay tied, and all stop
    requiring grad unless ``keep_requires_grad`` (then leaves keep their flag).

    Args:
        module: The module to detach, in place.
        keep_requires_grad: Keep gradients flowing to the detached module (default: off).

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(3, 1)
        >>> clone = clone_module(net)
        >>> detach_module(clone, keep_requires_grad=True)
        >>> clone(torch.ones(2, 3)).sum().backward()  # gradients stay on the clone
        >>> net.weight.grad is None, clone.weight.grad is not None
        (True, True)
    """
    check_module(module, "detach_module: module")
    detached: dict[int, Tensor] = {}
    for slots, key, tensor in list(_slots(module.modules())):
        if tensor.grad_fn is None:  # a leaf stays in place, as learn2learn's detach_()
            tensor.requires_grad_(keep_requires_grad and tensor.requires_grad)
        else:
            fresh = tensor.detach().requires_grad_(keep_requires_grad)
            slots[key] = detached.setdefault(id(tensor), fresh)
    refresh_rnn_weights(module)


def _one_each(
    module: nn.Module, entries: Iterable[Tensor | None], count: int, function: str, what: str
) -> list[Tensor | None]:
    """``entries`` as a list, if it holds one entry per parameter (``count`` of them)."""
    if isinstance(entries, Tensor):
        raise TypeError(
            f"{what}s must be a sequence of one tensor (or None) per parameter, got a single tensor"
        )
    given = list(entries)
    check_one_per_parameter(module, len(given), function, f"{what}s", expected=count)
    return given


class _TreeSlots(NamedTuple):
    """A module tree's parameters and buffers, with the slots that hold each tensor.

    ``names``/``params`` are ``named_parameters()``, ``buffer_names``/``buffers`` are
    ``named_buffers()`` (names, order and de-duplication alike), and ``holders`` maps the id
    of each of those tensors to every ``(slot dict, key)`` of the tree that holds it, so a
    replacement reaches all of them (tied weights stay tied).
    """

    names: list[str]
    params: list[Tensor]
    buffer_names: list[str]
    buffers: list[Tensor]
    holders: dict[int, list[tuple[dict[str, Any], str]]]
    has_rnn: bool


def _tree_slots(module: nn.Module) -> _TreeSlots:
    """The parameters, buffers and slots of ``module``'s tree, found in one walk.

    One walk, where ``named_parameters()`` and a walk of the slots would take two: an inner
    step runs once per task and step, so the walks add up on small nets.
    """
    names: list[str] = []
    params: list[Tensor] = []
    holders: dict[int, list[tuple[dict[str, Any], str]]] = {}
    buffer_slots: list[tuple[dict[str, Any], str, Tensor, str]] = []
    has_rnn = False
    for prefix, submodule in _named_modules(module):
        has_rnn = has_rnn or isinstance(submodule, nn.RNNBase)
        slots = submodule._parameters
        for key, param in slots.items():
            if param is None:
                continue
            held = holders.get(id(param))
            if held is None:
                names.append(f"{prefix}.{key}" if prefix else key)
                params.append(param)
                held = holders[id(param)] = []
            held.append((slots, key))
        buffers = submodule._buffers
        if buffers:
            buffer_slots += [
                (buffers, key, tensor, prefix)
                for key, tensor in buffers.items()
                if tensor is not None
            ]
    buffer_names: list[str] = []
    buffer_list: list[Tensor] = []
    listed: set[int] = set()
    for slots, key, tensor, prefix in buffer_slots:  # after the walk: a buffer may hold a param
        if id(tensor) not in listed:
            listed.add(id(tensor))
            buffer_names.append(f"{prefix}.{key}" if prefix else key)
            buffer_list.append(tensor)
        holders.setdefault(id(tensor), []).append((slots, key))
    return _TreeSlots(names, params, buffer_names, buffer_list, holders, has_rnn)


def _named_modules(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """``list(module.named_modules())``, walked directly when no module overrides the walk.

    The same modules, names and order; about a third faster than the nested generators of
    ``named_modules``, and ``_tree_slots`` runs once per inner step.
    """
    walked: list[tuple[str, nn.Module]] = []
    if _walk_modules(module, "", set(), walked):
        return walked
    return list(module.named_modules())


def _walk_modules(
    module: nn.Module, prefix: str, seen: set[int], walked: list[tuple[str, nn.Module]]
) -> bool:
    """Pre-order walk as ``named_modules``; ``False`` if a module overrides ``named_modules``."""
    if type(module).named_modules is not _NAMED_MODULES:
        return False
    seen.add(id(module))
    walked.append((prefix, module))
    for name, child in module._modules.items():
        if child is None or id(child) in seen:
            continue
        if not _walk_modules(child, f"{prefix}.{name}" if prefix else name, seen, walked):
            return False
    return True


_NAMED_MODULES = nn.Module.named_modules


def _replace(module: ModuleT, found: _TreeSlots, replacements: dict[int, Tensor]) -> ModuleT:
    """Put ``replacements[id(old)]`` into every slot of ``found`` that holds ``old``."""
    for old, new in replacements.items():
        for slots, key in found.holders[old]:
            slots[key] = new
    if found.has_rnn:
        refresh_rnn_weights(module)
    return module


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

    The new values are autograd results, differentiable with respect to the old parameters
    and the updates. Tied parameters get one update and stay tied.

    Args:
        module: The module to update (typically a
            [`clone_module`][meta_functional.clone_module] clone).
        updates: One tensor of the parameter's shape (or ``None``) per tensor of
            ``module.parameters()``, in order. If ``None``, each parameter *and buffer* with
            an ``update`` tensor attribute is updated with it.
        memo: Optional dict ``id(original) -> (original, replacement)`` shared between calls,
            so a tensor shared by several modules is updated once; filled in by the call.

    Returns:
        ``module`` itself, updated.

    Raises:
        ValueError: If the count or a shape of ``updates`` is wrong (``TypeError``: not tensors).

    Examples:
        >>> import torch
        >>> net = clone_module(torch.nn.Linear(2, 1))
        >>> loss = net(torch.ones(3, 2)).pow(2).mean()
        >>> grads = torch.autograd.grad(loss, list(net.parameters()), create_graph=True)
        >>> update_module(net, [-0.1 * g for g in grads]) is net
        True
    """
    check_module(module, "update_module: module")
    memo = {} if memo is None else memo
    found = _tree_slots(module)
    if updates is not None:
        given = _one_each(module, updates, len(found.params), "update_module", "update")
        named = list(zip(found.names, found.params, given, strict=True))
    else:  # learn2learn's protocol: an ``update`` attribute on parameters and buffers
        tensors = (
            *zip(found.names, found.params, strict=True),
            *zip(found.buffer_names, found.buffers, strict=True),
        )
        named = [(name, tensor, getattr(tensor, "update", None)) for name, tensor in tensors]
    paired = [(t, None if u is None else _check_update(n, u, t)) for n, t, u in named]
    replacements: dict[int, Tensor] = {}
    for original, update in paired:
        if update is None:
            continue
        cached = memo.get(id(original))
        if cached is None or cached[0] is not original:
            cached = (original, original + update)
            memo[id(original)] = cached
        replacements[id(original)] = cached[1]
    return _replace(module, found, replacements)


def descend_module(
    module: ModuleT, gradients: Sequence[Tensor | None], lr: LearningRate
) -> ModuleT:
    """Take the inner step [`sgd_update`][meta_functional.sgd_update] in place on a module.

    Every parameter ``p`` becomes ``p - lr * g``, differentiably, as with
    [`update_module`][meta_functional.update_module]; tied parameters stay tied.

    Args:
        module: A module whose parameters the step replaces, usually a
            [`clone_module`][meta_functional.clone_module] clone.
        gradients: One gradient (or ``None`` to leave that parameter as it is) per tensor of
            ``module.parameters()``, in that order.
        lr: A float, a scalar tensor, or a name -> rate mapping, as for ``sgd_update``.

    Returns:
        The same ``module``, after the step.

    Raises:
        TypeError: If a gradient is neither a tensor nor ``None``.
        ValueError: If there is not one gradient per parameter, or a shape differs.

    Examples:
        >>> import torch
        >>> net = clone_module(torch.nn.Linear(1, 1, bias=False))
        >>> with torch.no_grad():
        ...     _ = net.weight.fill_(1.0)
        >>> descend_module(net, [torch.ones(1, 1)], 0.25).weight
        tensor([[0.7500]], grad_fn=<AddBackward0>)
    """
    check_module(module, "descend_module: module")
    found = _tree_slots(module)
    given = _one_each(module, gradients, len(found.params), "descend_module", "gradient")
    steps = [
        (name, param, _check_update(name, entry, param))
        for name, param, entry in zip(found.names, found.params, given, strict=True)
        if entry is not None
    ]
    return _descend_found(module, found, steps, lr)


def _descend_found(
    module: ModuleT, found: _TreeSlots, steps: list[tuple[str, Tensor, Tensor]], lr: LearningRate
) -> ModuleT:
    """Step each checked ``(name, param, gradient)`` of ``found``, put into ``module``.

    ``sgd_update``'s rate lookup and rule, without its dicts: this runs once per task and
    inner step, and on small nets their building was a measurable part of the step.
    """
    rate_of = _rate_lookup(lr)
    replacements = {
        id(param): _descend(param, gradient, rate_of(name, param))
        for name, param, gradient in steps
    }
    return _replace(module, found, replacements)


def inner_step_module(
    module: ModuleT,
    loss: Tensor,
    lr: LearningRate,
    *,
    first_order: bool = False,
    allow_unused: bool = False,
    allow_nograd: bool = False,
    retain_graph: bool | None = None,
) -> ModuleT:
    """Take one differentiable gradient step on ``module`` from a computed ``loss``, in place.

    [`inner_step`][meta_functional.inner_step] for a stateful module (learn2learn's
    ``adapt``): the gradients of ``loss`` for every parameter, then
    [`descend_module`][meta_functional.descend_module]'s step ``p - lr * g``, with the
    module's tree walked once for both. The new parameters back-propagate to the old ones
    (second order unless ``first_order``).

    Args:
        module: The module to step, usually a [`clone_module`][meta_functional.clone_module]
            clone, at whose parameters ``loss`` was computed.
        loss: Scalar loss, differentiable with respect to the parameters.
        lr: A float, a scalar tensor, or a name -> rate mapping, as for
            [`sgd_update`][meta_functional.sgd_update].
        first_order: Do not differentiate the gradients (first-order MAML).
        allow_unused: Leave parameters that ``loss`` does not use unchanged (an error
            otherwise).
        allow_nograd: Leave parameters that do not require grad unchanged (an error
            otherwise).
        retain_graph: Keep ``loss``'s graph for another backward pass (``None``: only when it
            is differentiated again, i.e. not ``first_order``).

    Returns:
        The same ``module``, after the step.

    Raises:
        TypeError: If ``module`` is not a module or ``loss`` not a tensor.
        ValueError: If ``loss`` is not a scalar or does not require grad, or a parameter
            does not require grad or is unused without its ``allow_*`` flag.

    Examples:
        >>> import torch
        >>> net = clone_module(torch.nn.Linear(1, 1, bias=False))
        >>> with torch.no_grad():
        ...     _ = net.weight.fill_(1.0)
        >>> loss = net(torch.ones(1, 1)).sum()  # d loss / d weight = 1
        >>> inner_step_module(net, loss, 0.25).weight
        tensor([[0.7500]], grad_fn=<AddBackward0>)
    """
    check_module(module, "inner_step_module: module")
    check_differentiable_loss(loss, "inner_step_module: loss")
    found = _tree_slots(module)
    params = dict(zip(found.names, found.params, strict=True))
    adapted = [name for name, param in params.items() if param.requires_grad]
    if len(adapted) < len(params) and not allow_nograd:
        frozen = [name for name in params if not params[name].requires_grad]
        raise ValueError(
            f"inner_step_module: parameters {describe_names(frozen)} do not require grad; "
            "expected every parameter to require grad, or pass allow_nograd=True to leave them "
            "unchanged"
        )
    grads = (
        _autograd_gradients(
            loss,
            params,
            adapted,
            first_order=first_order,
            allow_unused=allow_unused,
            retain_graph=retain_graph,
        )
        if adapted
        else {}
    )
    steps = [(name, params[name], grad) for name, grad in grads.items() if grad is not None]
    return _descend_found(module, found, steps, lr)


def magic_box(x: Tensor) -> Tensor:
    """The DiCE "magic box" ``exp(x - stop_gradient(x))``: ones, with derivative 1 to any order.

    Multiplying a cost by ``magic_box(sum of log-probabilities)`` gives correct score-function
    estimates of derivatives of any order.

    Args:
        x: Tensor to transform, typically cumulative log-probabilities.

    Returns:
        Ones of ``x``'s shape, dtype and device, differentiable with respect to ``x``.

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
