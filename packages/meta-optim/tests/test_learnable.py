"""LearnableOptimizer, ParameterUpdate and DifferentiableSGD: behaviour, gradients and errors."""

from __future__ import annotations

import pytest
import torch
from meta_functional import clone_module
from meta_nn import KroneckerLinear, Scale
from meta_optim import (
    DifferentiableSGD,
    KroneckerTransform,
    LearnableOptimizer,
    MetaCurvatureTransform,
    ModuleTransform,
    ParameterUpdate,
)
from torch import nn

DTYPE = torch.float64


def regression(device: torch.device, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    inputs = torch.randn(20, 5, generator=generator, dtype=DTYPE).to(device)
    targets = torch.randn(20, 3, generator=generator, dtype=DTYPE).to(device)
    return inputs, targets


def mse(model: nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    inputs, targets = data
    return ((model(inputs) - targets) ** 2).mean()


def test_learnable_optimizer_hypergradient_is_exact(device: torch.device) -> None:
    """d loss(W - lr M_out G M_in) / d M_out at the identity is -lr * G_new @ G^T."""
    data = regression(device)
    model = nn.Linear(5, 3).to(device=device, dtype=DTYPE)
    metaopt = LearnableOptimizer(model, MetaCurvatureTransform, lr=0.1)
    mse(model, data).backward()
    old_grads = [p.grad.detach().clone() for p in model.parameters() if p.grad is not None]
    metaopt.step()
    metaopt.zero_grad()
    mse(model, data).backward()
    new_grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in new_grads)
    weight_transform, bias_transform = metaopt.transforms
    expected_out = -0.1 * new_grads[0] @ old_grads[0].T
    expected_in = -0.1 * old_grads[0].T @ new_grads[0]
    torch.testing.assert_close(weight_transform.out_curvature.grad, expected_out)
    torch.testing.assert_close(weight_transform.in_curvature.grad, expected_in)
    torch.testing.assert_close(bias_transform.curvature.grad, -0.1 * new_grads[1] * old_grads[1])


def test_learnable_optimizer_truncates_graph_and_learns_the_step_size(
    device: torch.device,
) -> None:
    """Hypergradient descent (Baydin et al.): a too-small step size grows, the loss falls."""
    data = regression(device)
    # A fixed initialisation: how far the scales grow in 30 steps depends on it (the bias
    # scale ends anywhere in about [1.015, 1.12] over seeds 0-19), so an unseeded one is flaky.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        initial = nn.Linear(5, 3).to(device=device, dtype=DTYPE)
    final_losses = {}
    for meta_lr in (0.0, 1.0):
        model = clone_module(initial)
        metaopt = LearnableOptimizer(
            model, lambda p: Scale(1).to(device=device, dtype=DTYPE), lr=0.01
        )
        meta_optimizer = torch.optim.SGD(metaopt.parameters(), lr=meta_lr)
        for _ in range(30):
            metaopt.zero_grad()
            meta_optimizer.zero_grad()
            mse(model, data).backward()  # would fail on a second pass if the graph were not cut
            meta_optimizer.step()
            metaopt.step()
            for param in model.parameters():
                # p_new = detached leaf + update: one step of history only.
                assert param.grad_fn is not None
                inputs = [fn for fn, _ in param.grad_fn.next_functions if fn is not None]
                assert any(type(fn).__name__ == "AccumulateGrad" for fn in inputs)
        scales = [transform.alpha.item() for transform in metaopt.transforms]
        if meta_lr == 0.0:
            assert scales == [1.0, 1.0]
        else:
            assert min(scales) > 1.02  # seed 0 gives about [1.136, 1.037]
        final_losses[meta_lr] = mse(model, data).item()
    assert final_losses[1.0] < final_losses[0.0]


def test_learnable_optimizer_skips_parameters_without_grad(device: torch.device) -> None:
    model = nn.Linear(5, 3).to(device=device, dtype=DTYPE)
    model.bias.requires_grad_(False)
    bias = model.bias
    metaopt = LearnableOptimizer(model, MetaCurvatureTransform, lr=0.1)
    mse(model, regression(device)).backward()
    metaopt.step()
    assert model.bias is bias
    assert model.weight.grad_fn is not None


def test_learnable_optimizer_state_holds_only_transforms() -> None:
    model = nn.Linear(3, 2)
    metaopt = LearnableOptimizer(model, ModuleTransform(nn.Linear))
    assert metaopt.model is model
    assert sorted(metaopt.state_dict()) == [
        "transforms.0.module.bias",
        "transforms.0.module.weight",
        "transforms.1.module.bias",
        "transforms.1.module.weight",
    ]


def test_learnable_optimizer_errors() -> None:
    model = nn.Linear(3, 2)
    with pytest.raises(
        TypeError, match=r"LearnableOptimizer: model must be a torch.nn.Module, got list$"
    ):
        LearnableOptimizer([torch.zeros(2)], MetaCurvatureTransform)  # type: ignore[arg-type]  # on purpose
    with pytest.raises(TypeError, match=r"transform to be a callable param -> nn.Module, got int"):
        LearnableOptimizer(model, 3)  # type: ignore[arg-type]  # on purpose
    with pytest.raises(TypeError, match=r"returned NoneType for parameter 0 \(shape \(2, 3\)\)"):
        LearnableOptimizer(model, lambda p: None)  # type: ignore[arg-type,return-value]  # on purpose
    with pytest.raises(ValueError, match=r"lr must be >= 0, got -1.0"):
        LearnableOptimizer(model, MetaCurvatureTransform, lr=-1.0)
    wrong = LearnableOptimizer(model, lambda p: nn.Flatten(0))
    model(torch.ones(1, 3)).sum().backward()
    with pytest.raises(ValueError, match=r"of parameter 0 \(shape \(2, 3\)\) returned \(6,\)"):
        wrong.step()
    grown = LearnableOptimizer(model, MetaCurvatureTransform)
    model.extra = nn.Parameter(torch.zeros(1))
    with pytest.raises(RuntimeError, match=r"built for 2 parameters but the model now has 3"):
        grown.step()


def test_parameter_update_nograd_and_unused(device: torch.device) -> None:
    weight = torch.ones(2, 3, dtype=DTYPE, device=device, requires_grad=True)
    frozen = torch.ones(3, dtype=DTYPE, device=device)
    unused = torch.ones(4, dtype=DTYPE, device=device, requires_grad=True)
    get_update = ParameterUpdate([weight, frozen, unused], MetaCurvatureTransform)
    loss = (weight * frozen).sum() ** 2

    with pytest.raises(ValueError, match=r"parameter 1 \(shape \(3,\)\) does not require grad"):
        get_update(loss, [weight, frozen, unused], retain_graph=True, allow_unused=True)
    with pytest.raises(ValueError, match=r"parameter 2 \(shape \(4,\)\) was not used to compute"):
        get_update(loss, [weight, frozen, unused], retain_graph=True, allow_nograd=True)
    updates = get_update(
        loss, [weight, frozen, unused], create_graph=True, allow_unused=True, allow_nograd=True
    )
    assert updates[1] is None
    assert updates[2] is None
    assert updates[0] is not None
    torch.testing.assert_close(updates[0], torch.full((2, 3), 12.0, dtype=DTYPE, device=device))
    # create_graph=True: the updates are differentiable w.r.t. the parameters and transforms.
    updates[0].sum().backward()
    assert weight.grad is not None
    assert get_update.transforms[0].out_curvature.grad is not None
    torch.testing.assert_close(weight.grad, torch.full((2, 3), 12.0, dtype=DTYPE, device=device))


def test_parameter_update_without_create_graph_still_reaches_transforms() -> None:
    weight = torch.ones(3, requires_grad=True)
    get_update = ParameterUpdate([weight], MetaCurvatureTransform)
    (update,) = get_update((2 * weight).sum(), [weight])
    assert update is not None
    update.sum().backward()
    assert weight.grad is None
    torch.testing.assert_close(get_update.transforms[0].curvature.grad, torch.full((3,), 2.0))


def test_parameter_update_factory_none_passes_gradient_through() -> None:
    weight = torch.ones(2, requires_grad=True)
    bias = torch.ones(1, requires_grad=True)
    get_update = ParameterUpdate(
        [weight, bias], lambda p: None if p.dim() == 1 and p.numel() == 1 else Scale(1)
    )
    assert len(get_update.transforms) == 1
    updates = get_update((3 * weight).sum() + 5 * bias.sum(), [weight, bias])
    assert updates[1] is not None
    torch.testing.assert_close(updates[1], torch.tensor([5.0]))
    assert updates[0] is not None
    torch.testing.assert_close(updates[0], torch.tensor([3.0, 3.0]))


def test_parameter_update_errors() -> None:
    model = nn.Linear(3, 2)
    with pytest.raises(TypeError, match=r"got the module Linear; pass module.parameters\(\)"):
        ParameterUpdate(model, MetaCurvatureTransform)  # type: ignore[arg-type]  # the seed's typo
    with pytest.raises(TypeError, match=r"entries \[1\] are \['str'\]"):
        ParameterUpdate([torch.zeros(1), "w"], MetaCurvatureTransform)  # type: ignore[list-item]  # on purpose
    with pytest.raises(TypeError, match=r"transform to be a callable"):
        ParameterUpdate(model.parameters(), None)  # type: ignore[arg-type]  # on purpose
    with pytest.raises(TypeError, match=r"returned int for parameter 1 \(shape \(2,\)\)"):
        ParameterUpdate(model.parameters(), lambda p: Scale(1) if p.dim() == 2 else 1)  # type: ignore[arg-type,return-value]  # on purpose
    get_update = ParameterUpdate(model.parameters(), MetaCurvatureTransform)
    loss = model(torch.ones(1, 3)).sum()
    with pytest.raises(ValueError, match=r"built for 2 parameters, got 1"):
        get_update(loss, [model.weight])
    with pytest.raises(
        ValueError, match=r"parameter 1 \(shape \(3,\)\) differs from the shape \(2"
    ):
        get_update(loss, [model.weight, torch.zeros(3, requires_grad=True)])
    with pytest.raises(
        ValueError, match=r"ParameterUpdate: loss must be a scalar .* got shape \(1, 2\)"
    ):
        get_update(model(torch.ones(1, 3)), model.parameters())
    with pytest.raises(
        TypeError, match=r"ParameterUpdate: loss must be a torch.Tensor, got float$"
    ):
        get_update(1.0, model.parameters())  # type: ignore[arg-type]  # on purpose


def test_differentiable_sgd_uses_grad_attributes(device: torch.device) -> None:
    model = nn.Linear(5, 3).to(device=device, dtype=DTYPE)
    model.bias.requires_grad_(False)
    mse(model, regression(device)).backward()
    weight, grad = model.weight.detach().clone(), model.weight.grad
    assert grad is not None
    bias = model.bias
    result = DifferentiableSGD(0.5)(model)
    assert result is model
    assert model.bias is bias  # no .grad: left as it is
    torch.testing.assert_close(model.weight.detach(), weight - 0.5 * grad)
    assert model.weight.grad_fn is not None


def test_differentiable_sgd_learnable_lr(device: torch.device) -> None:
    data = regression(device)
    original = nn.Linear(5, 3).to(device=device, dtype=DTYPE)
    lr = nn.Parameter(torch.tensor(0.2, dtype=DTYPE, device=device))
    sgd = DifferentiableSGD(lr)
    assert list(sgd.parameters()) == [lr]
    learner = clone_module(original)
    grads = torch.autograd.grad(mse(learner, data), learner.parameters(), create_graph=True)
    sgd(learner, grads)
    mse(learner, data).backward()
    # d L(theta - lr g) / d lr = -<g, g_new>
    new_grads = torch.autograd.grad(mse(learner, data), learner.parameters())
    expected = -sum((g.detach() * h).sum() for g, h in zip(grads, new_grads, strict=True))
    assert lr.grad is not None
    torch.testing.assert_close(lr.grad, expected)


def test_differentiable_sgd_errors() -> None:
    model = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"lr must be >= 0"):
        DifferentiableSGD(-0.1)
    sgd = DifferentiableSGD(0.1)
    with pytest.raises(ValueError, match=r"no parameter of Linear has a \.grad; call backward"):
        sgd(model)
    with pytest.raises(
        ValueError, match=r"descend_module got 1 gradients for the 2 parameters of Linear"
    ):
        sgd(model, [torch.zeros(2, 3)])
    with pytest.raises(
        TypeError, match=r"one tensor \(or None\) per parameter, got a single tensor"
    ):
        sgd(model, torch.zeros(2, 3))  # type: ignore[arg-type]  # on purpose
    with pytest.raises(
        TypeError, match=r"DifferentiableSGD: module must be a torch.nn.Module, got list$"
    ):
        sgd([torch.zeros(1)])  # type: ignore[arg-type]  # on purpose
    with pytest.raises(ValueError, match=r"update for 'weight' has shape \(3, 2\)"):
        sgd(model, [torch.zeros(3, 2), torch.zeros(2)])


@pytest.mark.parametrize("kind", ["kronecker", "metacurvature"])
def test_learnable_optimizer_on_a_conv_net(kind: str, device: torch.device) -> None:
    """Conv weights (out, in, kh, kw) and biases go through both factorised transforms."""

    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 3)).to(
        device=device, dtype=DTYPE
    )
    factory = KroneckerTransform(KroneckerLinear) if kind == "kronecker" else MetaCurvatureTransform
    metaopt = LearnableOptimizer(model, factory, lr=0.05)
    inputs = torch.randn(8, 2, 6, 6, dtype=DTYPE, device=device)
    targets = torch.randint(0, 3, (8,), device=device)
    criterion = nn.CrossEntropyLoss()
    losses = []
    for _ in range(3):
        metaopt.zero_grad()
        error = criterion(model(inputs), targets)
        losses.append(error.item())
        error.backward()
        metaopt.step()
    for transform in metaopt.transforms:
        for param in transform.parameters():
            assert param.grad is not None
            assert param.grad.abs().sum() > 0
    assert losses[-1] < losses[0]
    assert [p.shape for p in model.parameters()] == [
        torch.Size([4, 2, 3, 3]),
        torch.Size([4]),
        torch.Size([3, 64]),
        torch.Size([3]),
    ]
