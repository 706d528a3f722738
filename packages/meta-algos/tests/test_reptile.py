"""Reptile: the pseudo-gradient against a hand-written reference, the optimizer step it makes,
loop vs batched, adapted predictions, the trainer protocol and errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MetaAlgorithm, Reptile
from torch import Tensor, nn


def mlp() -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 1))


def conv() -> nn.Sequential:
    """Two conv blocks with per-task BatchNorm, for tiny 1x8x8 images, and a 3-way head."""
    return nn.Sequential(
        nn.Conv2d(1, 3, 3, padding=1),
        nn.BatchNorm2d(3, track_running_stats=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(3, 3, 3, padding=1),
        nn.BatchNorm2d(3, track_running_stats=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(12, 3),
    )


def regression_tasks(count: int) -> list[SimpleNamespace]:
    generator = torch.Generator().manual_seed(0)
    return [
        SimpleNamespace(
            **{
                name: torch.randn(5, 1, generator=generator, dtype=torch.float64)
                for name in ("support_x", "support_y", "query_x", "query_y")
            }
        )
        for _ in range(count)
    ]


def classification_tasks(count: int) -> list[SimpleNamespace]:
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(3).repeat(2)
    return [
        SimpleNamespace(
            support_x=torch.randn(6, 1, 8, 8, generator=generator, dtype=torch.float64),
            support_y=labels,
            query_x=torch.randn(6, 1, 8, 8, generator=generator, dtype=torch.float64),
            query_y=labels,
        )
        for _ in range(count)
    ]


def reference_phi(
    net: nn.Module, task: SimpleNamespace, loss_fn, *, lr: float, steps: int
) -> list[Tensor]:
    """Plain SGD on a deep copy of ``net`` (no meta_algos or meta_functional code)."""
    import copy

    clone = copy.deepcopy(net)
    for _ in range(steps):
        loss = loss_fn(clone(task.support_x), task.support_y)
        grads = torch.autograd.grad(loss, list(clone.parameters()))
        with torch.no_grad():
            for param, gradient in zip(clone.parameters(), grads, strict=True):
                param -= lr * gradient
    return [param.detach() for param in clone.parameters()]


def reference_update(net: nn.Module, tasks, loss_fn, *, lr: float, steps: int) -> list[Tensor]:
    """``mean(phi)`` over the tasks, parameter by parameter."""
    phis = [reference_phi(net, task, loss_fn, lr=lr, steps=steps) for task in tasks]
    return [torch.stack(values).mean(0) for values in zip(*phis, strict=True)]


@pytest.mark.parametrize(
    ("make", "make_tasks", "loss_fn"),
    [(mlp, regression_tasks, F.mse_loss), (conv, classification_tasks, F.cross_entropy)],
    ids=["mlp", "conv"],
)
def test_pseudo_gradient_matches_the_hand_written_reference(make, make_tasks, loss_fn):
    torch.manual_seed(0)
    net = make().double()
    tasks = make_tasks(3)
    reptile = Reptile(net, inner_lr=0.1, inner_steps=3)
    result = reptile.meta_gradient(tasks, loss_fn)
    mean_phi = reference_update(net, tasks, loss_fn, lr=0.1, steps=3)
    for param, phi in zip(net.parameters(), mean_phi, strict=True):
        torch.testing.assert_close(param.grad, param.detach() - phi, rtol=1e-10, atol=1e-13)
    for task, loss, prediction in zip(tasks, result.losses, result.predictions, strict=True):
        adapted = reference_phi(net, task, loss_fn, lr=0.1, steps=3)
        with torch.no_grad():
            copy_net = make().double()
            for target, value in zip(copy_net.parameters(), adapted, strict=True):
                target.copy_(value)
            expected = copy_net(task.query_x)
        torch.testing.assert_close(prediction, expected, rtol=1e-10, atol=1e-13)
        torch.testing.assert_close(loss, loss_fn(expected, task.query_y), rtol=1e-10, atol=0)
    assert not result.losses.requires_grad


def test_sgd_with_rate_eps_makes_the_reptile_update():
    torch.manual_seed(1)
    net = mlp().double()
    tasks = regression_tasks(4)
    theta = [param.detach().clone() for param in net.parameters()]
    mean_phi = reference_update(net, tasks, F.mse_loss, lr=0.05, steps=2)
    reptile = Reptile(net, inner_lr=0.05, inner_steps=2)
    eps = 0.3
    reptile.meta_gradient(tasks, F.mse_loss)
    torch.optim.SGD(reptile.parameters(), lr=eps).step()
    for param, start, phi in zip(net.parameters(), theta, mean_phi, strict=True):
        torch.testing.assert_close(
            param.detach(), start + eps * (phi - start), rtol=1e-12, atol=1e-14
        )


def test_outer_step_scales_the_pseudo_gradient_and_gradients_accumulate():
    torch.manual_seed(2)
    tasks = regression_tasks(2)
    net = mlp().double()
    Reptile(net, inner_lr=0.1, inner_steps=2).meta_gradient(tasks, F.mse_loss)
    unit = [param.grad.clone() for param in net.parameters()]
    net.zero_grad(set_to_none=True)
    scaled = Reptile(net, inner_lr=0.1, inner_steps=2, outer_step=0.25)
    scaled.meta_gradient(tasks, F.mse_loss)
    scaled.meta_gradient(tasks, F.mse_loss)
    for param, want in zip(net.parameters(), unit, strict=True):
        torch.testing.assert_close(param.grad, 2 * 0.25 * want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("make", "make_tasks", "loss_fn"),
    [(mlp, regression_tasks, F.mse_loss), (conv, classification_tasks, F.cross_entropy)],
    ids=["mlp", "conv"],
)
def test_batched_equals_the_loop(make, make_tasks, loss_fn):
    torch.manual_seed(3)
    net = make().double()
    tasks = make_tasks(3)
    reptile = Reptile(net, inner_lr=0.1, inner_steps=2, outer_step=0.5)
    looped = reptile.meta_gradient(tasks, loss_fn)
    loop_grads = [param.grad.clone() for param in net.parameters()]
    net.zero_grad(set_to_none=True)
    batched = reptile.meta_gradient(tasks, loss_fn, batched=True)
    for param, want in zip(net.parameters(), loop_grads, strict=True):
        torch.testing.assert_close(param.grad, want, rtol=1e-10, atol=1e-13)
    torch.testing.assert_close(batched.losses, looped.losses, rtol=1e-10, atol=0)
    for got, want in zip(batched.predictions, looped.predictions, strict=True):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-13)


def test_only_adapted_parameters_move():
    torch.manual_seed(4)
    net = mlp().double()
    reptile = Reptile(net, inner_lr=0.1, inner_steps=2, adapt_names=["4.weight", "4.bias"])
    reptile.meta_gradient(regression_tasks(2), F.mse_loss, batched=True)
    grads = {name: param.grad for name, param in net.named_parameters()}
    assert all(bool(grads[name].abs().sum() > 0) for name in ("4.weight", "4.bias"))
    assert all(torch.count_nonzero(grads[name]) == 0 for name in grads if not name.startswith("4."))


def test_adapted_predictions_take_the_inner_sgd_steps():
    torch.manual_seed(5)
    net = mlp().double()
    task = regression_tasks(1)[0]
    reptile = Reptile(net, inner_lr=0.1, inner_steps=3)
    adapted = reference_phi(net, task, F.mse_loss, lr=0.1, steps=3)
    copy_net = mlp().double()
    with torch.no_grad():
        for target, value in zip(copy_net.parameters(), adapted, strict=True):
            target.copy_(value)
        expected = copy_net(task.query_x)
    prediction = reptile.adapted_predictions(task, F.mse_loss)
    torch.testing.assert_close(prediction, expected, rtol=1e-10, atol=1e-13)
    assert all(param.grad is None for param in net.parameters())


def test_protocol_and_first_order():
    reptile = Reptile(mlp(), inner_lr=0.1, inner_steps=2)
    assert isinstance(reptile, MetaAlgorithm)
    assert reptile.uses_first_order()
    assert reptile.advance_iteration() == 1


def test_errors():
    with pytest.raises(ValueError, match=r"outer_step must be >= 0, got -1\.0"):
        Reptile(mlp(), outer_step=-1.0)
    with pytest.raises(TypeError, match="outer_step must be a finite real number"):
        Reptile(mlp(), outer_step="big")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="meta_gradient expects a sequence of tasks"):
        Reptile(mlp()).meta_gradient(regression_tasks(1)[0], F.mse_loss)  # type: ignore[arg-type]
    with_stats = nn.Sequential(nn.Linear(1, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).double()
    with pytest.raises(ValueError, match="track_running_stats=True"):
        Reptile(with_stats).meta_gradient(regression_tasks(2), F.mse_loss, batched=True)


def test_docstring_examples():
    import doctest

    import meta_algos._reptile as module

    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
