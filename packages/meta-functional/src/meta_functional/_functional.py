"""The stateless functional core: forward passes and differentiable inner-loop steps."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad
from torch.utils.checkpoint import checkpoint

from ._typing import BuildLoss, GradMode, LearningRate, Params, UpdateRule
from .checks import (
    check_adapt_names,
    check_flag,
    check_lr_shape,
    check_non_negative_int,
    check_params_match,
    check_scalar_loss,
    describe_names,
)

_T = TypeVar("_T")


def named_params(model: nn.Module) -> dict[str, Tensor]:
    """Return a fresh ``{name: parameter}`` dict of ``model``'s live leaves.

    Gradients that reach them accumulate into ``.grad``; tied parameters appear once.

    Examples:
        >>> import torch
        >>> sorted(named_params(torch.nn.Linear(2, 1)))
        ['bias', 'weight']
    """
    return dict(model.named_parameters())


def named_buffers(model: nn.Module) -> dict[str, Tensor]:
    """Return a fresh ``{name: buffer}`` dict of ``model``'s live buffers (e.g. running stats).

    Examples:
        >>> import torch
        >>> sorted(named_buffers(torch.nn.BatchNorm1d(3)))
        ['num_batches_tracked', 'running_mean', 'running_var']
    """
    return dict(model.named_buffers())


def functional_forward(
    model: nn.Module, params: Params, *args: Any, buffers: Params | None = None, **kwargs: Any
) -> Any:
    """Run ``model`` statelessly with the given ``params`` (and ``buffers``).

    Built on ``torch.func.functional_call``: the module is never modified; ties are kept.

    Args:
        model: Any module; it supplies the architecture.
        params: Every parameter of ``model`` by name, and nothing else.
        *args: Positional arguments of ``model.forward``.
        buffers: Buffer mapping; ``None`` uses the module's own buffers.
        **kwargs: Keyword arguments of ``model.forward``.

    Returns:
        Whatever ``model.forward`` returns (``KeyError`` if ``params`` do not match ``model``).

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


def _named_rate(lr: Mapping[str, object], name: str, param: Tensor) -> float | Tensor:
    """The checked rate of parameter ``name`` in a name -> rate mapping."""
    if name not in lr:
        raise KeyError(
            f"learning-rate mapping has no entry for adapted parameters {[name]}; "
            f"expected one rate per adapted name, got rates for {describe_names(lr)}"
        )
    rate = lr[name]
    if isinstance(rate, Tensor):
        check_lr_shape(name, rate, param)
        return rate
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        raise TypeError(
            f"learning rate for {name!r} must be a tensor or a float, got {type(rate).__name__}"
        )
    return float(rate)


def _shared_rate(lr: float | Tensor) -> float | Tensor:
    """The checked rate that every parameter shares (a number or a scalar tensor)."""
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError(
            f"a tensor learning rate must be a scalar, got shape {tuple(lr.shape)}; "
            f"pass a mapping name -> tensor for per-parameter rates"
        )
    return lr


def sgd_update(
    params: Params, grads: Mapping[str, Tensor | None], lr: LearningRate
) -> dict[str, Tensor]:
    """Apply the inner update rule ``p' = p - lr * g``: the one place meta-* writes it.

    Every inner loop of meta-* ends here; pure and differentiable in params, grads and rates.

    Args:
        params: Current parameter mapping.
        grads: Gradient per name to update; names absent or mapped to ``None`` pass through
            as the very same tensor objects.
        lr: A float, a scalar tensor, or a mapping name -> rate (a float, a scalar tensor, or
            a tensor of the parameter's shape, as MetaSGD learns them).

    Returns:
        A new mapping with the same names, in the same order.

    Raises:
        KeyError: If ``grads`` names a parameter ``params`` lacks, or ``lr`` misses a name.
        ValueError: If a rate has a wrong shape (``TypeError`` if it is not a number).

    Examples:
        >>> import torch
        >>> sgd_update({"w": torch.tensor([1.0])}, {"w": torch.tensor([2.0])}, 0.1)["w"]
        tensor([0.8000])
    """
    unknown = [name for name in grads if name not in params]
    if unknown:
        raise KeyError(
            f"grads name parameters that params lacks: {describe_names(unknown)}; expected a "
            f"subset of {describe_names(params)}"
        )
    rate_of = _rate_lookup(lr)
    updated = dict(params)
    for name, gradient in grads.items():
        if gradient is not None:
            updated[name] = _descend(params[name], gradient, rate_of(name, params[name]))
    return updated


def _rate_lookup(lr: LearningRate) -> Callable[[str, Tensor], float | Tensor]:
    """``(name, param) -> checked rate``: from a name -> rate mapping, or the one shared rate.

    A shared rate is checked once here, not once per parameter.
    """
    if isinstance(lr, Mapping):
        return functools.partial(_named_rate, lr)
    shared = _shared_rate(lr)
    return lambda name, param: shared


def _descend(param: Tensor, gradient: Tensor, rate: float | Tensor) -> Tensor:
    """``param - rate * gradient``, written ``param + (-rate) * gradient``.

    The two are equal to the bit (values and gradients), but the sum's backward hands the
    incoming gradient on as it is, where a difference negates it: with a float rate, one
    kernel per parameter fewer in every meta-backward (a tensor rate is negated instead).
    """
    return param + (-rate) * gradient


def _autograd_gradients(
    loss: Tensor,
    params: Params,
    names: list[str],
    *,
    first_order: bool,
    allow_unused: bool,
    retain_graph: bool | None = None,
) -> Mapping[str, Tensor | None]:
    """``d loss / d params[name]`` for ``names`` with ``torch.autograd`` (``None`` if unused).

    ``retain_graph=None`` keeps ``loss``'s graph only when it is differentiated again (not
    ``first_order``), as ``torch.autograd.grad`` does.
    """
    check_scalar_loss(loss)
    found = torch.autograd.grad(
        loss,
        [params[name] for name in names],
        create_graph=not first_order,
        retain_graph=retain_graph,
        allow_unused=True,
    )
    grads: dict[str, Tensor | None] = dict(zip(names, found, strict=True))
    unused = [name for name, gradient in grads.items() if gradient is None]
    if unused and not allow_unused:
        raise ValueError(
            f"the loss does not depend on adapted parameters {describe_names(unused)}; "
            "pass allow_unused=True to leave them unchanged, or adapt only the parameters "
            "it uses"
        )
    return grads


def _func_gradients(
    build_loss: BuildLoss, params: Params, names: list[str], *, first_order: bool
) -> Mapping[str, Tensor | None]:
    """``d build_loss(params) / d params[name]`` with ``torch.func.grad`` (vmap-able)."""
    fixed = {name: value for name, value in params.items() if name not in names}

    def loss_of(adapted: dict[str, Tensor]) -> Tensor:
        return check_scalar_loss(build_loss({**fixed, **adapted})).reshape(())

    grads = grad(loss_of)({name: params[name] for name in names})
    return {name: value.detach() if first_order else value for name, value in grads.items()}


def inner_step(
    params: Params,
    loss: Tensor,
    lr: LearningRate,
    *,
    first_order: bool = False,
    adapt_names: Iterable[str] | None = None,
    allow_unused: bool = True,
) -> dict[str, Tensor]:
    """Take one differentiable gradient-descent step on ``params`` from a computed ``loss``.

    ``torch.autograd`` gradients, then [`sgd_update`][meta_functional.sgd_update]; the result
    back-propagates to ``params`` (second order unless ``first_order``).

    Args:
        params: Current parameter mapping (the point at which ``loss`` was computed).
        loss: Scalar support loss, differentiable with respect to ``params``.
        lr: Step size; see [`sgd_update`][meta_functional.sgd_update].
        first_order: Do not differentiate the gradient again (FOMAML): the result still
            depends on ``params`` through the identity.
        adapt_names: Names to update (``None``: all); the others, and parameters that do not
            require grad, pass through as the very same tensor objects (ANIL).
        allow_unused: If ``False``, an adapted parameter ``loss`` does not use is an error;
            if ``True`` it is left unchanged.

    Returns:
        A new parameter mapping with the same names, in the same order.

    Raises:
        ValueError: If ``loss`` is not a scalar or (``allow_unused=False``) misses a parameter.
        KeyError: If ``adapt_names`` names a non-parameter or ``lr`` misses a name.

    Examples:
        >>> import torch
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> inner_step({"w": w}, (2 * w).sum(), lr=0.1)["w"]
        tensor([0.8000], grad_fn=<AddBackward0>)
    """
    names = _differentiable_names(adapt_names, params)
    grads = _autograd_gradients(
        loss, params, names, first_order=first_order, allow_unused=allow_unused
    )
    return sgd_update(params, grads, lr)


def _differentiable_names(adapt_names: Iterable[str] | None, params: Params) -> list[str]:
    """The checked ``adapt_names`` less the parameters that do not require grad."""
    return [name for name in check_adapt_names(adapt_names, params) if params[name].requires_grad]


def _per_step(value: _T | Sequence[_T], steps: int, what: str) -> list[_T]:
    """``value`` repeated for every step, or a per-step list/tuple checked for length."""
    if not isinstance(value, list | tuple):
        return [value] * steps  # type: ignore[list-item]  # not a list/tuple, so a single _T
    if len(value) != steps:
        raise ValueError(
            f"{what} gives {len(value)} per-step values for {steps} inner steps; expected one "
            f"value per step (or a single value for every step)"
        )
    return list(value)


def adapt_trajectory(
    params: Params,
    build_loss: BuildLoss | Sequence[BuildLoss],
    *,
    lr: LearningRate | Sequence[LearningRate] = 0.01,
    inner_steps: int | None = None,
    first_order: bool = False,
    adapt_names: Iterable[str] | None = None,
    allow_unused: bool = True,
    update: UpdateRule | None = None,
    grad_mode: GradMode = "autograd",
    checkpoint_steps: bool = False,
) -> list[dict[str, Tensor]]:
    """Run the inner loop and return the parameters after every step: the one inner loop.

    Each step: support loss, gradient, [`sgd_update`][meta_functional.sgd_update] (or
    ``update``). With ``grad_mode="func"`` it is a pure function of tensors that
    ``torch.func.vmap`` (one task per batch element), ``grad`` and ``torch.compile`` transform.

    Args:
        params: Starting parameter mapping ``theta``.
        build_loss: Closure from parameters to the scalar support loss, called once per step;
            or a list/tuple of closures, one per step (e.g. one mini-batch each).
        lr: Step size (see [`sgd_update`][meta_functional.sgd_update]), or one per step.
        inner_steps: Number of steps; ``None``: one, or one per closure of a list.
        first_order: Do not differentiate inner gradients again.
        adapt_names: See [`inner_step`][meta_functional.inner_step].
        allow_unused: See ``inner_step``; ``"func"`` gives unused parameters zero gradients.
        update: ``update(params, grads, step) -> new params`` replacing the SGD rule (e.g. a
            stateful optimizer); ``grads`` holds one tensor per adapted name.
        grad_mode: ``"autograd"`` (``torch.autograd.grad``, eager; the loss may update
            BatchNorm running statistics) or ``"func"`` (``torch.func.grad``, transformable;
            the loss must not mutate tensors it captures).
        checkpoint_steps: Run each step under `torch.utils.checkpoint.checkpoint`
            (``use_reentrant=False``): the activations of a step's support pass are not
            kept for the backward pass but recomputed there, which slows the growth of
            memory with the number of steps (measured on an MLP: about a third less per
            step, for a fixed overhead and about twice the time). The result and its
            derivatives, second order included, are unchanged. Needs
            ``grad_mode="autograd"``: `torch.func.grad` (and so ``vmap`` over it and
            ``torch.compile``) does not support the saved-tensor hooks that checkpointing
            uses. A loss that mutates state (BatchNorm running
            statistics) is recomputed too, so it mutates it twice.

    Returns:
        ``inner_steps`` parameter mappings, the one after step ``i`` at index ``i - 1``.

    Raises:
        ValueError: If ``inner_steps`` is negative or disagrees with a per-step list,
            ``grad_mode`` is unknown, ``checkpoint_steps`` is combined with
            ``grad_mode="func"``, or as [`inner_step`][meta_functional.inner_step].
        TypeError: If ``checkpoint_steps`` is not a bool.
        KeyError: As [`inner_step`][meta_functional.inner_step].

    Examples:
        >>> import torch
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> steps = adapt_trajectory({"w": w}, lambda p: (p["w"] ** 2).sum(), lr=0.25,
        ...                          inner_steps=2)
        >>> [round(p["w"].item(), 4) for p in steps]
        [0.5, 0.25]
    """
    if grad_mode not in ("autograd", "func"):
        raise ValueError(f"grad_mode must be 'autograd' or 'func', got {grad_mode!r}")
    if check_flag(checkpoint_steps, "checkpoint_steps") and grad_mode == "func":
        raise ValueError(
            "checkpoint_steps=True needs grad_mode='autograd': torch.func.grad (and vmap or "
            "torch.compile over it) does not support the saved-tensor hooks of "
            "torch.utils.checkpoint; use grad_mode='autograd' or checkpoint_steps=False"
        )
    if inner_steps is None:
        inner_steps = len(build_loss) if isinstance(build_loss, list | tuple) else 1
    steps = check_non_negative_int(inner_steps, "inner_steps")
    losses: list[BuildLoss] = _per_step(build_loss, steps, "build_loss")
    rates: list[LearningRate] = _per_step(lr, steps, "lr")
    names = _differentiable_names(adapt_names, params)

    def one_step(
        current: dict[str, Tensor], step: int, support_loss: BuildLoss, rate: LearningRate
    ) -> dict[str, Tensor]:
        if grad_mode == "func":
            grads = _func_gradients(support_loss, current, names, first_order=first_order)
        else:
            grads = _autograd_gradients(
                support_loss(current),
                current,
                names,
                first_order=first_order,
                allow_unused=allow_unused,
            )
        if update is None:
            return sgd_update(current, grads, rate)
        dense = {n: torch.zeros_like(current[n]) if g is None else g for n, g in grads.items()}
        return update(current, dense, step)

    current = dict(params)
    trajectory: list[dict[str, Tensor]] = []
    # the inner loop needs gradients even where the caller evaluates under torch.no_grad()
    with torch.enable_grad():
        for step, (support_loss, rate) in enumerate(zip(losses, rates, strict=True)):
            if checkpoint_steps:
                current = checkpoint(
                    one_step, current, step, support_loss, rate, use_reentrant=False
                )
            else:
                current = one_step(current, step, support_loss, rate)
            trajectory.append(current)
    return trajectory


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

    The last step of [`adapt_trajectory`][meta_functional.adapt_trajectory].

    Args:
        model: The module whose parameters ``params`` must name exactly.
        params: Starting parameter mapping (usually
            [`named_params`][meta_functional.named_params]).
        build_loss: Parameters -> scalar support loss, e.g.
            ``lambda p: loss_fn(functional_forward(model, p, x), y)``, recomputed each step.
        lr: Step size; see [`sgd_update`][meta_functional.sgd_update].
        inner_steps: Number of steps (``0`` returns a copy of ``params``).
        first_order: See [`inner_step`][meta_functional.inner_step] (so are the next two).
        adapt_names: Names to adapt.
        allow_unused: Whether an adapted parameter the loss does not use is allowed.

    Returns:
        The adapted parameter mapping.

    Raises:
        KeyError: If ``params`` does not match ``model``; else as ``adapt_trajectory``.

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
    check_params_match(model, params)
    trajectory = adapt_trajectory(
        params,
        build_loss,
        lr=lr,
        inner_steps=inner_steps,
        first_order=first_order,
        adapt_names=adapt_names,
        allow_unused=allow_unused,
    )
    return trajectory[-1] if trajectory else dict(params)
