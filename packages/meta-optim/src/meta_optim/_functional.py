"""Differentiable functional inner-loop optimizers: ``sgd``, ``rmsprop`` and ``adam``.

Each factory validates its hyperparameters once and returns a
[`GradientTransformation`][meta_optim.GradientTransformation] whose ``update`` only uses
out-of-place tensor operations: no ``.item()``, no in-place updates and no Python branching on
tensor values. Meta-gradients therefore flow through any number of inner steps, and the same code
runs under ``torch.func.vmap`` and ``torch.func.grad``. The arithmetic follows ``torch.optim.SGD``,
``torch.optim.RMSprop`` and ``torch.optim.Adam`` step by step (with ``dampening=0``,
``amsgrad=False`` and ``maximize=False``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import torch
from meta_functional.checks import check_finite_rate
from torch import Tensor

from ._checks import (
    check_in_unit_interval,
    check_lr,
    check_same_names,
    check_state_type,
    check_tensor_map,
)
from ._typing import GradientTransformation, ScalarLike, TensorMap


class SgdState(NamedTuple):
    """State of [`sgd`][meta_optim.sgd].

    Attributes:
        momentum_buffer: Name -> velocity buffer; empty when ``momentum == 0``.
    """

    momentum_buffer: dict[str, Tensor]


class RMSpropState(NamedTuple):
    """State of [`rmsprop`][meta_optim.rmsprop].

    Attributes:
        square_avg: Name -> running average of squared gradients.
        grad_avg: Name -> running average of gradients; empty unless ``centered=True``.
        momentum_buffer: Name -> momentum buffer; empty when ``momentum == 0``.
    """

    square_avg: dict[str, Tensor]
    grad_avg: dict[str, Tensor]
    momentum_buffer: dict[str, Tensor]


class AdamState(NamedTuple):
    """State of [`adam`][meta_optim.adam].

    Attributes:
        step: Number of updates taken so far, an ``int64`` scalar tensor (torch.optim's
            ``state["step"]``).
        exp_avg: Name -> first-moment estimate.
        exp_avg_sq: Name -> second-moment estimate.
    """

    step: Tensor
    exp_avg: dict[str, Tensor]
    exp_avg_sq: dict[str, Tensor]


def _zeros_like(params: TensorMap) -> dict[str, Tensor]:
    return {name: torch.zeros_like(param) for name, param in params.items()}


def _decayed_grads(
    grads: TensorMap, params: TensorMap | None, weight_decay: float, optimizer: str
) -> dict[str, Tensor]:
    """Add ``weight_decay * param`` to every gradient (L2 penalty, as torch.optim does)."""
    if weight_decay == 0:
        return dict(grads)
    if params is None:
        raise ValueError(
            f"{optimizer} was built with weight_decay={weight_decay}, so update() needs the "
            f"current params; got params=None"
        )
    return {name: grad + weight_decay * params[name] for name, grad in grads.items()}


def _safe_sqrt(value: Tensor) -> Tensor:
    """``sqrt`` whose value matches ``value.sqrt()`` for positive entries and is 0 elsewhere.

    The plain square root has an infinite derivative at 0, which turns the meta-gradient of an
    entry whose gradients were all exactly zero (a dead unit, an unused row) into NaN. Routing
    non-positive entries through a constant keeps that derivative at 0 instead. Entries that are
    negative only through rounding (centered RMSprop) give 0 rather than torch.optim's NaN.
    """
    positive = value > 0
    safe = torch.where(positive, value, torch.ones_like(value))
    return torch.where(positive, safe.sqrt(), torch.zeros_like(value))


def _check_update_inputs(
    optimizer: str,
    grads: TensorMap,
    buffers: Mapping[str, TensorMap],
    params: TensorMap | None,
) -> None:
    check_tensor_map("grads", grads)
    for field, buffer in buffers.items():
        check_same_names("grads", grads, f"state.{field}", buffer, optimizer)
    if params is not None:
        check_tensor_map("params", params)
        check_same_names("grads", grads, "params", params, optimizer)


def sgd(
    lr: ScalarLike,
    momentum: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> GradientTransformation[SgdState]:
    """Differentiable stochastic gradient descent, matching ``torch.optim.SGD``.

    With ``g = grad + weight_decay * param`` and ``b`` the momentum buffer (initially 0)::

        b <- momentum * b + g                       (only if momentum != 0)
        d = g + momentum * b if nesterov else b     (d = g if momentum == 0)
        update = -lr * d

    Args:
        lr: Learning rate, a non-negative float or a scalar tensor (which may require grad, e.g.
            to meta-learn it).
        momentum: Momentum factor (``dampening`` is always 0).
        nesterov: Use Nesterov momentum; needs ``momentum > 0``.
        weight_decay: L2 penalty added to the gradient; when non-zero, ``update`` needs
            ``params``.

    Returns:
        A [`GradientTransformation`][meta_optim.GradientTransformation] whose state is an
        [`SgdState`][meta_optim.SgdState].

    Raises:
        ValueError: If a hyperparameter is out of range, or ``nesterov`` is set without
            momentum.
        TypeError: If ``lr`` is neither a float nor a tensor.

    Examples:
        >>> import torch
        >>> from meta_optim import apply_updates, sgd
        >>> optimizer = sgd(lr=0.1, momentum=0.9)
        >>> params = {"w": torch.tensor([1.0])}
        >>> state = optimizer.init(params)
        >>> for _ in range(2):
        ...     updates, state = optimizer.update({"w": torch.tensor([1.0])}, state, params)
        ...     params = apply_updates(params, updates)
        >>> params["w"]  # 1 - 0.1 * 1 - 0.1 * (0.9 + 1)
        tensor([0.7100])
    """
    check_lr(lr)
    check_finite_rate(momentum, "momentum")
    check_finite_rate(weight_decay, "weight_decay")
    if nesterov and momentum == 0:
        raise ValueError(f"nesterov=True needs momentum > 0, got momentum={momentum}")
    uses_momentum = momentum != 0

    def init(params: TensorMap, /) -> SgdState:
        check_tensor_map("params", params)
        return SgdState(momentum_buffer=_zeros_like(params) if uses_momentum else {})

    def update(
        grads: TensorMap, state: SgdState, params: TensorMap | None = None, /
    ) -> tuple[dict[str, Tensor], SgdState]:
        check_state_type(state, SgdState, "sgd")
        buffers = {"momentum_buffer": state.momentum_buffer} if uses_momentum else {}
        _check_update_inputs("sgd", grads, buffers, params)
        directions = _decayed_grads(grads, params, weight_decay, "sgd")
        new_buffer: dict[str, Tensor] = {}
        updates: dict[str, Tensor] = {}
        for name, direction in directions.items():
            if uses_momentum:
                buffer = momentum * state.momentum_buffer[name] + direction
                new_buffer[name] = buffer
                direction = direction + momentum * buffer if nesterov else buffer
            updates[name] = -lr * direction
        return updates, SgdState(momentum_buffer=new_buffer)

    return GradientTransformation(init=init, update=update)


def rmsprop(
    lr: ScalarLike,
    alpha: float = 0.99,
    eps: float = 1e-8,
    centered: bool = False,
    momentum: float = 0.0,
    *,
    weight_decay: float = 0.0,
) -> GradientTransformation[RMSpropState]:
    """Differentiable RMSprop, matching ``torch.optim.RMSprop``.

    With ``g = grad + weight_decay * param``, ``s`` the square average, ``a`` the gradient
    average and ``b`` the momentum buffer (all initially 0)::

        s <- alpha * s + (1 - alpha) * g * g
        a <- alpha * a + (1 - alpha) * g            (centered only)
        r = sqrt(s - a * a) if centered else sqrt(s)
        d = g / (r + eps)                           (eps outside the square root, as in torch)
        b <- momentum * b + d                       (only if momentum != 0; then d = b)
        update = -lr * d

    The square root has a zero (not infinite) derivative where its argument is 0, so entries
    whose gradients were all exactly zero keep finite meta-gradients.

    Args:
        lr: Learning rate, a non-negative float or a scalar tensor (which may require grad).
        alpha: Smoothing constant in ``[0, 1]``.
        eps: Term added to the denominator, ``>= 0``.
        centered: Normalise by the estimated variance instead of the second moment.
        momentum: Momentum factor, ``>= 0``.
        weight_decay: L2 penalty added to the gradient; when non-zero, ``update`` needs
            ``params``.

    Returns:
        A [`GradientTransformation`][meta_optim.GradientTransformation] whose state is an
        [`RMSpropState`][meta_optim.RMSpropState].

    Raises:
        ValueError: If a hyperparameter is out of range.
        TypeError: If ``lr`` is neither a float nor a tensor.

    Examples:
        >>> import torch
        >>> from meta_optim import rmsprop
        >>> optimizer = rmsprop(lr=0.01, alpha=0.0, eps=0.0)
        >>> params = {"w": torch.tensor([3.0])}
        >>> updates, _ = optimizer.update({"w": torch.tensor([-4.0])}, optimizer.init(params))
        >>> updates["w"]  # -0.01 * (-4) / sqrt(16)
        tensor([0.0100])
    """
    check_lr(lr)
    check_in_unit_interval("alpha", alpha, closed=True)
    check_finite_rate(eps, "eps")
    check_finite_rate(momentum, "momentum")
    check_finite_rate(weight_decay, "weight_decay")
    uses_momentum = momentum != 0

    def init(params: TensorMap, /) -> RMSpropState:
        check_tensor_map("params", params)
        return RMSpropState(
            square_avg=_zeros_like(params),
            grad_avg=_zeros_like(params) if centered else {},
            momentum_buffer=_zeros_like(params) if uses_momentum else {},
        )

    def update(
        grads: TensorMap, state: RMSpropState, params: TensorMap | None = None, /
    ) -> tuple[dict[str, Tensor], RMSpropState]:
        check_state_type(state, RMSpropState, "rmsprop")
        buffers: dict[str, TensorMap] = {"square_avg": state.square_avg}
        if centered:
            buffers["grad_avg"] = state.grad_avg
        if uses_momentum:
            buffers["momentum_buffer"] = state.momentum_buffer
        _check_update_inputs("rmsprop", grads, buffers, params)
        directions = _decayed_grads(grads, params, weight_decay, "rmsprop")
        square_avg: dict[str, Tensor] = {}
        grad_avg: dict[str, Tensor] = {}
        momentum_buffer: dict[str, Tensor] = {}
        updates: dict[str, Tensor] = {}
        for name, direction in directions.items():
            square = alpha * state.square_avg[name] + (1 - alpha) * direction * direction
            square_avg[name] = square
            if centered:
                mean = alpha * state.grad_avg[name] + (1 - alpha) * direction
                grad_avg[name] = mean
                root = _safe_sqrt(square - mean * mean)
            else:
                root = _safe_sqrt(square)
            step = direction / (root + eps)
            if uses_momentum:
                step = momentum * state.momentum_buffer[name] + step
                momentum_buffer[name] = step
            updates[name] = -lr * step
        return updates, RMSpropState(
            square_avg=square_avg, grad_avg=grad_avg, momentum_buffer=momentum_buffer
        )

    return GradientTransformation(init=init, update=update)


def adam(
    lr: ScalarLike,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> GradientTransformation[AdamState]:
    """Differentiable Adam, matching ``torch.optim.Adam`` (``amsgrad=False``).

    With ``g = grad + weight_decay * param`` (L2 penalty, not AdamW), ``t`` the step count after
    this update and ``m``, ``v`` the moment estimates (initially 0)::

        m <- beta1 * m + (1 - beta1) * g
        v <- beta2 * v + (1 - beta2) * g * g
        update = -lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    i.e. ``eps`` is added to the bias-corrected root, exactly where torch adds it. The square
    root has a zero (not infinite) derivative where ``v`` is 0, so entries whose gradients were
    all exactly zero keep finite meta-gradients.

    Args:
        lr: Learning rate, a non-negative float or a scalar tensor (which may require grad).
        betas: ``(beta1, beta2)``, each in ``[0, 1)``.
        eps: Term added to the denominator, ``>= 0``.
        weight_decay: L2 penalty added to the gradient; when non-zero, ``update`` needs
            ``params``.

    Returns:
        A [`GradientTransformation`][meta_optim.GradientTransformation] whose state is an
        [`AdamState`][meta_optim.AdamState].

    Raises:
        ValueError: If a hyperparameter is out of range or ``betas`` is not a pair.
        TypeError: If ``lr`` is neither a float nor a tensor.

    Examples:
        >>> import torch
        >>> from meta_optim import adam
        >>> optimizer = adam(lr=0.1)
        >>> params = {"w": torch.tensor([1.0, -1.0])}
        >>> state = optimizer.init(params)
        >>> updates, state = optimizer.update({"w": torch.tensor([2.0, -3.0])}, state)
        >>> updates["w"]  # the first Adam step is -lr * sign(grad)
        tensor([-0.1000,  0.1000])
        >>> int(state.step)
        1
    """
    check_lr(lr)
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    beta1, beta2 = float(betas[0]), float(betas[1])
    check_in_unit_interval("betas[0]", beta1, closed=False)
    check_in_unit_interval("betas[1]", beta2, closed=False)
    check_finite_rate(eps, "eps")
    check_finite_rate(weight_decay, "weight_decay")

    def init(params: TensorMap, /) -> AdamState:
        check_tensor_map("params", params)
        device = next(iter(params.values())).device if params else None
        return AdamState(
            step=torch.zeros((), dtype=torch.int64, device=device),
            exp_avg=_zeros_like(params),
            exp_avg_sq=_zeros_like(params),
        )

    def update(
        grads: TensorMap, state: AdamState, params: TensorMap | None = None, /
    ) -> tuple[dict[str, Tensor], AdamState]:
        check_state_type(state, AdamState, "adam")
        buffers = {"exp_avg": state.exp_avg, "exp_avg_sq": state.exp_avg_sq}
        _check_update_inputs("adam", grads, buffers, params)
        directions = _decayed_grads(grads, params, weight_decay, "adam")
        count = state.step + 1
        exp_avg: dict[str, Tensor] = {}
        exp_avg_sq: dict[str, Tensor] = {}
        updates: dict[str, Tensor] = {}
        for name, direction in directions.items():
            first = beta1 * state.exp_avg[name] + (1 - beta1) * direction
            second = beta2 * state.exp_avg_sq[name] + (1 - beta2) * direction * direction
            exp_avg[name], exp_avg_sq[name] = first, second
            power = count.to(device=direction.device, dtype=direction.dtype)
            bias_correction1 = 1 - beta1**power
            bias_correction2 = 1 - beta2**power
            denominator = _safe_sqrt(second) / bias_correction2.sqrt() + eps
            updates[name] = -(lr / bias_correction1) * first / denominator
        return updates, AdamState(step=count, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq)

    return GradientTransformation(init=init, update=update)


def apply_updates(params: TensorMap, updates: TensorMap) -> dict[str, Tensor]:
    """Return ``{name: params[name] + updates[name]}`` without modifying anything.

    Parameters without an entry in ``updates`` are passed through unchanged, so updates computed
    for a subset of the parameters (e.g. only the head) can be applied to the full mapping.

    Args:
        params: Current parameters.
        updates: Updates to add, as returned by a
            [`GradientTransformation`][meta_optim.GradientTransformation]'s ``update``; every name
            must be a parameter name.

    Returns:
        A new dict with one entry per parameter, in the order of ``params``.

    Raises:
        KeyError: If ``updates`` names something that is not in ``params``.
        TypeError: If a value is not a tensor.

    Examples:
        >>> import torch
        >>> params = {"w": torch.tensor(1.0), "b": torch.tensor(2.0)}
        >>> apply_updates(params, {"w": torch.tensor(-0.5)})
        {'w': tensor(0.5000), 'b': tensor(2.)}
    """
    check_tensor_map("params", params)
    check_tensor_map("updates", updates)
    unknown = [name for name in updates if name not in params]
    if unknown:
        raise KeyError(
            f"updates name parameters that are not in params: {sorted(unknown)}; "
            f"expected a subset of {sorted(params)}"
        )
    return {
        name: param + updates[name] if name in updates else param for name, param in params.items()
    }
