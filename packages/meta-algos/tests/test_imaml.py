"""IMAML: the implicit meta-gradient against the closed form and a long unrolled inner loop,
the batched path, the protocol, errors, and a short MetaTrainer run."""

from __future__ import annotations

import doctest
from typing import NamedTuple

import meta_algos
import pytest
import torch
import torch.nn.functional as F
from meta_algos import IMAML, MetaAlgorithm
from torch import Tensor, nn
from torch.func import functional_call


class Task(NamedTuple):
    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor


def regression_task(seed: int, features: int, device: torch.device, shots: int = 20) -> Task:
    g = torch.Generator().manual_seed(seed)
    true_weight = torch.randn(features, 1, generator=g, dtype=torch.float64)

    def split(count: int) -> tuple[Tensor, Tensor]:
        x = torch.randn(count, features, generator=g, dtype=torch.float64)
        noise = 0.1 * torch.randn(count, 1, generator=g, dtype=torch.float64)
        return x.to(device), (x @ true_weight + noise).to(device)

    return Task(*split(shots), *split(15))


def with_ones(x: Tensor) -> Tensor:
    """The design matrix of ``nn.Linear``: inputs and a column of ones for the bias."""
    return torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype, device=x.device)], dim=1)


def closed_form_meta_gradient(theta: Tensor, task: Task, lam: float) -> Tensor:
    """``d L_query(phi*(theta)) / d theta`` for linear regression with the mean squared error.

    ``L_support(w) = ||X w - y||^2 / n`` makes the regularised inner optimum
    ``phi* = (2/n X^T X + lam I)^{-1} (2/n X^T y + lam theta)``; autograd differentiates
    the solve (no meta_algos code involved).
    """
    theta = theta.detach().requires_grad_()
    design = with_ones(task.support_x)
    scale = 2.0 / len(design)
    eye = torch.eye(len(theta), dtype=theta.dtype, device=theta.device)
    system = scale * design.T @ design + lam * eye
    optimum = torch.linalg.solve(system, scale * design.T @ task.support_y[:, 0] + lam * theta)
    query_loss = ((with_ones(task.query_x) @ optimum - task.query_y[:, 0]) ** 2).mean()
    (gradient,) = torch.autograd.grad(query_loss, theta)
    return gradient


def flat_grad(module: nn.Linear) -> Tensor:
    assert module.weight.grad is not None
    assert module.bias is not None
    assert module.bias.grad is not None
    return torch.cat([module.weight.grad.reshape(-1), module.bias.grad.reshape(-1)])


@pytest.mark.parametrize("batched", [False, True])
def test_meta_gradient_equals_the_closed_form_of_the_regularised_optimum(
    batched: bool, device: torch.device
) -> None:
    torch.manual_seed(0)
    features, lam = 3, 1.5
    model = nn.Linear(features, 1).to(device, torch.float64)
    theta = torch.cat([model.weight.detach().reshape(-1), model.bias.detach()])
    tasks = [regression_task(seed, features, device) for seed in (1, 2)]
    # 4 unknowns: CG is exact after 4 iterations; 300 steps converge the inner loop
    imaml = IMAML(model, inner_lr=0.1, inner_steps=300, lam=lam, cg_steps=4)
    imaml.meta_gradient(tasks, F.mse_loss, batched=batched)
    expected = torch.stack([closed_form_meta_gradient(theta, task, lam) for task in tasks]).mean(0)
    torch.testing.assert_close(flat_grad(model), expected, rtol=1e-6, atol=1e-12)


def test_cg_damping_solves_the_shifted_system() -> None:
    features, lam, damping = 2, 2.0, 0.7
    model = nn.Linear(features, 1).double()
    task = regression_task(3, features, torch.device("cpu"))
    imaml = IMAML(model, inner_lr=0.1, inner_steps=300, lam=lam, cg_steps=3, cg_damping=damping)
    imaml.meta_gradient([task], F.mse_loss)
    theta = torch.cat([model.weight.detach().reshape(-1), model.bias.detach()])
    design = with_ones(task.support_x)
    hessian = 2.0 / len(design) * design.T @ design
    eye = torch.eye(features + 1, dtype=torch.float64)
    optimum = torch.linalg.solve(
        hessian + lam * eye, 2.0 / len(design) * design.T @ task.support_y[:, 0] + lam * theta
    )
    query = with_ones(task.query_x)
    query_gradient = 2.0 / len(query) * query.T @ (query @ optimum - task.query_y[:, 0])
    expected = torch.linalg.solve((1 + damping) * eye + hessian / lam, query_gradient)
    torch.testing.assert_close(flat_grad(model), expected, rtol=1e-8, atol=1e-12)


def tanh_net(seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 1)).double()


def nonlinear_task(seed: int) -> Task:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(12, 2, generator=g, dtype=torch.float64)
    y = torch.sin(x.sum(1, keepdim=True)) + 0.1 * torch.randn(12, 1, generator=g, dtype=x.dtype)
    return Task(x[:6], y[:6], x[6:], y[6:])


def unrolled_meta_gradient(
    model: nn.Module, task: Task, *, inner_lr: float, steps: int, lam: float
) -> dict[str, Tensor]:
    """Differentiate through ``steps`` proximal gradient steps (second order, torch only)."""
    theta = {name: p.detach().clone().requires_grad_() for name, p in model.named_parameters()}

    def loss(params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(functional_call(model, params, (x,)), y)

    phi = dict(theta)
    for _ in range(steps):
        proximal = sum(((phi[n] - theta[n]) ** 2).sum() for n in theta)
        objective = loss(phi, task.support_x, task.support_y) + 0.5 * lam * proximal
        grads = torch.autograd.grad(objective, list(phi.values()), create_graph=True)
        phi = {name: phi[name] - inner_lr * g for name, g in zip(phi, grads, strict=True)}
    found = torch.autograd.grad(loss(phi, task.query_x, task.query_y), list(theta.values()))
    return dict(zip(theta, found, strict=True))


@pytest.mark.parametrize("batched", [False, True])
def test_meta_gradient_matches_a_long_unrolled_inner_loop_on_a_nonlinear_net(batched: bool) -> None:
    """At convergence the unrolled derivative equals the implicit one.

    Tolerance: rtol 1e-6 (atol 1e-9). The proximal map contracts by about 0.85 per step at
    these settings, so 250 steps leave ~1e-17 of the fixed point, and CG runs one iteration
    per parameter (25).
    """
    model = tanh_net(0)
    task = nonlinear_task(1)
    settings = {"inner_lr": 0.1, "lam": 2.0}
    expected = unrolled_meta_gradient(model, task, steps=250, **settings)
    imaml = IMAML(model, inner_steps=250, cg_steps=25, **settings)
    imaml.meta_gradient([task], F.mse_loss, batched=batched)
    for name, p in model.named_parameters():
        assert p.grad is not None
        torch.testing.assert_close(p.grad, expected[name], rtol=1e-6, atol=1e-9)


def test_few_inner_steps_differ_from_the_implicit_gradient() -> None:
    """The reference is sensitive: 3 unrolled steps are far from the converged gradient."""
    model = tanh_net(0)
    task = nonlinear_task(1)
    short = unrolled_meta_gradient(model, task, inner_lr=0.1, steps=3, lam=2.0)
    long = unrolled_meta_gradient(model, task, inner_lr=0.1, steps=250, lam=2.0)
    assert not all(torch.allclose(short[n], long[n], rtol=1e-3) for n in short)


def test_batched_path_equals_the_loop(device: torch.device) -> None:
    tasks = [nonlinear_task(seed) for seed in range(3)]
    tasks = [Task(*(t.to(device) for t in task)) for task in tasks]
    grads = {}
    results = {}
    for batched in (False, True):
        model = tanh_net(0).to(device)
        imaml = IMAML(model, inner_lr=0.1, inner_steps=20, lam=2.0, cg_steps=5)
        results[batched] = imaml.meta_gradient(tasks, F.mse_loss, batched=batched)
        grads[batched] = [p.grad for p in model.parameters()]
    for loop_grad, batched_grad in zip(grads[False], grads[True], strict=True):
        torch.testing.assert_close(batched_grad, loop_grad, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(results[True].losses, results[False].losses, rtol=1e-12, atol=0)
    for loop_pred, batched_pred in zip(
        results[False].predictions, results[True].predictions, strict=True
    ):
        torch.testing.assert_close(batched_pred, loop_pred, rtol=1e-12, atol=1e-14)


def batchnorm_net() -> nn.Sequential:
    torch.manual_seed(0)
    norm = nn.BatchNorm1d(5, track_running_stats=False)
    return nn.Sequential(nn.Linear(2, 5), norm, nn.Tanh(), nn.Linear(5, 1)).double()


def test_batchnorm_batched_equals_loop() -> None:
    """Under vmap every task is normalised with its own statistics, as in the loop."""
    tasks = [nonlinear_task(seed) for seed in range(3)]
    grads = {}
    for batched in (False, True):
        model = batchnorm_net()
        IMAML(model, inner_lr=0.1, inner_steps=5, lam=2.0, cg_steps=4).meta_gradient(
            tasks, F.mse_loss, batched=batched
        )
        grads[batched] = [p.grad for p in model.parameters()]
    for loop_grad, batched_grad in zip(grads[False], grads[True], strict=True):
        torch.testing.assert_close(batched_grad, loop_grad, rtol=1e-9, atol=1e-12)


def test_batchnorm_running_statistics_update_in_the_loop_and_are_refused_batched() -> None:
    model = nn.Sequential(nn.Linear(2, 5), nn.BatchNorm1d(5), nn.Tanh(), nn.Linear(5, 1)).double()
    imaml = IMAML(model, inner_lr=0.1, inner_steps=2, lam=2.0, cg_steps=2)
    imaml.meta_gradient([nonlinear_task(0)], F.mse_loss)
    assert int(model[1].num_batches_tracked) > 0
    with pytest.raises(ValueError, match="cannot update BatchNorm running statistics"):
        imaml.meta_gradient([nonlinear_task(0)], F.mse_loss, batched=True)


def test_tasks_that_do_not_stack_fall_back_to_the_loop() -> None:
    tasks = [nonlinear_task(1), Task(*(t[:4] for t in nonlinear_task(2)))]
    grads = {}
    for batched in (False, True):
        model = tanh_net(0)
        IMAML(model, inner_lr=0.1, inner_steps=5, lam=2.0).meta_gradient(
            tasks, F.mse_loss, batched=batched
        )
        grads[batched] = [p.grad for p in model.parameters()]
    for loop_grad, batched_grad in zip(grads[False], grads[True], strict=True):
        torch.testing.assert_close(batched_grad, loop_grad, rtol=0, atol=0)


def proximal_descent(
    model: nn.Module, task: Task, *, inner_lr: float, steps: int, lam: float
) -> dict[str, Tensor]:
    theta = {name: p.detach() for name, p in model.named_parameters()}
    phi = {name: value.clone().requires_grad_() for name, value in theta.items()}
    for _ in range(steps):
        support = F.mse_loss(functional_call(model, phi, (task.support_x,)), task.support_y)
        proximal = sum(((phi[n] - theta[n]) ** 2).sum() for n in theta)
        grads = torch.autograd.grad(support + 0.5 * lam * proximal, list(phi.values()))
        phi = {
            name: (phi[name] - inner_lr * g).detach().requires_grad_()
            for name, g in zip(phi, grads, strict=True)
        }
    return phi


def test_adapted_predictions_run_the_proximal_inner_loop() -> None:
    model = tanh_net(2)
    task = nonlinear_task(3)
    imaml = IMAML(model, inner_lr=0.2, inner_steps=4, lam=0.5)
    with torch.no_grad():
        prediction = imaml.adapted_predictions(task, F.mse_loss)
    adapted = proximal_descent(model, task, inner_lr=0.2, steps=4, lam=0.5)
    expected = functional_call(model, adapted, (task.query_x,))
    torch.testing.assert_close(prediction, expected, rtol=1e-12, atol=1e-14)
    assert not prediction.requires_grad
    assert all(p.grad is None for p in model.parameters())
    unadapted = imaml.adapted_predictions(task, F.mse_loss, steps=0)
    torch.testing.assert_close(unadapted, model(task.query_x), rtol=0, atol=0)


def test_meta_gradient_reports_the_adapted_query_losses_and_accumulates() -> None:
    model = tanh_net(4)
    tasks = [nonlinear_task(5), nonlinear_task(6)]
    imaml = IMAML(model, inner_lr=0.2, inner_steps=6, lam=1.0, cg_steps=3)
    result = imaml.meta_gradient(tasks, F.mse_loss)
    for loss, prediction, task in zip(result.losses, result.predictions, tasks, strict=True):
        adapted = proximal_descent(model, task, inner_lr=0.2, steps=6, lam=1.0)
        expected = functional_call(model, adapted, (task.query_x,))
        torch.testing.assert_close(prediction, expected, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(loss, F.mse_loss(expected, task.query_y), rtol=1e-12, atol=0)
        assert not prediction.requires_grad
    first = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    imaml.meta_gradient(tasks, F.mse_loss)
    for once, p in zip(first, model.parameters(), strict=True):
        torch.testing.assert_close(p.grad, 2 * once, rtol=1e-12, atol=0)


def test_frozen_parameters_are_neither_adapted_nor_given_gradients() -> None:
    model = tanh_net(7)
    model[0].weight.requires_grad_(False)
    imaml = IMAML(model, inner_lr=0.1, inner_steps=3, lam=1.0)
    imaml.meta_gradient([nonlinear_task(8)], F.mse_loss, batched=True)
    assert model[0].weight.grad is None
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


class WithSpare(nn.Module):
    """A net with a parameter that no loss uses."""

    def __init__(self) -> None:
        super().__init__()
        self.net = tanh_net(9)
        self.spare = nn.Parameter(torch.ones(3, dtype=torch.float64))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


@pytest.mark.parametrize("batched", [False, True])
def test_an_unused_parameter_gets_a_zero_meta_gradient(batched: bool) -> None:
    model = WithSpare()
    IMAML(model, inner_lr=0.1, inner_steps=5, lam=1.0).meta_gradient(
        [nonlinear_task(1), nonlinear_task(2)], F.mse_loss, batched=batched
    )
    assert torch.equal(model.spare.grad, torch.zeros(3, dtype=torch.float64))
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.net.parameters())


def linear_loss(prediction: Tensor, target: Tensor) -> Tensor:
    return (prediction * target).mean()


@pytest.mark.parametrize("batched", [False, True])
def test_a_loss_linear_in_the_parameters_has_no_curvature(batched: bool) -> None:
    """``H = 0``: the meta-gradient is the query gradient (the constant, here)."""
    model = nn.Linear(2, 1).double()
    task = nonlinear_task(3)
    IMAML(model, inner_lr=0.1, inner_steps=3, lam=1.0).meta_gradient(
        [task], linear_loss, batched=batched
    )
    expected = linear_loss(model(task.query_x), task.query_y)
    weight_grad, bias_grad = torch.autograd.grad(expected, [model.weight, model.bias])
    torch.testing.assert_close(model.weight.grad, weight_grad, rtol=1e-12, atol=1e-15)
    torch.testing.assert_close(model.bias.grad, bias_grad, rtol=1e-12, atol=1e-15)


def test_is_a_meta_algorithm_with_an_iteration_counter_in_its_state() -> None:
    imaml = IMAML(nn.Linear(1, 1))
    assert isinstance(imaml, MetaAlgorithm)
    assert [imaml.advance_iteration(), imaml.advance_iteration()] == [1, 2]
    restored = IMAML(nn.Linear(1, 1))
    restored.load_state_dict(imaml.state_dict())
    assert restored.meta_iteration == 2
    assert {name for name, _ in imaml.named_parameters()} == {"module.weight", "module.bias"}


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"lam": 0.0}, ValueError, "lam must be > 0"),
        ({"lam": -1.0}, ValueError, "lam must be >= 0, got -1.0"),
        ({"lam": float("inf")}, ValueError, "lam must be a finite real number"),
        ({"cg_steps": 0}, ValueError, "cg_steps must be an int >= 1, got 0"),
        ({"cg_damping": -0.1}, ValueError, "cg_damping must be >= 0"),
        ({"inner_steps": -1}, ValueError, "inner_steps must be a non-negative int"),
        ({"inner_lr": "0.1"}, TypeError, "inner_lr must be a finite real number"),
    ],
)
def test_bad_settings_raise(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        IMAML(nn.Linear(1, 1), **kwargs)  # type: ignore[arg-type]  # wrong on purpose


def test_bad_modules_and_tasks_raise() -> None:
    with pytest.raises(TypeError, match=r"module must be a torch\.nn\.Module"):
        IMAML("net")  # type: ignore[arg-type]  # wrong on purpose
    frozen = nn.Linear(1, 1).requires_grad_(False)
    with pytest.raises(ValueError, match="Linear has no parameter that requires grad"):
        IMAML(frozen)
    imaml = IMAML(nn.Linear(1, 1))
    with pytest.raises(ValueError, match="meta_gradient needs at least one task"):
        imaml.meta_gradient([], F.mse_loss)
    with pytest.raises(ValueError, match="steps must be a non-negative int"):
        imaml.adapted_predictions(nonlinear_task(0), F.mse_loss, steps=-2)


def test_docstring_examples_run() -> None:
    module = meta_algos._imaml
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5
    assert result.failed == 0
