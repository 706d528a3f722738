"""The stateless functional core: forward passes and differentiable inner-loop steps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ._checks import (
    check_adapt_names,
    check_lr_shape,
    check_params_match,
    check_scalar_loss,
    describe_names,
)
from ._typing import BuildLoss, LearningRate, Params


def named_params(model: nn.Module) -> dict[str, Tensor]:
    """Return a fresh ``{name: parameter}`` dict for ``model``.

    The tensors are the model's live :class:`~torch.nn.Parameter` leaves, so gradients that
    flow back into them accumulate into ``model.parameters()``'s ``.grad``. Tied parameters
    appear once, under the first name they are reachable by.

    Args:
        model: Any module.

    Returns:
        A new dict; changing it never changes the model.

    Examples:
        >>> import torch
        >>> sorted(named_params(torch.nn.Linear(2, 1)))
        ['bias', 'weight']
    """
    return dict(model.named_parameters())


def named_buffers(model: nn.Module) -> dict[str, Tensor]:
    """Return a fresh ``{name: buffer}`` dict for ``model`` (e.g. BatchNorm running stats).

    Args:
        model: Any module.

    Returns:
        A new dict of the model's live buffers.

    Examples:
        >>> import torch
        >>> sorted(named_buffers(torch.nn.BatchNorm1d(3)))
        ['num_batches_tracked', 'running_mean', 'running_var']
    """
    return dict(model.named_buffers())


def functional_forward(
    model: nn.Module,
    params: Params,
    *args: Any,
    buffers: Params | None = None,
    **kwargs: Any,
) -> Any:
    """Run ``model`` statelessly with the given ``params`` (and ``buffers``).

    Built on :func:`torch.func.functional_call`: the module itself is never modified, tied
    weights stay tied, and nested modules work as usual.

    Args:
        model: Any module; it supplies the architecture.
        params: Parameter mapping, as returned by :func:`named_params` or an adapted version
            of it. It must name every parameter of ``model`` and nothing else.
        *args: Positional arguments of the module's ``forward``.
        buffers: Buffer mapping. If ``None``, the module's own buffers are used (so a
            BatchNorm in training mode with running statistics updates them as usual).
        **kwargs: Keyword arguments of the module's ``forward``.

    Returns:
        Whatever ``model.forward`` returns.

    Raises:
        KeyError: If ``params`` misses a parameter of ``model`` or names one it lacks.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(2, 1)
        >>> params = {name: torch.zeros_like(p) for name, p in named_params(net).items()}
        >>> functional_forward(net, params, torch.ones(1, 2))
        tensor([[0.]])
    """
    check_params_match(model, params)
    tensors: dict[str, Tensor] = dict(params)
    if buffers is not None:
        tensors.update(buffers)
    return functional_call(model, tensors, args, kwargs, tie_weights=True, strict=False)


def _step_size(lr: LearningRate, name: str, param: Tensor) -> float | Tensor:
    if isinstance(lr, Mapping):
        rate: object = lr[name]
        if isinstance(rate, Tensor):
            check_lr_shape(name, rate, param)
            return rate
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            raise TypeError(
                f"learning rate for {name!r} must be a tensor or a float, got {type(rate).__name__}"
            )
        return float(rate)
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError(
            f"a tensor learning rate must be a scalar, got shape {tuple(lr.shape)}; "
            f"pass a mapping name -> tensor for per-parameter rates"
        )
    return lr


def _check_lr_mapping(lr: LearningRate, names: list[str]) -> None:
    if isinstance(lr, Mapping):
        missing = [name for name in names if name not in lr]
        if missing:
            raise KeyError(
                f"learning-rate mapping has no entry for adapted parameters "
                f"{describe_names(missing)}; expected one rate per name in {describe_names(names)}"
            )


def inner_step(
    params: Params,
    loss: Tensor,
    lr: LearningRate,
    *,
    first_order: bool = False,
    adapt_names: Iterable[str] | None = None,
    allow_unused: bool = True,
) -> dict[str, Tensor]:
    """Take one differentiable gradient-descent step on ``params``.

    Computes ``grads = d loss / d params`` and returns ``p' = p - lr * grad`` for every
    adapted parameter. The step is differentiable: a loss computed from the result can be
    back-propagated to the original ``params`` (second order unless ``first_order``).

    Args:
        params: Current parameter mapping (the point at which ``loss`` was computed).
        loss: Scalar support loss, differentiable with respect to ``params``.
        lr: Step size: a float, a scalar tensor, or a mapping name -> tensor of per-parameter
            rates (each a scalar or of the parameter's shape, as MetaSGD learns them).
        first_order: If ``True``, the gradient is not differentiated again (no
            ``create_graph``): second-order terms are dropped, but the result still depends
            on ``params`` through the identity, so the query loss reaches them (FOMAML).
        adapt_names: Subset of names to update. The others pass through as the very same
            tensor objects (ANIL adapts only the head this way). ``None`` adapts all.
        allow_unused: If ``False``, an adapted parameter that ``loss`` does not depend on is
            an error; if ``True`` it is left unchanged. Parameters that do not require grad
            are never updated (they pass through unchanged).

    Returns:
        A new parameter mapping with the same names, in the same order.

    Raises:
        TypeError: If ``loss`` is not a tensor or ``adapt_names`` is a string.
        ValueError: If ``loss`` is not a scalar, ``loss`` does not depend on an adapted
            parameter and ``allow_unused`` is ``False``, or a learning rate has a wrong shape.
        KeyError: If ``adapt_names`` names a non-parameter or an ``lr`` mapping misses a name.

    Examples:
        >>> import torch
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> inner_step({"w": w}, (2 * w).sum(), lr=0.1)["w"]
        tensor([0.8000], grad_fn=<SubBackward0>)
    """
    names = check_adapt_names(adapt_names, params)
    _check_lr_mapping(lr, names)
    return _descend(params, loss, lr, names, first_order=first_order, allow_unused=allow_unused)


def _descend(
    params: Params,
    loss: Tensor,
    lr: LearningRate,
    names: list[str],
    *,
    first_order: bool,
    allow_unused: bool,
) -> dict[str, Tensor]:
    """:func:`inner_step` once ``names`` and the ``lr`` mapping have been checked."""
    check_scalar_loss(loss)
    differentiable = [name for name in names if params[name].requires_grad]
    grads = torch.autograd.grad(
        loss,
        [params[name] for name in differentiable],
        create_graph=not first_order,
        allow_unused=True,
    )
    unused = [name for name, grad in zip(differentiable, grads, strict=True) if grad is None]
    if unused and not allow_unused:
        raise ValueError(
            f"the loss does not depend on adapted parameters {describe_names(unused)}; "
            f"pass allow_unused=True or leave them out of adapt_names"
        )
    updated = dict(params)
    for name, grad in zip(differentiable, grads, strict=True):
        if grad is not None:
            updated[name] = params[name] - _step_size(lr, name, params[name]) * grad
    return updated


def adapt(
    model: nn.Module,
    params: Params,
    build_loss: BuildLoss,
    *,
    lr: LearningRate = 0.01,
    inner_steps: int = 1,
    first_order: bool = False,
    adapt_names: Iterable[str] | None = None,
    allow_unused: bool = True,
) -> dict[str, Tensor]:
    """Run the full inner loop and return the adapted parameters ``theta'``.

    Args:
        model: The module whose architecture defines the forward pass; ``params`` must name
            exactly its parameters.
        params: Starting parameter mapping ``theta`` (usually :func:`named_params`).
        build_loss: Callable from a parameter dict to the scalar support loss, e.g.
            ``lambda p: loss_fn(functional_forward(model, p, x), y)``. A closure (rather than
            a fixed loss tensor) lets every step recompute the loss at the new parameters.
        lr: Inner step size; see :func:`inner_step`.
        inner_steps: Number of gradient steps (``0`` returns a copy of ``params``).
        first_order: See :func:`inner_step`.
        adapt_names: See :func:`inner_step`.
        allow_unused: See :func:`inner_step`.

    Returns:
        The adapted parameter mapping after ``inner_steps`` steps.

    Raises:
        ValueError: If ``inner_steps`` is negative, or for any error of :func:`inner_step`.
        KeyError: If ``params`` does not match ``model``'s parameters, or for any error of
            :func:`inner_step`.

    Examples:
        >>> import torch
        >>> net = torch.nn.Linear(1, 1)
        >>> x, y = torch.ones(4, 1), torch.zeros(4, 1)
        >>> def support_loss(p):
        ...     return ((functional_forward(net, p, x) - y) ** 2).mean()
        >>> adapted = adapt(net, named_params(net), support_loss, lr=0.1, inner_steps=3)
        >>> bool(support_loss(adapted) < support_loss(named_params(net)))
        True
    """
    if isinstance(inner_steps, bool) or not isinstance(inner_steps, int) or inner_steps < 0:
        raise ValueError(f"inner_steps must be a non-negative int, got {inner_steps!r}")
    check_params_match(model, params)
    adapted = dict(params)
    if inner_steps == 0:
        return adapted
    # Every step sees the same names, so the name and lr-mapping checks run once.
    names = check_adapt_names(adapt_names, params)
    _check_lr_mapping(lr, names)
    for _ in range(inner_steps):
        adapted = _descend(
            adapted,
            build_loss(adapted),
            lr,
            names,
            first_order=first_order,
            allow_unused=allow_unused,
        )
    return adapted
