"""MAML++: multi-step loss weights, per-layer per-step rates, derivative-order annealing."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MAML, MAMLpp
from torch import Tensor, nn
from torch.func import functional_call, grad


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1))


def conv_bn() -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3, track_running_stats=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 3, 3, padding=1),
        nn.BatchNorm2d(3, track_running_stats=False),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3 * 4 * 4, 4),
    )


def tasks(n_tasks: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    out = tuple(torch.randn(n_tasks, 6, 1, generator=g) for _ in range(4))
    return tuple(t.to(device, dtype) for t in out)


def reference(
    model: nn.Module, weights: list[float], rates: dict[str, Tensor], task, first_order: bool
) -> Tensor:
    """MSL query loss with per-step rates, written directly with torch.func."""
    support_x, support_y, query_x, query_y = task

    def loss_at(params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(functional_call(model, params, (x,)), y)

    params = dict(model.named_parameters())
    total = torch.zeros((), dtype=support_x.dtype, device=support_x.device)
    for step, weight in enumerate(weights):
        grads = grad(loss_at)(params, support_x, support_y)
        params = {
            name: p - rates[name][step] * (grads[name].detach() if first_order else grads[name])
            for name, p in params.items()
        }
        total = total + weight * loss_at(params, query_x, query_y)
    return total


def test_step_weights_sum_to_one_and_anneal_to_the_last_step() -> None:
    mamlpp = MAMLpp(mlp(), inner_steps=4, msl_iterations=8)
    torch.testing.assert_close(mamlpp.step_weights(), torch.full((4,), 0.25, dtype=torch.float64))
    last = []
    for _ in range(12):
        weights = mamlpp.step_weights()
        assert weights.min() >= 0
        torch.testing.assert_close(weights.sum(), torch.tensor(1.0, dtype=torch.float64))
        last.append(float(weights[-1]))
        mamlpp.advance_iteration()
    assert all(a < b for a, b in itertools.pairwise(last[:9]))
    assert last[8:] == [1.0] * 4
    torch.testing.assert_close(
        mamlpp.step_weights(), torch.tensor([0.0, 0, 0, 1], dtype=torch.float64)
    )
    torch.testing.assert_close(
        MAMLpp(mlp(), inner_steps=3, msl_iterations=0).step_weights(),
        torch.tensor([0.0, 0, 1], dtype=torch.float64),
    )
    mamlpp.meta_iteration = 2
    torch.testing.assert_close(
        mamlpp.step_weights(steps=2), torch.tensor([0.375, 0.625], dtype=torch.float64)
    )


def test_lslr_rates_are_parameters_and_receive_gradients(device) -> None:
    mamlpp = MAMLpp(mlp().to(device), inner_lr=0.05, inner_steps=3, first_order_iterations=0)
    rates = mamlpp.inner_rates()
    assert list(rates) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert sorted(mamlpp.rates.keys()) == ["0__bias", "0__weight", "2__bias", "2__weight"]
    param_ids = {id(p) for p in mamlpp.parameters()}
    for rate in rates.values():
        assert rate.shape == (3,)
        assert torch.all(rate == 0.05)
        assert id(rate) in param_ids
    mamlpp.query_loss(F.mse_loss, *(t[0] for t in tasks(1, device, torch.float32))).backward()
    for name, rate in rates.items():
        assert rate.grad is not None, name
        assert torch.all(rate.grad != 0), name


@pytest.mark.parametrize("phase", ["first_order", "second_order"])
@pytest.mark.parametrize("batched", [False, True])
def test_query_loss_matches_torch_func_reference(phase, batched, device) -> None:
    torch.manual_seed(0)
    mamlpp = MAMLpp(
        mlp().to(device, torch.float64),
        inner_lr=0.1,
        inner_steps=3,
        msl_iterations=10,
        first_order_iterations=5,
    )
    mamlpp.meta_iteration = 3 if phase == "first_order" else 6
    assert mamlpp.uses_first_order() == (phase == "first_order")
    with torch.no_grad():
        for rate in mamlpp.inner_rates().values():
            rate.uniform_(0.02, 0.2)
    data = tasks(3, device, torch.float64)
    weights = mamlpp.step_weights().tolist()
    assert len(set(weights)) == 2  # mid-annealing: not uniform, not one-hot
    if batched:
        ours = mamlpp.batched_query_loss(F.mse_loss, *data)
    else:
        ours = sum(mamlpp.query_loss(F.mse_loss, *t) for t in zip(*data, strict=True)) / 3
    ref = (
        sum(
            reference(mamlpp.module, weights, mamlpp.inner_rates(), t, phase == "first_order")
            for t in zip(*data, strict=True)
        )
        / 3
    )
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-12)
    params = list(mamlpp.parameters())
    for a, b in zip(
        torch.autograd.grad(ours, params), torch.autograd.grad(ref, params), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_first_order_phase_gives_exactly_the_fomaml_gradient(device) -> None:
    torch.manual_seed(0)
    net = mlp().to(device, torch.float64)
    mamlpp = MAMLpp(net, inner_lr=0.1, inner_steps=2, msl_iterations=0, first_order_iterations=2)
    task = tuple(t[0] for t in tasks(1, device, torch.float64))
    meta_params = list(net.parameters())

    def gradient(model: MAML) -> list[Tensor]:
        return list(torch.autograd.grad(model.query_loss(F.mse_loss, *task), meta_params))

    fomaml = gradient(MAML(net, inner_lr=0.1, inner_steps=2, first_order=True))
    second = gradient(MAML(net, inner_lr=0.1, inner_steps=2, first_order=False))
    for iteration, expected in [(0, fomaml), (1, fomaml), (2, second), (10, second)]:
        mamlpp.meta_iteration = iteration
        for a, b in zip(gradient(mamlpp), expected, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert any(not torch.allclose(a, b) for a, b in zip(fomaml, second, strict=True))


def test_batched_matches_loop_with_batchnorm(device) -> None:
    torch.manual_seed(0)
    mamlpp = MAMLpp(
        conv_bn().to(device),
        inner_lr=0.1,
        inner_steps=3,
        msl_iterations=4,
        first_order_iterations=0,
    )
    mamlpp.advance_iteration()
    g = torch.Generator().manual_seed(1)
    data = (
        torch.randn(3, 4, 1, 8, 8, generator=g).to(device),
        torch.arange(4).repeat(3, 1).to(device),
        torch.randn(3, 8, 1, 8, 8, generator=g).to(device),
        torch.randint(0, 4, (3, 8), generator=g).to(device),
    )
    loop = sum(mamlpp.query_loss(F.cross_entropy, *t) for t in zip(*data, strict=True)) / 3
    batched = mamlpp.batched_query_loss(F.cross_entropy, *data)
    torch.testing.assert_close(batched, loop, rtol=1e-5, atol=1e-5)
    params = list(mamlpp.parameters())
    for a, b in zip(
        torch.autograd.grad(batched, params), torch.autograd.grad(loop, params), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_gradcheck_float64(device) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1)).to(device, torch.float64)
    mamlpp = MAMLpp(net, inner_lr=0.3, inner_steps=2, msl_iterations=4, first_order_iterations=0)
    mamlpp.advance_iteration()
    data = tasks(2, device, torch.float64)

    class Objective(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mamlpp = mamlpp

        def forward(self) -> Tensor:
            return self.mamlpp.batched_query_loss(F.mse_loss, *data)

    objective = Objective()
    names = [name for name, _ in objective.named_parameters()]
    inputs = tuple(p.detach().clone().requires_grad_() for p in objective.parameters())

    def call(*values: Tensor) -> Tensor:
        return torch.func.functional_call(objective, dict(zip(names, values, strict=True)), ())

    assert torch.autograd.gradcheck(call, inputs, eps=1e-6, atol=1e-6)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"inner_steps must be an int >= 1, got 0"):
        MAMLpp(mlp(), inner_steps=0)
    with pytest.raises(ValueError, match=r"msl_iterations must be a non-negative int, got -1"):
        MAMLpp(mlp(), msl_iterations=-1)
    with pytest.raises(
        ValueError, match=r"first_order_iterations must be a non-negative int, got 1.0"
    ):
        MAMLpp(mlp(), first_order_iterations=1.0)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match=r"\['nope'\]"):
        MAMLpp(mlp(), adapt_names=["nope"])
    mamlpp = MAMLpp(mlp(), inner_steps=2)
    x = torch.randn(4, 1)
    with pytest.raises(ValueError, match=r"steps=3 exceeds inner_steps=2"):
        mamlpp.query_loss(F.mse_loss, x, x, x, x, steps=3)
    with pytest.raises(ValueError, match=r"steps must be an int >= 1, got 0"):
        mamlpp.step_weights(steps=0)
    learner = mamlpp.clone().adapt_on(F.mse_loss, x, x)
    with pytest.raises(ValueError, match=r"learned rates for inner steps 0..1, but step 2"):
        learner.adapt(F.mse_loss(learner(x), x))


def test_zero_steps_is_the_unadapted_query_loss() -> None:
    net = mlp()
    mamlpp = MAMLpp(net, inner_lr=0.1, inner_steps=2)
    x, y = torch.randn(6, 1), torch.randn(6, 1)
    assert mamlpp.query_step_weights(0) is None
    torch.testing.assert_close(
        mamlpp.query_loss(F.mse_loss, x, y, x, y, steps=0), F.mse_loss(net(x), y), rtol=0, atol=0
    )
