"""Linear solvers over parameter mappings: conjugate gradient for implicit meta-gradients."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
from torch import Tensor

from ._typing import Params
from .checks import check_finite_rate, check_non_negative_int, describe_mismatch

#: A linear operator on parameter mappings, ``v -> A v`` (e.g. a Hessian-vector product).
MatVec = Callable[[dict[str, Tensor]], Mapping[str, Tensor]]


def _dot(left: Params, right: Params) -> Tensor:
    """The inner product of two mappings with the same names, as one scalar tensor."""
    return torch.stack([(left[name] * right[name]).sum() for name in left]).sum()


def _safe_ratio(numerator: Tensor, denominator: Tensor) -> Tensor:
    """``numerator / denominator``, or zero where the denominator is zero (a converged solve)."""
    nonzero = denominator != 0
    return torch.where(nonzero, numerator / torch.where(nonzero, denominator, 1.0), 0.0)


def _check_same_names(product: Mapping[str, Tensor], rhs: Params) -> None:
    missing = [name for name in rhs if name not in product]
    extra = [name for name in product if name not in rhs]
    if missing or extra:
        raise KeyError(
            f"matvec must return one tensor per name of rhs: "
            f"{describe_mismatch(missing, extra, extra_label='unexpected')}"
        )


def conjugate_gradient(
    matvec: MatVec,
    rhs: Params,
    *,
    max_iter: int,
    damping: float = 0.0,
    tol: float | None = None,
) -> dict[str, Tensor]:
    """Solve ``(A + damping * I) x = rhs`` by conjugate gradient, given only ``v -> A v``.

    ``A`` must be symmetric positive definite (or become so with ``damping``); vectors are
    parameter mappings, so ``A`` can be a Hessian-vector product over a model's parameters.
    The solve starts at ``x = 0``. In exact arithmetic it reaches the solution after as many
    iterations as ``A`` has distinct eigenvalues. A residual that reaches exactly zero
    stops the progress without producing NaN (the step sizes become zero).

    With ``tol=None`` it runs exactly ``max_iter`` iterations with no data-dependent control
    flow, so it works under ``torch.func.vmap`` (one system per batch element) and is
    differentiable in ``rhs`` and in whatever ``matvec`` closes over. With a ``tol`` it
    stops early once ``||r|| <= tol * ||rhs||``, which reads the residual as a Python number
    (not under ``vmap``).

    Args:
        matvec: The operator ``A``: takes a mapping with the names of ``rhs`` and returns
            one of the same names and shapes.
        rhs: The right-hand side ``b``.
        max_iter: The most iterations to run (``>= 1``).
        damping: A non-negative shift added to the diagonal of ``A``.
        tol: Relative residual at which to stop early; ``None`` runs all iterations.

    Returns:
        The approximate solution ``x``, with the names of ``rhs``.

    Raises:
        ValueError: If ``rhs`` is empty, ``max_iter`` is not an int ``>= 1``, or
            ``damping``/``tol`` is negative or not finite.
        TypeError: If ``damping`` or ``tol`` is not a number.
        KeyError: If ``matvec`` returns other names than ``rhs`` holds.

    Examples:
        >>> import torch
        >>> matrix = torch.tensor([[4.0, 1.0], [1.0, 3.0]])
        >>> solution = conjugate_gradient(
        ...     lambda v: {"x": matrix @ v["x"]}, {"x": torch.tensor([1.0, 2.0])}, max_iter=2
        ... )
        >>> solution["x"]
        tensor([0.0909, 0.6364])

    References:
        Hestenes and Stiefel, "Methods of Conjugate Gradients for Solving Linear Systems",
        Journal of Research of the National Bureau of Standards, 1952.
    """
    iterations = check_non_negative_int(max_iter, "max_iter", minimum=1)
    shift = check_finite_rate(damping, "damping")
    if not rhs:
        raise ValueError("rhs is empty: expected a mapping name -> tensor with at least one name")
    solution = {name: torch.zeros_like(value) for name, value in rhs.items()}
    residual = dict(rhs)
    direction = dict(rhs)
    residual_sq = _dot(residual, residual)
    threshold = None if tol is None else check_finite_rate(tol, "tol") ** 2 * float(residual_sq)
    for _ in range(iterations):
        if threshold is not None and float(residual_sq) <= threshold:
            break
        product = matvec(direction)
        _check_same_names(product, rhs)
        product = {name: product[name] + shift * direction[name] for name in rhs}
        alpha = _safe_ratio(residual_sq, _dot(direction, product))
        solution = {name: solution[name] + alpha * direction[name] for name in rhs}
        residual = {name: residual[name] - alpha * product[name] for name in rhs}
        next_sq = _dot(residual, residual)
        beta = _safe_ratio(next_sq, residual_sq)
        direction = {name: residual[name] + beta * direction[name] for name in rhs}
        residual_sq = next_sq
    return solution
