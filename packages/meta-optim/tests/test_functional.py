"""Parity, differentiability and input checks of the functional optimizers sgd/rmsprop/adam."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from meta_optim import (
    AdamState,
    GradientTransformation,
    RMSpropState,
    SgdState,
    adam,
    apply_updates,
    rmsprop,
    sgd,
)
from torch.func import grad, vmap

DTYPE = torch.float64


def make_problem(device: torch.device, seed: int = 0) -> tuple[dict[str, torch.Tensor], Any]:
    """A small non-quadratic regression problem: tanh layer + squared error."""
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(16, 4, generator=generator, dtype=DTYPE).to(device)
    targets = torch.randn(16, 3, generator=generator, dtype=DTYPE).to(device)
    params = {
        "weight": torch.randn(3, 4, generator=generator, dtype=DTYPE).to(device),
        "bias": torch.randn(3, generator=generator, dtype=DTYPE).to(device),
    }
    return params, (inputs, targets)


def loss_fn(params: dict[str, torch.Tensor], data: Any) -> torch.Tensor:
    inputs, targets = data
    prediction = torch.tanh(inputs @ params["weight"].T + params["bias"])
    return ((prediction - targets) ** 2).mean()


def run_functional(
    optimizer: GradientTransformation[Any],
    params: dict[str, torch.Tensor],
    data: Any,
    steps: int,
) -> list[dict[str, torch.Tensor]]:
    state = optimizer.init(params)
    trajectory = []
    for _ in range(steps):
        grads = grad(loss_fn)(params, data)
        updates, state = optimizer.update(grads, state, params)
        params = apply_updates(params, updates)
        trajectory.append(params)
    return trajectory


def run_torch(
    factory: Callable[..., torch.optim.Optimizer],
    kwargs: dict[str, Any],
    params: dict[str, torch.Tensor],
    data: Any,
    steps: int,
) -> list[dict[str, torch.Tensor]]:
    leaves = {name: value.clone().requires_grad_() for name, value in params.items()}
    optimizer = factory(list(leaves.values()), **kwargs)
    trajectory = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(leaves, data).backward()
        optimizer.step()
        trajectory.append({name: value.detach().clone() for name, value in leaves.items()})
    return trajectory


PARITY_CASES = [
    (sgd, torch.optim.SGD, {"lr": 0.3}),
    (sgd, torch.optim.SGD, {"lr": 0.1, "momentum": 0.9}),
    (sgd, torch.optim.SGD, {"lr": 0.1, "momentum": 0.8, "nesterov": True}),
    (sgd, torch.optim.SGD, {"lr": 0.2, "momentum": 0.5, "weight_decay": 0.05}),
    (sgd, torch.optim.SGD, {"lr": 0.2, "weight_decay": 0.1}),
    (rmsprop, torch.optim.RMSprop, {"lr": 0.01}),
    (rmsprop, torch.optim.RMSprop, {"lr": 0.01, "alpha": 0.9, "eps": 1e-3}),
    (rmsprop, torch.optim.RMSprop, {"lr": 0.01, "centered": True}),
    (rmsprop, torch.optim.RMSprop, {"lr": 0.005, "momentum": 0.9}),
    (rmsprop, torch.optim.RMSprop, {"lr": 0.005, "centered": True, "momentum": 0.7}),
    (rmsprop, torch.optim.RMSprop, {"lr": 0.01, "weight_decay": 0.1, "centered": True}),
    (adam, torch.optim.Adam, {"lr": 0.05}),
    (adam, torch.optim.Adam, {"lr": 0.05, "betas": (0.5, 0.9), "eps": 1e-4}),
    (adam, torch.optim.Adam, {"lr": 0.02, "weight_decay": 0.1}),
]


@pytest.mark.parametrize(("functional", "reference", "kwargs"), PARITY_CASES)
def test_twenty_steps_match_torch_optim(
    functional: Any, reference: Any, kwargs: dict[str, Any], device: torch.device
) -> None:
    params, data = make_problem(device)
    ours = run_functional(functional(**kwargs), params, data, steps=20)
    theirs = run_torch(reference, kwargs, params, data, steps=20)
    moved = (theirs[-1]["weight"] - params["weight"]).abs().max()
    assert moved > 1e-3  # the trajectory is not trivially constant
    for step, (mine, ref) in enumerate(zip(ours, theirs, strict=True)):
        for name in params:
            torch.testing.assert_close(
                mine[name], ref[name], atol=1e-6, rtol=0, msg=f"step {step} {name}"
            )


def test_tensor_lr_matches_float_lr(device: torch.device) -> None:
    params, data = make_problem(device)
    lr = torch.tensor(0.05, dtype=DTYPE, device=device)
    for factory in (sgd, rmsprop, adam):
        with_tensor = run_functional(factory(lr), params, data, steps=5)[-1]
        with_float = run_functional(factory(0.05), params, data, steps=5)[-1]
        for name in params:
            torch.testing.assert_close(with_tensor[name], with_float[name], atol=1e-12, rtol=0)


def test_states_have_documented_types_and_fields(device: torch.device) -> None:
    params, _ = make_problem(device)
    plain = sgd(0.1).init(params)
    assert isinstance(plain, SgdState)
    assert plain.momentum_buffer == {}
    assert set(sgd(0.1, momentum=0.9).init(params).momentum_buffer) == {"weight", "bias"}
    state = rmsprop(0.1, centered=True).init(params)
    assert isinstance(state, RMSpropState)
    assert set(state.square_avg) == set(state.grad_avg) == {"weight", "bias"}
    assert state.momentum_buffer == {}
    adam_state = adam(0.1).init(params)
    assert isinstance(adam_state, AdamState)
    assert adam_state.step.dtype == torch.int64
    assert int(adam_state.step) == 0
    grads = {name: torch.ones_like(value) for name, value in params.items()}
    _, adam_state = adam(0.1).update(grads, adam_state, params)
    _, adam_state = adam(0.1).update(grads, adam_state, params)
    assert int(adam_state.step) == 2


def test_update_does_not_modify_inputs(device: torch.device) -> None:
    params, data = make_problem(device)
    snapshot = {name: value.clone() for name, value in params.items()}
    optimizer = adam(0.1)
    state = optimizer.init(params)
    grads = grad(loss_fn)(params, data)
    _updates, new_state = optimizer.update(grads, state, params)
    for name in params:
        assert torch.equal(params[name], snapshot[name])
        assert torch.count_nonzero(state.exp_avg[name]) == 0
        assert torch.count_nonzero(new_state.exp_avg[name]) > 0


def inner_loop(
    factory: Callable[..., GradientTransformation[Any]],
    lr: torch.Tensor,
    params: dict[str, torch.Tensor],
    data: Any,
    steps: int,
    **kwargs: Any,
) -> dict[str, torch.Tensor]:
    optimizer = factory(lr, **kwargs)
    state = optimizer.init(params)
    for _ in range(steps):
        grads = grad(loss_fn)(params, data)
        updates, state = optimizer.update(grads, state, params)
        params = apply_updates(params, updates)
    return params


VMAP_CASES = [
    (sgd, {"momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (rmsprop, {"centered": True, "momentum": 0.5}),
    (adam, {"weight_decay": 0.01}),
]


@pytest.mark.parametrize(("factory", "kwargs"), VMAP_CASES)
def test_vmap_over_three_problems_equals_loop(
    factory: Any, kwargs: dict[str, Any], device: torch.device
) -> None:
    problems = [make_problem(device, seed) for seed in range(3)]
    stacked_params = {
        name: torch.stack([params[name] for params, _ in problems]) for name in problems[0][0]
    }
    stacked_data = tuple(torch.stack([data[i] for _, data in problems]) for i in range(2))
    lr = torch.tensor(0.05, dtype=DTYPE, device=device)

    def solve(params: dict[str, torch.Tensor], data: Any) -> dict[str, torch.Tensor]:
        return inner_loop(factory, lr, params, data, steps=6, **kwargs)

    batched = vmap(solve)(stacked_params, stacked_data)
    for index, (params, data) in enumerate(problems):
        expected = solve(params, data)
        for name in expected:
            torch.testing.assert_close(batched[name][index], expected[name], atol=1e-10, rtol=0)


@pytest.mark.parametrize(("factory", "kwargs"), VMAP_CASES)
def test_torch_func_grad_meta_gradient_equals_autograd(
    factory: Any, kwargs: dict[str, Any], device: torch.device
) -> None:
    params, data = make_problem(device)
    _, query = make_problem(device, seed=7)

    def meta_loss(lr: torch.Tensor, init: dict[str, torch.Tensor]) -> torch.Tensor:
        return loss_fn(inner_loop(factory, lr, init, data, steps=4, **kwargs), query)

    lr = torch.tensor(0.05, dtype=DTYPE, device=device)
    functional_grads = grad(meta_loss, argnums=(0, 1))(lr, params)

    lr_leaf = lr.clone().requires_grad_()
    leaves = {name: value.clone().requires_grad_() for name, value in params.items()}
    autograd_grads = torch.autograd.grad(
        meta_loss(lr_leaf, leaves), [lr_leaf, *leaves.values()], allow_unused=False
    )
    torch.testing.assert_close(functional_grads[0], autograd_grads[0], atol=1e-10, rtol=1e-8)
    for name, expected in zip(leaves, autograd_grads[1:], strict=True):
        torch.testing.assert_close(functional_grads[1][name], expected, atol=1e-10, rtol=1e-8)
    assert functional_grads[0].abs() > 0


def test_gradcheck_meta_gradient_through_three_adam_steps(device: torch.device) -> None:
    generator = torch.Generator().manual_seed(3)
    inputs = torch.randn(6, 3, generator=generator, dtype=DTYPE).to(device)
    targets = torch.randn(6, 2, generator=generator, dtype=DTYPE).to(device)
    query = torch.randn(5, 3, generator=generator, dtype=DTYPE).to(device)
    weight = torch.randn(2, 3, generator=generator, dtype=DTYPE).to(device).requires_grad_()
    bias = torch.randn(2, generator=generator, dtype=DTYPE).to(device).requires_grad_()
    lr = torch.tensor(0.1, dtype=DTYPE, device=device).requires_grad_()

    def meta_objective(weight: torch.Tensor, bias: torch.Tensor, lr: torch.Tensor) -> torch.Tensor:
        params = {"weight": weight, "bias": bias}
        optimizer = adam(lr, betas=(0.8, 0.9), eps=1e-3, weight_decay=0.01)
        state = optimizer.init(params)
        for _ in range(3):
            loss = ((torch.tanh(inputs @ params["weight"].T + params["bias"]) - targets) ** 2).sum()
            grads = dict(
                zip(
                    params,
                    torch.autograd.grad(loss, list(params.values()), create_graph=True),
                    strict=True,
                )
            )
            updates, state = optimizer.update(grads, state, params)
            params = apply_updates(params, updates)
        return torch.tanh(query @ params["weight"].T + params["bias"]).square().sum()

    assert torch.autograd.gradcheck(meta_objective, (weight, bias, lr), eps=1e-6, atol=1e-6)
    assert torch.autograd.gradgradcheck(meta_objective, (weight, bias, lr), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize(
    "optimizer",
    [
        sgd(0.1, momentum=0.9),
        rmsprop(0.1, centered=True, momentum=0.3),
        adam(0.1),
    ],
)
def test_gradcheck_meta_gradient_other_optimizers(
    optimizer: GradientTransformation[Any], device: torch.device
) -> None:
    target = torch.tensor([0.5, -1.0, 2.0], dtype=DTYPE, device=device)

    def meta_objective(start: torch.Tensor) -> torch.Tensor:
        params = {"x": start}
        state = optimizer.init(params)
        for _ in range(3):
            grads = grad(lambda p: ((torch.sin(p["x"]) - target) ** 2).sum())(params)
            updates, state = optimizer.update(grads, state, params)
            params = apply_updates(params, updates)
        return (params["x"] ** 3).sum()

    start = torch.tensor([0.3, 0.1, -0.7], dtype=DTYPE, device=device).requires_grad_()
    assert torch.autograd.gradcheck(meta_objective, (start,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("factory", [rmsprop, adam])
def test_meta_gradient_is_finite_where_gradients_are_exactly_zero(
    factory: Any, device: torch.device
) -> None:
    # The second entry never receives gradient, so its second moment stays exactly 0.
    start = torch.tensor([1.0, 2.0], dtype=DTYPE, device=device).requires_grad_()
    mask = torch.tensor([1.0, 0.0], dtype=DTYPE, device=device)
    lr = torch.tensor(0.1, dtype=DTYPE, device=device).requires_grad_()
    optimizer = factory(lr)
    params = {"x": start}
    state = optimizer.init(params)
    for _ in range(3):
        loss = ((params["x"] * mask - 3.0) ** 2).sum()
        grads = {"x": torch.autograd.grad(loss, params["x"], create_graph=True)[0]}
        updates, state = optimizer.update(grads, state, params)
        params = apply_updates(params, updates)
    start_grad, lr_grad = torch.autograd.grad(params["x"].sum(), [start, lr])
    assert torch.isfinite(start_grad).all()
    assert torch.isfinite(lr_grad).all()
    torch.testing.assert_close(start_grad[1], torch.tensor(1.0, dtype=DTYPE, device=device))
    assert params["x"][1].item() == 2.0


def test_apply_updates_subset_and_errors() -> None:
    params = {"a": torch.tensor(1.0), "b": torch.tensor(2.0)}
    result = apply_updates(params, {"b": torch.tensor(0.5)})
    assert list(result) == ["a", "b"]
    assert result["b"].item() == 2.5
    assert result["a"] is params["a"]
    with pytest.raises(KeyError, match=r"not in params: \['c'\]; expected a subset of \['a', 'b'"):
        apply_updates(params, {"c": torch.tensor(1.0)})
    with pytest.raises(TypeError, match=r"updates must map names to tensors; entries \['a'\]"):
        apply_updates(params, {"a": 1.0})  # type: ignore[dict-item]  # wrong on purpose
    with pytest.raises(TypeError, match=r"params must be a mapping .* got list"):
        apply_updates([torch.tensor(1.0)], {})  # type: ignore[arg-type]  # wrong on purpose


@pytest.mark.parametrize(
    ("factory", "kwargs", "error", "message"),
    [
        (sgd, {"lr": -0.1}, ValueError, r"lr must be >= 0, got -0.1"),
        (sgd, {"lr": float("inf")}, ValueError, r"lr must be a finite real number, got inf"),
        (sgd, {"lr": True}, TypeError, r"lr must be a finite real number, got True \(bool\)"),
        (sgd, {"lr": "0.1"}, TypeError, r"lr must be a finite real number, got '0.1' \(str\)"),
        (sgd, {"lr": torch.ones(2)}, ValueError, r"lr must be a scalar tensor, got shape \(2,\)"),
        (sgd, {"lr": torch.tensor(1)}, TypeError, r"floating-point tensor, got dtype torch.int64"),
        (sgd, {"lr": 0.1, "momentum": -0.5}, ValueError, r"momentum must be >= 0, got -0.5"),
        (sgd, {"lr": 0.1, "nesterov": True}, ValueError, r"nesterov=True needs momentum > 0"),
        (sgd, {"lr": 0.1, "weight_decay": -1.0}, ValueError, r"weight_decay must be >= 0"),
        (rmsprop, {"lr": 0.1, "alpha": 1.5}, ValueError, r"alpha must be in \[0, 1\], got 1.5"),
        (rmsprop, {"lr": 0.1, "eps": -1e-8}, ValueError, r"eps must be >= 0, got -1e-08"),
        (rmsprop, {"lr": 0.1, "momentum": -1.0}, ValueError, r"momentum must be >= 0"),
        (adam, {"lr": 0.1, "betas": (1.0, 0.9)}, ValueError, r"betas\[0\] must be in \[0, 1\)"),
        (adam, {"lr": 0.1, "betas": (0.9, -0.1)}, ValueError, r"betas\[1\] must be >= 0, got -0.1"),
        (adam, {"lr": 0.1, "betas": (0.9,)}, ValueError, r"betas must be a pair"),
        (
            adam,
            {"lr": 0.1, "eps": "x"},
            TypeError,
            r"eps must be a finite real number, got 'x' \(str\)",
        ),
    ],
)
def test_invalid_hyperparameters(
    factory: Any, kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        factory(**kwargs)


def test_mismatched_names_raise_key_error_naming_them() -> None:
    params = {"weight": torch.ones(2), "bias": torch.ones(1)}
    optimizer = adam(0.1)
    state = optimizer.init(params)
    with pytest.raises(KeyError, match=r"grads and state.exp_avg .* grads lacks \['bias'\]"):
        optimizer.update({"weight": torch.ones(2)}, state, params)
    grads = {"weight": torch.ones(2), "bias": torch.ones(1), "extra": torch.ones(1)}
    with pytest.raises(KeyError, match=r"grads has \['extra'\] that state.exp_avg lacks"):
        optimizer.update(grads, state, params)
    good_grads = {"weight": torch.ones(2), "bias": torch.ones(1)}
    with pytest.raises(KeyError, match=r"grads and params .* grads has \['bias'\] that params"):
        optimizer.update(good_grads, state, {"weight": torch.ones(2), "other": torch.ones(1)})
    momentum = sgd(0.1, momentum=0.9)
    with pytest.raises(KeyError, match=r"sgd: grads and state.momentum_buffer"):
        momentum.update({"w": torch.ones(1)}, momentum.init(params))
    centered = rmsprop(0.1, centered=True)
    wrong_state = centered.init({"w": torch.ones(1)})
    with pytest.raises(KeyError, match=r"rmsprop: grads and state.square_avg"):
        centered.update(good_grads, wrong_state)


def test_wrong_state_and_missing_params_errors() -> None:
    params = {"w": torch.ones(2)}
    grads = {"w": torch.ones(2)}
    with pytest.raises(TypeError, match=r"adam.update expected a AdamState .* got SgdState"):
        adam(0.1).update(grads, sgd(0.1).init(params))  # type: ignore[arg-type]  # on purpose
    decayed = sgd(0.1, weight_decay=0.1)
    with pytest.raises(ValueError, match=r"weight_decay=0.1, so update\(\) needs the current"):
        decayed.update(grads, decayed.init(params))
    with pytest.raises(TypeError, match=r"grads must map names to tensors; entries \['w'\]"):
        sgd(0.1).update({"w": None}, sgd(0.1).init(params))  # type: ignore[dict-item]  # on purpose
    with pytest.raises(TypeError, match="params must be a mapping"):
        sgd(0.1).init(torch.ones(2))  # type: ignore[arg-type]  # on purpose
