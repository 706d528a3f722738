"""Tests of the one update rule and the one inner loop: sgd_update and adapt_trajectory.

Every numerical test compares against an independent reference (a closed form, a hand-written
loop or finite differences) in float64 with stated tolerances. The parity of the two gradient
modes with the hand-written ``torch.func`` MAML objective is in test_functional.py, next to
that reference; descend_module is tested in test_modules.py.
"""

from __future__ import annotations

import pytest
import torch
from meta_functional import (
    adapt_trajectory,
    named_params,
    sgd_update,
)
from torch import Tensor, nn
from torch.func import functional_call

F64 = torch.float64


def assert_tight(actual: Tensor, expected: Tensor) -> None:
    """Identical mathematics in float64, only the order of operations may differ: 1e-10."""
    torch.testing.assert_close(actual, expected, rtol=1e-10, atol=1e-10)


def mlp(device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)).to(device, F64)


def mse(output: Tensor, target: Tensor) -> Tensor:
    return ((output - target) ** 2).mean()


def task_data(device: torch.device, seed: int = 2) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    support_x, query_x = (torch.randn(6, 2, generator=generator, dtype=F64) for _ in range(2))
    support_y, query_y = (torch.randn(6, 1, generator=generator, dtype=F64) for _ in range(2))
    return tuple(t.to(device) for t in (support_x, support_y, query_x, query_y))  # type: ignore[return-value]  # four tensors


# ------------------------------------------------------------------------------ sgd_update


def test_sgd_update_float_rate_is_closed_form_and_pure() -> None:
    params = {"w": torch.tensor([1.0, -2.0], dtype=F64), "b": torch.tensor(0.5, dtype=F64)}
    grads = {"w": torch.tensor([0.5, 4.0], dtype=F64), "b": torch.tensor(-1.0, dtype=F64)}
    before = {name: p.clone() for name, p in params.items()}
    updated = sgd_update(params, grads, 0.25)
    assert list(updated) == ["w", "b"]  # same names, same order
    assert updated is not params
    assert_tight(updated["w"], torch.tensor([0.875, -3.0], dtype=F64))
    assert_tight(updated["b"], torch.tensor(0.75, dtype=F64))
    for name, p in params.items():  # the inputs are not modified
        torch.testing.assert_close(p, before[name], rtol=0, atol=0)
    # an int rate is a float rate
    assert_tight(sgd_update(params, grads, 1)["w"], params["w"] - grads["w"])


@pytest.mark.parametrize("shape", [(), (1,)], ids=["0-dim", "one-element"])
def test_sgd_update_scalar_tensor_rate_is_differentiable(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    param = torch.randn(3, 2, dtype=F64, requires_grad=True)
    gradient = torch.randn(3, 2, dtype=F64, requires_grad=True)
    lr = torch.full(shape, 0.3, dtype=F64, requires_grad=True)
    weights = torch.randn(3, 2, dtype=F64)
    updated = sgd_update({"p": param}, {"p": gradient}, lr)["p"]
    assert_tight(updated, param - 0.3 * gradient)
    d_param, d_grad, d_lr = torch.autograd.grad((weights * updated).sum(), [param, gradient, lr])
    # d/dp sum(w (p - lr g)) = w, d/dg = -lr w, d/dlr = -sum(w g)
    assert_tight(d_param, weights)
    assert_tight(d_grad, -0.3 * weights)
    assert_tight(d_lr, -(weights * gradient.detach()).sum().reshape(shape))


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_sgd_update_is_the_difference_to_the_bit_with_its_gradients(dtype: torch.dtype) -> None:
    # the rule is written p + (-lr) g (a cheaper backward); values and gradients must be those
    # of p - lr g exactly, for float, scalar-tensor and per-element rates
    torch.manual_seed(0)
    param = torch.randn(64, 3, dtype=dtype, requires_grad=True)
    gradient = torch.randn(64, 3, dtype=dtype, requires_grad=True)
    weights = torch.randn(64, 3, dtype=dtype)
    for lr in (0.37, torch.tensor(0.37, dtype=dtype), torch.rand(64, 3, dtype=dtype)):
        rate = lr.requires_grad_() if isinstance(lr, Tensor) else lr
        ours = sgd_update(
            {"p": param}, {"p": gradient}, rate if isinstance(rate, float) else {"p": rate}
        )["p"]
        reference = param - rate * gradient
        assert torch.equal(ours, reference)
        inputs = [param, gradient] + ([rate] if isinstance(rate, Tensor) else [])
        for a, b in zip(
            torch.autograd.grad((weights * ours).sum(), inputs),
            torch.autograd.grad((weights * reference).sum(), inputs),
            strict=True,
        ):
            assert torch.equal(a, b)


def test_sgd_update_per_parameter_and_per_element_rates() -> None:
    params = {
        "a": torch.tensor([1.0, 2.0], dtype=F64),
        "b": torch.tensor([3.0, 4.0], dtype=F64),
        "c": torch.tensor([5.0, 6.0], dtype=F64),
    }
    grads = {name: torch.ones(2, dtype=F64) for name in params}
    rates = {
        "a": 0.5,  # a float
        "b": torch.tensor(0.25, dtype=F64),  # a scalar tensor
        "c": torch.tensor([0.1, 2.0], dtype=F64),  # one rate per element (MetaSGD)
    }
    updated = sgd_update(params, grads, rates)  # type: ignore[arg-type]  # a float entry on purpose
    assert_tight(updated["a"], torch.tensor([0.5, 1.5], dtype=F64))
    assert_tight(updated["b"], torch.tensor([2.75, 3.75], dtype=F64))
    assert_tight(updated["c"], torch.tensor([4.9, 4.0], dtype=F64))


def test_sgd_update_none_and_absent_grads_pass_through_as_the_same_objects() -> None:
    params = {name: torch.randn(2, dtype=F64) for name in ("frozen", "unused", "moved")}
    updated = sgd_update(params, {"unused": None, "moved": torch.ones(2, dtype=F64)}, 0.1)
    assert updated["frozen"] is params["frozen"]  # absent from grads
    assert updated["unused"] is params["unused"]  # mapped to None
    assert updated["moved"] is not params["moved"]
    assert_tight(updated["moved"], params["moved"] - 0.1)
    assert list(updated) == ["frozen", "unused", "moved"]


def test_sgd_update_unknown_grad_names_raise_key_error_naming_them() -> None:
    params = {"w": torch.ones(1), "b": torch.ones(1)}
    message = (
        r"grads name parameters that params lacks: \['typo'\]; expected a subset of \['b', 'w'\]"
    )
    with pytest.raises(KeyError, match=message):
        sgd_update(params, {"w": torch.ones(1), "typo": torch.ones(1)}, 0.1)


def test_sgd_update_bad_rates() -> None:
    params = {"w": torch.ones(2, 3), "b": torch.ones(3)}
    grads = {"w": torch.ones(2, 3), "b": torch.ones(3)}
    with pytest.raises(
        ValueError, match=r"a tensor learning rate must be a scalar, got shape \(3,\)"
    ):
        sgd_update(params, grads, torch.ones(3))
    with pytest.raises(
        ValueError,
        match=r"learning rate for 'w' has shape \(3, 2\); expected a scalar or the parameter's "
        r"shape \(2, 3\)",
    ):
        sgd_update(params, grads, {"w": torch.ones(3, 2), "b": torch.ones(3)})
    with pytest.raises(
        TypeError, match=r"learning rate for 'b' must be a tensor or a float, got str"
    ):
        sgd_update(params, grads, {"w": torch.ones(()), "b": "0.1"})  # type: ignore[dict-item]  # on purpose
    with pytest.raises(
        TypeError, match=r"learning rate for 'b' must be a tensor or a float, got bool"
    ):
        sgd_update(params, grads, {"w": torch.ones(()), "b": True})  # type: ignore[dict-item]  # on purpose
    with pytest.raises(KeyError, match="'b'"):  # a rate mapping must cover every updated name
        sgd_update(params, grads, {"w": torch.ones(())})


def test_sgd_update_under_vmap_equals_a_loop() -> None:
    torch.manual_seed(0)
    params = {"w": torch.randn(4, 3, dtype=F64), "b": torch.randn(4, dtype=F64)}
    grads = {"w": torch.randn(4, 3, dtype=F64), "b": torch.randn(4, dtype=F64)}
    rates = torch.rand(4, dtype=F64)
    batched = torch.func.vmap(sgd_update)(params, grads, rates)
    for row in range(4):
        single = sgd_update(
            {n: p[row] for n, p in params.items()},
            {n: g[row] for n, g in grads.items()},
            rates[row],
        )
        for name in params:
            assert_tight(batched[name][row], single[name])


# ------------------------------------------------------------------------ adapt_trajectory


def meta_gradient(
    net: nn.Module, steps: int, grad_mode: str, data: tuple[Tensor, Tensor, Tensor, Tensor]
) -> tuple[list[dict[str, Tensor]], tuple[Tensor, ...]]:
    support_x, support_y, query_x, query_y = data
    params = named_params(net)
    trajectory = adapt_trajectory(
        params,
        lambda p: mse(functional_call(net, p, (support_x,)), support_y),
        lr=0.4,
        inner_steps=steps,
        grad_mode=grad_mode,  # type: ignore[arg-type]  # parametrised literal
    )
    query_loss = mse(functional_call(net, trajectory[-1], (query_x,)), query_y)
    return trajectory, torch.autograd.grad(query_loss, list(params.values()))


def test_func_mode_under_vmap_over_tasks_equals_a_per_task_loop(device: torch.device) -> None:
    net = mlp(device)
    tasks = [task_data(device, seed) for seed in range(4)]
    stacks = [torch.stack(field) for field in zip(*tasks, strict=True)]
    params = named_params(net)

    def task_query_loss(
        theta: dict[str, Tensor],
        support_x: Tensor,
        support_y: Tensor,
        query_x: Tensor,
        query_y: Tensor,
    ) -> Tensor:
        adapted = adapt_trajectory(
            theta,
            lambda p: mse(functional_call(net, p, (support_x,)), support_y),
            lr=0.3,
            inner_steps=2,
            grad_mode="func",
        )[-1]
        return mse(functional_call(net, adapted, (query_x,)), query_y)

    batched = torch.func.vmap(task_query_loss, in_dims=(None, 0, 0, 0, 0))(params, *stacks)
    batched_grads = torch.autograd.grad(batched.sum(), list(params.values()))
    looped = torch.stack([task_query_loss(params, *task) for task in tasks])
    looped_grads = torch.autograd.grad(looped.sum(), list(params.values()))
    assert_tight(batched, looped)
    for batched_grad, looped_grad in zip(batched_grads, looped_grads, strict=True):
        assert_tight(batched_grad, looped_grad)


def test_func_mode_three_step_meta_gradient_gradcheck() -> None:
    """The second-order meta-gradient of the func-mode loop agrees with finite differences."""
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1)).to(F64)
    support_x, support_y, query_x, query_y = task_data(torch.device("cpu"))
    names = list(named_params(net))

    def meta_loss(*flat: Tensor) -> Tensor:
        adapted = adapt_trajectory(
            dict(zip(names, flat, strict=True)),
            lambda p: mse(functional_call(net, p, (support_x,)), support_y),
            lr=0.2,
            inner_steps=3,
            grad_mode="func",
        )[-1]
        return mse(functional_call(net, adapted, (query_x,)), query_y)

    inputs = tuple(p.detach().clone().requires_grad_() for p in net.parameters())
    assert torch.autograd.gradcheck(meta_loss, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("grad_mode", ["autograd", "func"])
def test_first_order_meta_gradient_is_the_query_gradient_at_the_adapted_params(
    grad_mode: str,
) -> None:
    net = mlp(torch.device("cpu"))
    support_x, support_y, query_x, query_y = task_data(torch.device("cpu"))
    params = named_params(net)
    adapted = adapt_trajectory(
        params,
        lambda p: mse(functional_call(net, p, (support_x,)), support_y),
        lr=0.4,
        inner_steps=2,
        first_order=True,
        grad_mode=grad_mode,  # type: ignore[arg-type]  # parametrised literal
    )[-1]
    grads = torch.autograd.grad(
        mse(functional_call(net, adapted, (query_x,)), query_y), list(params.values())
    )
    at_adapted = {name: p.detach().requires_grad_() for name, p in adapted.items()}
    expected = torch.autograd.grad(
        mse(functional_call(net, at_adapted, (query_x,)), query_y), list(at_adapted.values())
    )
    for grad, want in zip(grads, expected, strict=True):
        assert_tight(grad, want)
    second_order = meta_gradient(net, 2, grad_mode, (support_x, support_y, query_x, query_y))[1]
    assert any(not torch.allclose(g, s) for g, s in zip(grads, second_order, strict=True))


@pytest.mark.parametrize("grad_mode", ["autograd", "func"])
def test_per_step_rates_and_per_step_losses_match_hand_written_steps(grad_mode: str) -> None:
    torch.manual_seed(4)
    w = torch.randn(3, dtype=F64, requires_grad=True)
    batches = [torch.randn(5, 3, dtype=F64) for _ in range(3)]
    targets = [torch.randn(5, dtype=F64) for _ in range(3)]
    losses = [
        (lambda p, x=x, y=y: ((x @ p["w"] - y) ** 2).mean())
        for x, y in zip(batches, targets, strict=True)
    ]
    rates = [0.1, 0.3, 0.2]
    trajectory = adapt_trajectory({"w": w}, losses, lr=rates, grad_mode=grad_mode)  # type: ignore[arg-type]  # parametrised literal
    assert len(trajectory) == 3  # inner_steps=None: one step per closure
    # closed form of each step: grad of mean((x w - y)^2) is 2 x^T (x w - y) / n
    expected = w.detach()
    for step, (x, y, lr) in enumerate(zip(batches, targets, rates, strict=True)):
        expected = expected - lr * 2 * x.T @ (x @ expected - y) / len(y)
        assert_tight(trajectory[step]["w"], expected)
    # one closure and a per-step rate list
    single = adapt_trajectory({"w": w}, losses[0], lr=rates, inner_steps=3, grad_mode=grad_mode)  # type: ignore[arg-type]  # parametrised literal
    expected = w.detach()
    for step, lr in enumerate(rates):
        expected = expected - lr * 2 * batches[0].T @ (batches[0] @ expected - targets[0]) / 5
        assert_tight(single[step]["w"], expected)


def test_per_step_list_length_errors() -> None:
    w = torch.ones(2, requires_grad=True)

    def loss(p: dict[str, Tensor]) -> Tensor:
        return (p["w"] ** 2).sum()

    with pytest.raises(
        ValueError,
        match=r"lr gives 2 per-step values for 3 inner steps; expected one value per step",
    ):
        adapt_trajectory({"w": w}, loss, lr=[0.1, 0.2], inner_steps=3)
    with pytest.raises(ValueError, match=r"build_loss gives 2 per-step values for 3 inner steps"):
        adapt_trajectory({"w": w}, [loss, loss], inner_steps=3)
    with pytest.raises(ValueError, match=r"lr gives 3 per-step values for 2 inner steps"):
        adapt_trajectory({"w": w}, (loss, loss), lr=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match=r"inner_steps must be a non-negative int, got -1"):
        adapt_trajectory({"w": w}, loss, inner_steps=-1)
    assert adapt_trajectory({"w": w}, loss, inner_steps=0) == []


@pytest.mark.parametrize("grad_mode", ["autograd", "func"])
def test_update_hook_with_stateful_momentum_matches_a_hand_written_reference(
    grad_mode: str,
) -> None:
    torch.manual_seed(5)
    x, y = torch.randn(6, 3, dtype=F64), torch.randn(6, dtype=F64)
    w = torch.randn(3, dtype=F64, requires_grad=True)
    unused = torch.randn(2, dtype=F64, requires_grad=True)
    lr, momentum = 0.1, 0.9
    velocity: dict[str, Tensor] = {}
    calls: list[tuple[int, dict[str, Tensor]]] = []

    def heavy_ball(
        params: dict[str, Tensor], grads: dict[str, Tensor], step: int
    ) -> dict[str, Tensor]:
        calls.append((step, grads))
        for name, gradient in grads.items():
            velocity[name] = momentum * velocity.get(name, torch.zeros_like(gradient)) + gradient
        return {name: p - lr * velocity[name] if name in grads else p for name, p in params.items()}

    def loss(p: dict[str, Tensor]) -> Tensor:
        return ((x @ p["w"] - y) ** 2).mean()

    trajectory = adapt_trajectory(
        {"w": w, "unused": unused},
        loss,
        inner_steps=3,
        update=heavy_ball,
        grad_mode=grad_mode,  # type: ignore[arg-type]  # parametrised literal
    )
    assert [step for step, _ in calls] == [0, 1, 2]
    # every adapted name gets a tensor gradient; an unused parameter gets zeros
    assert all(set(grads) == {"w", "unused"} for _, grads in calls)
    torch.testing.assert_close(calls[0][1]["unused"], torch.zeros(2, dtype=F64), rtol=0, atol=0)
    # reference: heavy-ball momentum written out by hand, with autograd gradients
    reference, buffer = w, torch.zeros(3, dtype=F64)
    for step in range(3):
        (gradient,) = torch.autograd.grad(loss({"w": reference}), [reference], create_graph=True)
        buffer = momentum * buffer + gradient
        reference = reference - lr * buffer
        assert_tight(trajectory[step]["w"], reference)
        torch.testing.assert_close(trajectory[step]["unused"], unused, rtol=0, atol=0)
    # the hook's result is differentiable back to the starting parameters (second order)
    (meta, want) = (
        torch.autograd.grad(loss(trajectory[-1]), [w])[0],
        torch.autograd.grad(loss({"w": reference}), [w])[0],
    )
    assert_tight(meta, want)


@pytest.mark.parametrize("grad_mode", ["autograd", "func"])
def test_adapts_under_no_grad(grad_mode: str) -> None:
    w = torch.tensor([1.0, -2.0], dtype=F64, requires_grad=True)

    def loss(p: dict[str, Tensor]) -> Tensor:
        return (p["w"] ** 2).sum()

    with torch.no_grad():
        inside = adapt_trajectory({"w": w}, loss, lr=0.25, inner_steps=2, grad_mode=grad_mode)  # type: ignore[arg-type]  # parametrised literal
    outside = adapt_trajectory({"w": w}, loss, lr=0.25, inner_steps=2, grad_mode=grad_mode)  # type: ignore[arg-type]  # parametrised literal
    # closed form: w - 0.25 * 2w = w / 2 per step
    assert_tight(inside[-1]["w"], w.detach() / 4)
    assert_tight(inside[-1]["w"], outside[-1]["w"])


def test_unknown_grad_mode_is_an_error() -> None:
    w = torch.ones(1, requires_grad=True)
    with pytest.raises(ValueError, match=r"grad_mode must be 'autograd' or 'func', got 'jax'"):
        adapt_trajectory({"w": w}, lambda p: p["w"].sum(), grad_mode="jax")  # type: ignore[arg-type]  # on purpose
