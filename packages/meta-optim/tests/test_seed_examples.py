"""The examples of the meta-optim specification, run with their obvious typos fixed.

Fixes relative to the specification text: ``torch.nn.Linear()`` gets sizes,
``ParameterUpdate(model, ...)`` gets ``model.parameters()``, ``model.parameters() +
get_update.parameters()`` becomes a list concatenation (and SGD gets an ``lr``),
``create_gaph`` is ``create_graph``, and the deprecated ``add_(-lr, update)`` is
``add_(update, alpha=-lr)``. ``loss``, ``X`` and ``y`` are defined.
"""

from __future__ import annotations

import torch
from meta_functional import clone_module, update_module
from meta_nn import KroneckerLinear
from meta_optim import (
    DifferentiableSGD,
    KroneckerTransform,
    LearnableOptimizer,
    MetaCurvatureTransform,
    ModuleTransform,
    ParameterUpdate,
)
from torch import nn
from torch.func import functional_call, grad

loss = nn.CrossEntropyLoss()


def mnist_like(device: torch.device, batch: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(batch, 784, generator=generator).to(device)
    y = torch.randint(0, 10, (batch,), generator=generator).to(device)
    return X, y


def test_learnable_optimizer_example(device: torch.device) -> None:
    torch.manual_seed(0)
    X, y = mnist_like(device)
    linear = nn.Linear(784, 10).to(device)
    transform = ModuleTransform(torch.nn.Linear)
    metaopt = LearnableOptimizer(linear, transform, lr=0.01)
    opt = torch.optim.SGD(metaopt.parameters(), lr=0.001)
    transform_params = list(metaopt.parameters())
    # One Linear(7840, 7840) for the weight and one Linear(10, 10) for the bias; not the model's.
    assert [tuple(p.shape) for p in transform_params] == [(7840, 7840), (7840,), (10, 10), (10,)]
    assert not {id(p) for p in linear.parameters()} & {id(p) for p in transform_params}

    for iteration in range(2):
        metaopt.zero_grad()
        opt.zero_grad()
        error = loss(linear(X), y)
        error.backward()
        if iteration == 1:
            # The second backward reached the transforms through the previous step's update.
            for param in transform_params:
                assert param.grad is not None
                assert param.grad.abs().sum() > 0
        before_transform = [p.detach().clone() for p in transform_params]
        opt.step()  # update metaopt
        if iteration == 1:
            for param, old in zip(transform_params, before_transform, strict=True):
                assert not torch.equal(param.detach(), old)
        weight, weight_grad = linear.weight.detach().clone(), linear.weight.grad
        assert weight_grad is not None
        with torch.no_grad():
            expected = weight - 0.01 * metaopt.transforms[0](weight_grad)
        metaopt.step()  # update linear
        assert linear.weight.grad_fn is not None  # differentiable: a non-leaf tensor now
        torch.testing.assert_close(linear.weight.detach(), expected, atol=1e-6, rtol=1e-5)

    # zero_grad resets only the target parameters.
    loss(linear(X), y).backward()
    assert linear.weight.grad is not None
    metaopt.zero_grad()
    assert linear.weight.grad is None
    assert all(p.grad is not None for p in transform_params)


def test_parameter_update_example(device: torch.device) -> None:
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(1)
    X = torch.randn(32, 20, generator=generator).to(device)
    y = torch.randint(0, 5, (32,), generator=generator).to(device)
    model = torch.nn.Linear(20, 5).to(device)
    transform = KroneckerTransform(KroneckerLinear)
    get_update = ParameterUpdate(model.parameters(), transform)
    opt = torch.optim.SGD(list(model.parameters()) + list(get_update.parameters()), lr=0.01)
    transform_params = list(get_update.parameters())
    # weight (5, 20): factors (5, 5) and (20, 20); bias (5,): factors (5, 5) and (1, 1).
    assert [tuple(p.shape) for p in transform_params] == [(5, 5), (20, 20), (5, 5), (1, 1)]
    for iteration in range(10):
        opt.zero_grad()
        error = loss(model(X), y)
        params = list(model.parameters())
        grads = torch.autograd.grad(error, params, retain_graph=True)
        updates = get_update(
            error,
            model.parameters(),
            create_graph=True,
        )
        if iteration == 0:
            # The Kronecker transforms start as the identity: the updates are the gradients.
            for update, gradient in zip(updates, grads, strict=True):
                assert update is not None
                torch.testing.assert_close(update, gradient)
        update_module(model, updates)
        for param, old, update in zip(model.parameters(), params, updates, strict=True):
            assert update is not None
            torch.testing.assert_close(param, old + update)
        opt.step()
    # The second backward (through the 10 differentiable updates) reaches the transforms.
    loss(model(X), y).backward()
    for param in transform_params:
        assert param.grad is not None
        assert torch.isfinite(param.grad).all()
        assert param.grad.abs().sum() > 0


def test_parameter_update_meta_gradient_matches_torch_func_reference(device: torch.device) -> None:
    """Descent with Kronecker-preconditioned updates (MAML-style); check the meta-gradient."""
    dtype = torch.float64
    generator = torch.Generator().manual_seed(2)
    support = torch.randn(12, 6, generator=generator, dtype=dtype).to(device)
    support_y = torch.randint(0, 3, (12,), generator=generator).to(device)
    query = torch.randn(9, 6, generator=generator, dtype=dtype).to(device)
    query_y = torch.randint(0, 3, (9,), generator=generator).to(device)
    model = nn.Linear(6, 3).to(device=device, dtype=dtype)
    get_update = ParameterUpdate(model.parameters(), KroneckerTransform(KroneckerLinear, psd=True))
    with torch.no_grad():  # move away from the identity so the check is not trivial
        for param in get_update.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=generator, dtype=dtype).to(device))
    inner_lr = 0.3

    learner = clone_module(model)
    updates = get_update(loss(learner(support), support_y), learner.parameters(), create_graph=True)
    update_module(learner, [-inner_lr * u for u in updates if u is not None])
    loss(learner(query), query_y).backward()

    def reference(
        model_params: dict[str, torch.Tensor], factors: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        support_grads = grad(lambda p: loss(functional_call(model, p, (support,)), support_y))(
            model_params
        )
        adapted = {}
        for index, name in enumerate(("weight", "bias")):
            left = factors[f"transforms.{index}.module.left"]
            right = factors[f"transforms.{index}.module.right"]
            left, right = left @ left.T, right @ right.T
            matrix = support_grads[name].reshape(left.shape[0], right.shape[0])
            adapted[name] = model_params[name] - inner_lr * (left @ matrix @ right.T).reshape(
                model_params[name].shape
            )
        return loss(functional_call(model, adapted, (query,)), query_y)

    model_params = {name: p.detach() for name, p in model.named_parameters()}
    factors = {name: p.detach() for name, p in get_update.named_parameters()}
    expected_model, expected_factors = grad(reference, argnums=(0, 1))(model_params, factors)
    for name, param in model.named_parameters():
        assert param.grad is not None
        torch.testing.assert_close(param.grad, expected_model[name], atol=1e-10, rtol=1e-8)
    for name, param in get_update.named_parameters():
        assert param.grad is not None
        assert param.grad.abs().sum() > 0
        torch.testing.assert_close(param.grad, expected_factors[name], atol=1e-10, rtol=1e-8)


def test_differentiable_sgd_example(device: torch.device) -> None:
    dtype = torch.float64
    generator = torch.Generator().manual_seed(3)
    inputs = torch.randn(10, 4, generator=generator, dtype=dtype).to(device)
    targets = torch.randn(10, 2, generator=generator, dtype=dtype).to(device)
    original = nn.Linear(4, 2).to(device=device, dtype=dtype)
    model = clone_module(original)
    mse = nn.MSELoss()
    error = mse(model(inputs), targets)
    old = [p.detach().clone() for p in model.parameters()]

    sgd = DifferentiableSGD(0.1)
    gradients = torch.autograd.grad(error, model.parameters(), create_graph=True)
    sgd(model, gradients)  # model is updated in-place

    for param, before, gradient in zip(model.parameters(), old, gradients, strict=True):
        torch.testing.assert_close(param.detach(), before - 0.1 * gradient.detach())
    mse(model(inputs), targets).backward()

    def reference(params: dict[str, torch.Tensor]) -> torch.Tensor:
        inner = grad(lambda p: mse(functional_call(original, p, (inputs,)), targets))(params)
        adapted = {name: params[name] - 0.1 * inner[name] for name in params}
        return mse(functional_call(original, adapted, (inputs,)), targets)

    expected = grad(reference)({name: p.detach() for name, p in original.named_parameters()})
    for name, param in original.named_parameters():
        assert param.grad is not None
        torch.testing.assert_close(param.grad, expected[name], atol=1e-12, rtol=1e-10)


def test_module_transform_example(device: torch.device) -> None:
    torch.manual_seed(0)
    X, y = mnist_like(device)
    lr = 0.1
    classifier = torch.nn.Linear(784, 10, bias=False).to(device)
    linear_transform = ModuleTransform(torch.nn.Linear)
    linear_update = linear_transform(classifier.weight)
    # maps gradients to updates, both of shape (1, 7840)
    assert isinstance(linear_update.module, nn.Linear)
    assert (linear_update.module.in_features, linear_update.module.out_features) == (7840, 7840)
    loss(classifier(X), y).backward()
    assert classifier.weight.grad is not None
    update = linear_update(classifier.weight.grad)
    assert update.shape == classifier.weight.shape
    with torch.no_grad():
        expected = linear_update.module(classifier.weight.grad.reshape(1, 7840)).reshape(10, 784)
    torch.testing.assert_close(update, expected)
    before = classifier.weight.detach().clone()
    classifier.weight.data.add_(update, alpha=-lr)  # Not a differentiable update.
    torch.testing.assert_close(classifier.weight.detach(), before - lr * update.detach())


def test_kronecker_transform_example(device: torch.device) -> None:
    X, y = mnist_like(device)
    lr = 0.1
    classifier = torch.nn.Linear(784, 10, bias=False).to(device)
    kronecker_transform = KroneckerTransform(KroneckerLinear)
    kronecker_update = kronecker_transform(classifier.weight)
    assert [tuple(p.shape) for p in kronecker_update.parameters()] == [(10, 10), (784, 784)]
    loss(classifier(X), y).backward()
    assert classifier.weight.grad is not None
    update = kronecker_update(classifier.weight.grad)
    torch.testing.assert_close(update, classifier.weight.grad)  # identity at initialisation
    before = classifier.weight.detach().clone()
    classifier.weight.data.add_(update, alpha=-lr)  # Not a differentiable update.
    torch.testing.assert_close(classifier.weight.detach(), before - lr * update.detach())


def test_meta_curvature_transform_example(device: torch.device) -> None:
    X, y = mnist_like(device)
    lr = 0.1
    classifier = torch.nn.Linear(784, 10, bias=False).to(device)
    metacurvature_update = MetaCurvatureTransform(classifier.weight)
    assert [tuple(p.shape) for p in metacurvature_update.parameters()] == [(10, 10), (784, 784)]
    loss(classifier(X), y).backward()
    assert classifier.weight.grad is not None
    update = metacurvature_update(classifier.weight.grad)
    torch.testing.assert_close(update, classifier.weight.grad)  # identity at initialisation
    before = classifier.weight.detach().clone()
    classifier.weight.data.add_(update, alpha=-lr)  # Not a differentiable update.
    torch.testing.assert_close(classifier.weight.detach(), before - lr * update.detach())
