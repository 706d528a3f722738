"""conjugate_gradient against torch.linalg.solve: exactness, damping, mappings, vmap, errors."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch
from meta_functional import conjugate_gradient
from torch import Tensor


def spd_matrix(size: int, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
    g = torch.Generator().manual_seed(seed)
    factor = torch.randn(size, size, generator=g, dtype=dtype)
    return factor @ factor.T + 0.5 * torch.eye(size, dtype=dtype)


def as_operator(matrix: Tensor) -> Callable[[dict[str, Tensor]], dict[str, Tensor]]:
    return lambda vector: {"x": matrix @ vector["x"]}


@pytest.mark.parametrize("size", [1, 3, 8])
def test_exact_after_as_many_iterations_as_unknowns(size: int, device: torch.device) -> None:
    matrix = spd_matrix(size, seed=size).to(device)
    rhs = torch.randn(size, dtype=torch.float64, device=device)
    solution = conjugate_gradient(as_operator(matrix), {"x": rhs}, max_iter=size)
    torch.testing.assert_close(solution["x"], torch.linalg.solve(matrix, rhs), rtol=1e-8, atol=0)


def test_damping_shifts_the_diagonal() -> None:
    matrix = spd_matrix(5, seed=1)
    rhs = torch.randn(5, dtype=torch.float64)
    solution = conjugate_gradient(as_operator(matrix), {"x": rhs}, max_iter=5, damping=2.5)
    expected = torch.linalg.solve(matrix + 2.5 * torch.eye(5, dtype=torch.float64), rhs)
    torch.testing.assert_close(solution["x"], expected, rtol=1e-8, atol=0)


def test_solves_a_block_system_over_a_mapping_of_shaped_tensors() -> None:
    """Names and shapes are kept; the system is the matrix on the flattened concatenation."""
    matrix = spd_matrix(2 * 3 + 4, seed=2)
    shapes = {"weight": (2, 3), "bias": (4,)}

    def flat(mapping: dict[str, Tensor]) -> Tensor:
        return torch.cat([mapping[name].reshape(-1) for name in shapes])

    def split(vector: Tensor) -> dict[str, Tensor]:
        parts = vector.split([6, 4])
        return {
            name: part.reshape(shape)
            for part, (name, shape) in zip(parts, shapes.items(), strict=True)
        }

    rhs = split(torch.randn(10, dtype=torch.float64))
    solution = conjugate_gradient(lambda v: split(matrix @ flat(v)), rhs, max_iter=10)
    assert {name: tuple(value.shape) for name, value in solution.items()} == shapes
    expected = torch.linalg.solve(matrix, flat(rhs))
    torch.testing.assert_close(flat(solution), expected, rtol=1e-8, atol=0)


def test_fewer_iterations_reduce_the_residual_monotonically_in_the_energy_norm() -> None:
    matrix = spd_matrix(12, seed=3)
    rhs = torch.randn(12, dtype=torch.float64)
    exact = torch.linalg.solve(matrix, rhs)

    def energy_error(iterations: int) -> float:
        error = (
            conjugate_gradient(as_operator(matrix), {"x": rhs}, max_iter=iterations)["x"] - exact
        )
        return float(error @ matrix @ error)

    errors = [energy_error(n) for n in (1, 3, 6, 12)]
    assert errors == sorted(errors, reverse=True)
    assert errors[0] > 1e-3
    assert errors[-1] < 1e-16


def test_zero_rhs_gives_zero_without_nan() -> None:
    matrix = spd_matrix(4, seed=4)
    solution = conjugate_gradient(
        as_operator(matrix), {"x": torch.zeros(4, dtype=torch.float64)}, max_iter=6
    )
    assert torch.equal(solution["x"], torch.zeros(4, dtype=torch.float64))


def test_more_iterations_than_needed_stay_exact() -> None:
    """After convergence the residual is (near) zero; extra iterations do not produce NaN."""
    matrix = torch.diag(torch.tensor([2.0, 2.0, 2.0], dtype=torch.float64))
    rhs = torch.tensor([1.0, -1.0, 4.0], dtype=torch.float64)
    solution = conjugate_gradient(as_operator(matrix), {"x": rhs}, max_iter=20)
    torch.testing.assert_close(solution["x"], rhs / 2, rtol=0, atol=0)


def test_tol_stops_early() -> None:
    matrix = spd_matrix(30, seed=5)
    rhs = torch.randn(30, dtype=torch.float64)
    calls = 0

    def counted(vector: dict[str, Tensor]) -> dict[str, Tensor]:
        nonlocal calls
        calls += 1
        return {"x": matrix @ vector["x"]}

    solution = conjugate_gradient(counted, {"x": rhs}, max_iter=200, tol=1e-6)
    residual = rhs - matrix @ solution["x"]
    assert float(residual.norm()) <= 1e-6 * float(rhs.norm())
    assert calls < 200
    calls = 0
    conjugate_gradient(counted, {"x": rhs}, max_iter=7)
    assert calls == 7


def test_vmap_solves_one_system_per_batch_element() -> None:
    matrices = torch.stack([spd_matrix(4, seed=seed) for seed in range(3)])
    rhs = torch.randn(3, 4, dtype=torch.float64)

    def solve(matrix: Tensor, vector: Tensor) -> Tensor:
        return conjugate_gradient(as_operator(matrix), {"x": vector}, max_iter=4)["x"]

    batched = torch.func.vmap(solve)(matrices, rhs)
    torch.testing.assert_close(batched, torch.linalg.solve(matrices, rhs), rtol=1e-8, atol=0)


def test_differentiable_in_rhs() -> None:
    matrix = spd_matrix(3, seed=6)
    rhs = torch.randn(3, dtype=torch.float64, requires_grad=True)
    weights = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
    (conjugate_gradient(as_operator(matrix), {"x": rhs}, max_iter=3)["x"] @ weights).backward()
    assert rhs.grad is not None
    torch.testing.assert_close(rhs.grad, torch.linalg.solve(matrix, weights), rtol=1e-8, atol=0)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"max_iter": 0}, ValueError, "max_iter must be an int >= 1, got 0"),
        ({"max_iter": 2.0}, ValueError, "max_iter must be an int >= 1"),
        ({"max_iter": 2, "damping": -1.0}, ValueError, "damping"),
        ({"max_iter": 2, "damping": "1"}, TypeError, "damping must be a finite real number"),
        ({"max_iter": 2, "tol": float("nan")}, ValueError, "tol"),
    ],
)
def test_bad_arguments_raise(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        conjugate_gradient(as_operator(torch.eye(2)), {"x": torch.ones(2)}, **kwargs)  # type: ignore[arg-type]  # wrong on purpose


def test_empty_rhs_raises() -> None:
    with pytest.raises(ValueError, match="rhs is empty"):
        conjugate_gradient(lambda v: v, {}, max_iter=1)


def test_matvec_returning_other_names_raises() -> None:
    with pytest.raises(KeyError, match=r"missing \['x'\]; unexpected \['y'\]"):
        conjugate_gradient(lambda v: {"y": v["x"]}, {"x": torch.ones(2)}, max_iter=1)
