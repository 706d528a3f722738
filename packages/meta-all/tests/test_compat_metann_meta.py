"""Tests of meta_all.compat.metann.meta, MetaNN's episodic API (metann.meta).

Moved from meta-algos (``meta_algos.episodic``) when the learners became shells in meta-all.
"""

from __future__ import annotations

import copy
import doctest
from collections.abc import Callable
from dataclasses import dataclass

import meta_optim
import pytest
import torch
import torch.nn.functional as F
from meta_all.compat.metann import _meta as _episodic
from meta_all.compat.metann import meta as episodic_module
from meta_all.compat.metann.meta import (
    MAML,
    GDLearner,
    Learner,
    MAMLpp,
    MultiModel,
    RMSPropLearner,
    SequentialGDLearner,
    active_indices,
    default_evaluator_classification,
    mamlpp_evaluator,
)
from meta_functional import named_params
from meta_nn import DependentModule, ProtoModule
from torch import Tensor, nn
from torch.func import functional_call

# float64 meta-gradients against the torch.func reference: only rounding differs.
ATOL = 1e-10
RTOL = 1e-8


@dataclass
class EpisodeTask:
    """Duck-typed stand-in for a meta-tasks Task: any object with the four attributes works."""

    support_x: Tensor
    support_y: Tensor
    query_x: Tensor
    query_y: Tensor


def make_net(device: torch.device, dtype: torch.dtype = torch.float64, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)).to(device, dtype)


def make_bn_net(device: torch.device, seed: int = 0) -> nn.Module:
    """A net with per-batch BatchNorm (no running statistics), as few-shot backbones use."""
    torch.manual_seed(seed)
    layers = [nn.Linear(4, 8), nn.BatchNorm1d(8, track_running_stats=False), nn.ReLU()]
    return nn.Sequential(*layers, nn.Linear(8, 3)).to(device, torch.float64)


def make_split(
    device: torch.device, n: int = 6, dtype: torch.dtype = torch.float64, seed: int = 1
) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=generator, dtype=dtype).to(device)
    y = torch.randint(0, 3, (n,), generator=generator).to(device)
    return x, y


def loss_at(net: nn.Module, params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
    return F.cross_entropy(functional_call(net, params, (x,)), y)


def reference_meta_grad(
    net: nn.Module,
    support: tuple[Tensor, Tensor],
    query: tuple[Tensor, Tensor],
    lr: float,
    steps: int,
    *,
    first_order: bool,
) -> dict[str, Tensor]:
    """Hand-written torch.func MAML / FOMAML meta-gradient."""
    params = {name: p.detach() for name, p in net.named_parameters()}
    support_grad = torch.func.grad(lambda p, x, y: loss_at(net, p, x, y))

    def adapt(start: dict[str, Tensor]) -> dict[str, Tensor]:
        fast = start
        for _ in range(steps):
            grads = support_grad(fast, *support)
            fast = {name: fast[name] - lr * grads[name] for name in fast}
        return fast

    if first_order:
        return support_grad(adapt(params), *query)
    return torch.func.grad(lambda p: loss_at(net, adapt(p), *query))(params)


def meta_grad_of(net: nn.Module, loss: Tensor) -> dict[str, Tensor]:
    names, tensors = zip(*net.named_parameters(), strict=True)
    grads = torch.autograd.grad(loss, tensors)
    return dict(zip(names, grads, strict=True))


def assert_maps_close(actual: dict[str, Tensor], expected: dict[str, Tensor]) -> None:
    assert list(actual) == list(expected)
    for name in expected:
        torch.testing.assert_close(actual[name], expected[name], atol=ATOL, rtol=RTOL)


# ---------------------------------------------------------------------------------------------
# the seed's README example and MAML


def test_readme_example_backward_reaches_every_parameter(device: torch.device) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(10, 100), nn.Linear(100, 5)).to(device)
    data_train = (torch.randn(8, 10, device=device), torch.randint(0, 5, (8,), device=device))
    data_test = (torch.randn(8, 10, device=device), torch.randint(0, 5, (8,), device=device))
    before = [p.detach().clone() for p in net.parameters()]

    maml = MAML(net, steps_train=5, steps_eval=10, lr=0.01)
    output = maml(data_train)
    loss = default_evaluator_classification(output, data_test)
    loss.backward()

    assert loss.shape == ()
    assert [name for name, _ in maml.named_parameters()] == [
        f"model.{name}" for name, _ in net.named_parameters()
    ]
    for p, original in zip(net.parameters(), before, strict=True):
        assert p.grad is not None
        assert torch.isfinite(p.grad).all()
        assert p.grad.abs().sum() > 0
        assert torch.equal(p.detach(), original)  # adaptation never touches the net


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("build", [make_net, make_bn_net], ids=["mlp", "batchnorm"])
def test_maml_meta_gradient_matches_torch_func(
    device: torch.device, steps: int, first_order: bool, build
) -> None:
    net = build(device)
    support, query = make_split(device, seed=1), make_split(device, seed=2)
    maml = MAML(net, steps_train=steps, steps_eval=0, lr=0.3, first_order=first_order)
    loss = default_evaluator_classification(maml(support), query)
    expected = reference_meta_grad(net, support, query, 0.3, steps, first_order=first_order)
    assert_maps_close(meta_grad_of(net, loss), expected)


@pytest.mark.parametrize("steps", [1, 3])
def test_gdlearner_create_graph_gives_second_order_else_first_order(
    device: torch.device, steps: int
) -> None:
    net = make_net(device)
    support, query = make_split(device, seed=3), make_split(device, seed=4)
    grads = {}
    for create_graph in (True, False):
        learner = GDLearner(steps, 0.5, create_graph=create_graph)
        loss = default_evaluator_classification(learner(net, support), query)
        grads[create_graph] = meta_grad_of(net, loss)
        expected = reference_meta_grad(
            net, support, query, 0.5, steps, first_order=not create_graph
        )
        assert_maps_close(grads[create_graph], expected)
    # the two really differ, so the comparison above tells them apart
    assert not torch.allclose(grads[True]["0.weight"], grads[False]["0.weight"], atol=1e-6)


def test_gdlearner_meta_gradient_passes_gradcheck(device: torch.device) -> None:
    net = make_net(device)
    support, query = make_split(device, n=4, seed=5), make_split(device, n=4, seed=6)
    names = [name for name, _ in net.named_parameters()]
    learner = GDLearner(steps=2, lr=0.4)

    def meta_loss(*tensors: Tensor) -> Tensor:
        params = dict(zip(names, tensors, strict=True))
        model = DependentModule(copy.deepcopy(net))
        model.clear_params(init=True)
        model.substitute(params.items())
        adapted = learner.forward_inplace(model, support)
        return default_evaluator_classification(adapted, query)

    inputs = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())
    assert torch.autograd.gradcheck(meta_loss, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


def test_steps_train_and_steps_eval_follow_train_and_eval(device: torch.device) -> None:
    calls: list[int] = []

    def counting_evaluator(model: _episodic.ModelFn, data: object) -> Tensor:
        calls.append(1)
        return default_evaluator_classification(model, data)

    net = make_net(device)
    support = make_split(device)
    maml = MAML(net, steps_train=2, steps_eval=5, lr=0.1, evaluator=counting_evaluator)
    assert maml.training
    assert maml.steps == 2
    maml(support)
    assert len(calls) == 2
    maml.eval()
    assert maml.steps == 5
    assert not net.training
    calls.clear()
    maml(support)
    assert len(calls) == 5
    maml.train()
    calls.clear()
    maml(support)
    assert len(calls) == 2


def test_maml_eval_adapts_under_no_grad(device: torch.device) -> None:
    net = make_net(device)
    support, query = make_split(device, seed=1), make_split(device, seed=2)
    maml = MAML(net, steps_train=1, steps_eval=4, lr=0.5).eval()
    with torch.no_grad():
        before = default_evaluator_classification(net, support)
        after = default_evaluator_classification(maml(support), support)
    assert after < before
    expected = GDLearner(4, 0.5, create_graph=False).fast_weights(net, support)[-1]
    with torch.no_grad():
        torch.testing.assert_close(
            maml(support)(query[0]), functional_call(net, expected, (query[0],))
        )


def test_maml_accepts_an_episode_or_a_task_and_uses_its_support(device: torch.device) -> None:
    net = make_net(device)
    support, query = make_split(device, seed=1), make_split(device, seed=2)
    maml = MAML(net, steps_train=2, steps_eval=2, lr=0.3)
    expected = default_evaluator_classification(maml(support), query)
    task = EpisodeTask(*support, *query)
    for data in ((support, query), [list(support), list(query)], task):
        # the evaluator picks the query part of an episode or a task
        torch.testing.assert_close(default_evaluator_classification(maml(data), data), expected)


# ---------------------------------------------------------------------------------------------
# learners built on meta-optim


def by_hand(
    net: nn.Module,
    optimizer: meta_optim.GradientTransformation[object],
    batches: list[tuple[Tensor, Tensor]],
) -> list[dict[str, Tensor]]:
    """Apply a meta-optim optimizer step by step, outside the learner."""
    params = {name: p.detach().clone() for name, p in net.named_parameters()}
    state = optimizer.init(params)
    trajectory = []
    for x, y in batches:
        grads = torch.func.grad(loss_at, argnums=1)(net, params, x, y)
        updates, state = optimizer.update(grads, state, params)
        params = meta_optim.apply_updates(params, updates)
        trajectory.append(params)
    return trajectory


def torch_optim_trajectory(
    net: nn.Module, make_optimizer: type[torch.optim.Optimizer], batches: list, **options: object
) -> list[dict[str, Tensor]]:
    clone = copy.deepcopy(net)
    optimizer = make_optimizer(clone.parameters(), **options)
    trajectory = []
    for x, y in batches:
        optimizer.zero_grad()
        F.cross_entropy(clone(x), y).backward()
        optimizer.step()
        trajectory.append({name: p.detach().clone() for name, p in clone.named_parameters()})
    return trajectory


def assert_trajectories_close(actual: list[dict[str, Tensor]], expected: list) -> None:
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected, strict=True):
        assert_maps_close({name: t.detach() for name, t in got.items()}, want)


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_learner_steps_equal_meta_optim_rmsprop(
    device: torch.device, centered: bool
) -> None:
    net = make_net(device)
    batches = [make_split(device, seed=seed) for seed in range(4)]
    learner = RMSPropLearner(lr=0.02, alpha=0.9, eps=1e-6, centered=centered)
    actual = learner.fast_weights(net, batches)
    optimizer = meta_optim.rmsprop(0.02, alpha=0.9, eps=1e-6, centered=centered)
    assert_trajectories_close(actual, by_hand(net, optimizer, batches))
    assert_trajectories_close(
        actual,
        torch_optim_trajectory(
            net, torch.optim.RMSprop, batches, lr=0.02, alpha=0.9, eps=1e-6, centered=centered
        ),
    )


def test_rmsprop_learner_with_steps_repeats_one_split(device: torch.device) -> None:
    net = make_net(device)
    support = make_split(device)
    actual = RMSPropLearner(lr=0.01, steps=3).fast_weights(net, support)
    assert_trajectories_close(actual, by_hand(net, meta_optim.rmsprop(0.01), [support] * 3))


def test_sequential_gd_learner_steps_equal_meta_optim_sgd_with_momentum(
    device: torch.device,
) -> None:
    net = make_net(device)
    batches = [make_split(device, seed=seed) for seed in range(4)]
    actual = SequentialGDLearner(lr=0.1, momentum=0.5).fast_weights(net, batches)
    assert_trajectories_close(actual, by_hand(net, meta_optim.sgd(0.1, momentum=0.5), batches))
    assert_trajectories_close(
        actual, torch_optim_trajectory(net, torch.optim.SGD, batches, lr=0.1, momentum=0.5)
    )


@pytest.mark.parametrize(
    ("learner", "optimizer"),
    [
        (SequentialGDLearner(lr=0.2, momentum=0.5), meta_optim.sgd(0.2, momentum=0.5)),
        (RMSPropLearner(lr=0.02, centered=True), meta_optim.rmsprop(0.02, centered=True)),
    ],
    ids=["sequential-momentum", "rmsprop-centered"],
)
def test_second_order_meta_gradient_through_optimizer_steps_matches_torch_func(
    device: torch.device, learner: Learner, optimizer: meta_optim.GradientTransformation[object]
) -> None:
    net = make_net(device)
    batches = [make_split(device, seed=seed) for seed in range(3)]
    query = make_split(device, seed=9)
    mimo = learner.forward_pure(net, batches, mimo=True)
    loss = default_evaluator_classification(mimo[len(mimo) - 1], query)

    def meta_loss(params: dict[str, Tensor]) -> Tensor:
        state = optimizer.init(params)
        for x, y in batches:
            grads = torch.func.grad(loss_at, argnums=1)(net, params, x, y)
            updates, state = optimizer.update(grads, state, params)
            params = meta_optim.apply_updates(params, updates)
        return loss_at(net, params, *query)

    expected = torch.func.grad(meta_loss)({n: p.detach() for n, p in net.named_parameters()})
    assert_maps_close(meta_grad_of(net, loss), expected)


def test_sequential_learner_takes_a_task_or_a_pair_as_one_batch(device: torch.device) -> None:
    net = make_net(device)
    support, query = make_split(device, seed=1), make_split(device, seed=2)
    learner = SequentialGDLearner(lr=0.1)
    expected = by_hand(net, meta_optim.sgd(0.1, momentum=0.5), [support])
    for data in (support, list(support), EpisodeTask(*support, *query)):
        assert_trajectories_close(learner.fast_weights(net, data), expected)


def test_generic_learner_runs_any_meta_optim_optimizer(device: torch.device) -> None:
    net = make_net(device)
    support = make_split(device)
    optimizer = meta_optim.adam(0.05)
    actual = Learner(optimizer, steps=3).fast_weights(net, support)
    assert_trajectories_close(actual, by_hand(net, optimizer, [support] * 3))


def test_forward_pure_leaves_the_model_untouched_and_zero_steps_is_identity(
    device: torch.device,
) -> None:
    net = make_net(device)
    support = make_split(device)
    before = {name: p.detach().clone() for name, p in net.named_parameters()}
    adapted = GDLearner(steps=0, lr=0.1)(net, support)
    torch.testing.assert_close(adapted(support[0]), net(support[0]))
    adapted = GDLearner(steps=3, lr=0.1)(net, support)
    assert not torch.allclose(adapted(support[0]), net(support[0]))
    for name, p in net.named_parameters():
        assert torch.equal(p.detach(), before[name])


def test_frozen_parameters_are_not_adapted(device: torch.device) -> None:
    net = make_net(device)
    net[0].weight.requires_grad_(False)
    fast = GDLearner(steps=2, lr=0.1).fast_weights(net, make_split(device))
    assert fast[-1]["0.weight"] is net[0].weight
    assert not torch.equal(fast[-1]["2.weight"], net[2].weight)


def test_forward_inplace_substitutes_the_adapted_dependents(device: torch.device) -> None:
    net = make_net(device)
    support, query = make_split(device, seed=1), make_split(device, seed=2)
    model = DependentModule(copy.deepcopy(net))
    model.clear_params(init=True)
    learner = GDLearner(steps=2, lr=0.3)
    returned = learner(model, support, inplace=True)
    assert returned is model
    pure = learner(net, support)
    torch.testing.assert_close(model(query[0]), pure(query[0]), atol=ATOL, rtol=RTOL)


def test_forward_inplace_meta_gradient_reaches_the_cleared_parameters(
    device: torch.device,
) -> None:
    net = make_net(device)
    support, query = make_split(device, seed=1), make_split(device, seed=2)
    model = DependentModule(copy.deepcopy(net))
    meta_params = dict(model.named_parameters())  # clear_params(init=True) keeps these objects
    model.clear_params(init=True)
    assert list(model.parameters()) == []
    GDLearner(steps=2, lr=0.3)(model, support, inplace=True)
    loss = default_evaluator_classification(model, query)
    names = list(meta_params)
    grads = dict(zip(names, torch.autograd.grad(loss, list(meta_params.values())), strict=True))
    assert_maps_close(grads, reference_meta_grad(net, support, query, 0.3, 2, first_order=False))


def test_forward_inplace_rejects_unset_or_missing_dependents(device: torch.device) -> None:
    support = make_split(device)
    with pytest.raises(ValueError, match=r"unset dependents \['0.bias', '0.weight', "):
        GDLearner(1, 0.1).forward_inplace(DependentModule.stateless(make_net(device)), support)


@pytest.mark.parametrize(
    ("learner", "make_optimizer", "options"),
    [
        (GDLearner(3, 0.2), torch.optim.SGD, {"lr": 0.2}),
        (SequentialGDLearner(0.2, momentum=0.9), torch.optim.SGD, {"lr": 0.2, "momentum": 0.9}),
        (
            RMSPropLearner(0.01, centered=True, steps=3),
            torch.optim.RMSprop,
            {"lr": 0.01, "centered": True},
        ),
    ],
    ids=["gd", "sequential-momentum", "rmsprop-centered"],
)
def test_inplace_trains_a_plain_module_with_torch_optim(
    device: torch.device, learner: Learner, make_optimizer: type, options: dict
) -> None:
    # MetaNN trains the module itself with torch.optim (a converted DependentModule that still
    # has its parameters is such a module too)
    for convert in (False, True):
        net = make_net(device)
        split = make_split(device)
        batches = [split] * 3
        expected = torch_optim_trajectory(net, make_optimizer, batches, **options)[-1]
        model = DependentModule(net) if convert else net
        data = split if learner.steps is not None else batches
        assert learner(model, data, inplace=True) is model
        assert_maps_close({n: p.detach() for n, p in model.named_parameters()}, expected)
        assert all(p.grad is not None for p in model.parameters())  # the last batch's


# ---------------------------------------------------------------------------------------------
# MultiModel, MAMLpp, mamlpp_evaluator, active_indices


def test_multimodel_forward_runs_every_set_of_fast_weights(device: torch.device) -> None:
    net = make_net(device)
    x, _ = make_split(device)
    weights = [
        {name: p.detach() * scale for name, p in net.named_parameters()} for scale in (1, 2, 3)
    ]
    mimo = MultiModel(ProtoModule(net), weights)
    outputs = mimo(x)
    assert len(mimo) == 3
    assert len(outputs) == 3
    for output, w in zip(outputs, weights, strict=True):
        torch.testing.assert_close(output, functional_call(net, w, (x,)))
    plain = MultiModel(net, weights)  # a plain module is wrapped in a ProtoModule
    torch.testing.assert_close(plain(x)[1], outputs[1])


def test_multimodel_items_are_one_stateless_module_as_in_metann(device: torch.device) -> None:
    mimo = constant_loss_mimo(device, [1.0, 2.0])
    first, second = mimo[0], mimo[1]
    assert first is second  # MetaNN's functional returns its one stateless copy
    x = torch.ones(1, 1, device=device, dtype=torch.float64)
    assert first(x).item() == 2.0  # holds the weights substituted last
    assert [model(x).item() for model in mimo] == [1.0, 2.0]  # each used before the next


def constant_loss_mimo(device: torch.device, losses: list[float]) -> MultiModel:
    """A MultiModel whose model at weights i outputs losses[i] for every input."""
    net = nn.Linear(1, 1).to(device, torch.float64)
    weights = [
        {
            "weight": torch.zeros(1, 1, device=device, dtype=torch.float64),
            "bias": torch.full((1,), value, device=device, dtype=torch.float64),
        }
        for value in losses
    ]
    return MultiModel(net, weights)


def mean_output(model: _episodic.ModelFn, data: object) -> Tensor:
    x, _ = data  # type: ignore[misc]
    return model(x).mean()


def test_mamlpp_evaluator_weighs_the_first_steps_plus_one_models_as_metann(
    device: torch.device,
) -> None:
    mimo = constant_loss_mimo(device, [8.0, 4.0, 2.0, 1.0, 16.0])
    data = (torch.ones(5, 1, device=device, dtype=torch.float64), None)
    # steps=3, gamma=0.5: models 0..3 weighted 0.125, 0.25, 0.5, 1 (not normalised)
    total, last = mamlpp_evaluator(mimo, data, 3, mean_output, gamma=0.5)
    assert total.item() == pytest.approx(0.125 * 8.0 + 0.25 * 4.0 + 0.5 * 2.0 + 1.0, abs=1e-12)
    assert last.item() == pytest.approx(1.0, abs=1e-12)
    total, last = mamlpp_evaluator(mimo, data, 0, mean_output)
    assert (total.item(), last.item()) == (pytest.approx(8.0), pytest.approx(8.0))
    total, last = mamlpp_evaluator(mimo, data, 4, mean_output)  # default gamma 0.6
    weights = [0.6**4, 0.6**3, 0.6**2, 0.6, 1.0]
    expected = sum(w * v for w, v in zip(weights, [8.0, 4.0, 2.0, 1.0, 16.0], strict=True))
    assert total.item() == pytest.approx(expected, abs=1e-12)
    assert last.item() == pytest.approx(16.0, abs=1e-12)
    # any sequence of models works, as in MetaNN
    models = [constant_loss_mimo(device, [value])[0] for value in (8.0, 4.0)]
    total, _ = mamlpp_evaluator(models, data, 1, mean_output, gamma=2.0)
    assert total.item() == pytest.approx(2.0 * 8.0 + 4.0, abs=1e-12)


def test_mamlpp_returns_one_set_of_weights_per_step_and_trains(device: torch.device) -> None:
    net = make_net(device)
    support, query = make_split(device, seed=1), make_split(device, seed=2)
    mamlpp = MAMLpp(net, steps_train=3, steps_eval=5, lr=0.3)
    mimo = mamlpp(support)
    assert isinstance(mimo, MultiModel)
    assert len(mimo) == 4  # the initial weights, then one set per step (MetaNN)
    assert all(a is b for a, b in zip(mimo.params_lst[0], net.parameters(), strict=True))
    expected = GDLearner(3, 0.3).fast_weights(net, support)
    names = [name for name, _ in net.named_parameters()]
    for got, want in zip(mimo.params_lst[1:], expected, strict=True):
        assert_maps_close(
            {n: t.detach() for n, t in zip(names, got, strict=True)},
            {n: t.detach() for n, t in want.items()},
        )
    loss, last = mamlpp_evaluator(mimo, query, 3, default_evaluator_classification)
    # the multi-step loss is MetaNN's weighted sum of the per-step losses
    per_step = [default_evaluator_classification(mimo[i], query) for i in range(4)]
    torch.testing.assert_close(
        loss, 0.216 * per_step[0] + 0.36 * per_step[1] + 0.6 * per_step[2] + per_step[3]
    )
    torch.testing.assert_close(last, per_step[3])
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())
    # in eval mode MAMLpp returns the model adapted with steps_eval steps, as MAML does
    adapted = mamlpp.eval()(support)
    assert isinstance(adapted, DependentModule)
    final = GDLearner(5, 0.3).fast_weights(net, support)[-1]
    torch.testing.assert_close(
        adapted(query[0]), functional_call(net, final, (query[0],)), atol=ATOL, rtol=RTOL
    )


def test_active_indices() -> None:
    # MetaNN: the indices of the entries that are tensors
    assert active_indices([torch.zeros(1), 1, True, None, torch.zeros(0), []]) == [0, 4]
    assert active_indices([]) == []
    assert active_indices(torch.ones(1) if x > 1 else x for x in [3, 0, 2]) == [0, 2]


def test_docstring_examples_run() -> None:
    for module in (_episodic, episodic_module):
        result = doctest.testmod(module, raise_on_error=False)
        assert result.failed == 0, f"{result.failed} doctest(s) failed in {module.__name__}"
        assert result.attempted > 0


def test_public_surface() -> None:
    # sorted as ruff's RUF022 does: SCREAMING_CASE names first, then the rest
    assert episodic_module.__all__ == sorted(
        episodic_module.__all__, key=lambda name: (not name.isupper(), name)
    )
    aliases = {"Evaluator", "ModelFn"}  # type aliases, documented by #: comments
    for name in set(episodic_module.__all__) - aliases:
        assert getattr(episodic_module, name).__doc__, name


# ---------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize(
    ("data", "error", "match"),
    [
        (torch.zeros(3), TypeError, r"data must be an \(x, y\) pair.*got Tensor"),
        (5, TypeError, r"data must be an \(x, y\) pair.*got int"),
        ((1, 2, 3), ValueError, r"got a tuple of length 3"),
        ([], ValueError, r"got a list of length 0"),
    ],
)
def test_bad_data_is_rejected(
    device: torch.device, data: object, error: type[Exception], match: str
) -> None:
    maml = MAML(make_net(device), steps_train=1, steps_eval=1, lr=0.1)
    with pytest.raises(error, match=match):
        maml(data)
    with pytest.raises(error, match=match):
        GDLearner(1, 0.1)(make_net(device), data)
    with pytest.raises(error, match=match):
        default_evaluator_classification(make_net(device), data)


def test_sequential_data_is_iterated_as_metann_does(device: torch.device) -> None:
    net = make_net(device)
    x = make_split(device)[0]
    learner = SequentialGDLearner(lr=0.1)
    # no batches, no steps: the unadapted model (MetaNN)
    torch.testing.assert_close(learner(net, [])(x), net(x))
    # each batch goes to the evaluator as it is
    with pytest.raises(ValueError, match=r"data must be an \(x, y\) pair.*tuple of length 3"):
        learner(net, [make_split(device), (1, 2, 3)])
    with pytest.raises(TypeError, match=r"data must be an iterable of batches.*got int"):
        learner(net, 3)
    seen: list[object] = []

    def custom(model: _episodic.ModelFn, batch: dict) -> Tensor:
        seen.append(batch)
        return F.cross_entropy(model(batch["x"]), batch["y"])

    split = make_split(device)
    batches = [{"x": split[0], "y": split[1]}] * 2
    learner(net, batches, evaluator=custom)
    assert seen == batches


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda net: GDLearner(-1, 0.1), r"steps must be a non-negative int, got -1"),
        (lambda net: GDLearner(1.5, 0.1), r"steps must be a non-negative int, got 1.5"),
        (lambda net: GDLearner(True, 0.1), r"steps must be a non-negative int, got True"),
        (lambda net: GDLearner(1, -0.1), r"lr must be >= 0, got -0.1"),
        (lambda net: RMSPropLearner(lr=-1.0), r"lr must be >= 0, got -1.0"),
        (lambda net: RMSPropLearner(steps=-2), r"steps must be a non-negative int, got -2"),
        (lambda net: SequentialGDLearner(0.1, momentum=-0.5), r"momentum must be >= 0"),
        (lambda net: MAML(net, -1, 1, 0.1), r"steps_train must be a non-negative int, got -1"),
        (lambda net: MAML(net, 1, -1, 0.1), r"steps_eval must be a non-negative int, got -1"),
        (lambda net: MAMLpp(net, -1, 1, 0.1), r"steps_train must be a non-negative int, got -1"),
        (lambda net: MAMLpp(net, 1, 1, float("nan")), r"lr must be a finite real number"),
    ],
)
def test_bad_hyperparameters_are_rejected(device: torch.device, build, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build(make_net(device))
    with pytest.raises(TypeError, match=r"lr must be a finite real number, got '0.1' \(str\)"):
        SequentialGDLearner(lr="0.1")  # type: ignore[arg-type]  # wrong on purpose


def test_zero_lr_and_zero_steps_are_accepted_as_in_metann(device: torch.device) -> None:
    net = make_net(device)
    support, query = make_split(device, seed=1), make_split(device, seed=2)
    torch.testing.assert_close(GDLearner(2, 0.0)(net, support)(query[0]), net(query[0]))
    mimo = MAMLpp(net, 0, 0, 0.1)(support)
    assert len(mimo) == 1
    total, last = mamlpp_evaluator(mimo, query, 0, default_evaluator_classification)
    torch.testing.assert_close(total, default_evaluator_classification(net, query))
    torch.testing.assert_close(last, total)


def test_hyperparameters_are_read_at_every_call(device: torch.device) -> None:
    net = make_net(device)
    support = make_split(device)
    learner = GDLearner(1, 0.1)
    learner.steps, learner.lr = 3, 0.4
    assert_trajectories_close(
        learner.fast_weights(net, support), by_hand(net, meta_optim.sgd(0.4), [support] * 3)
    )


def test_bad_types_are_rejected(device: torch.device) -> None:
    net = make_net(device)
    with pytest.raises(TypeError, match=r"optimizer must be a meta_optim.GradientTransformation"):
        Learner(torch.optim.SGD)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"evaluator must be callable, got int"):
        GDLearner(1, 0.1, evaluator=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"evaluator must be callable, got str"):
        MAML(net, 1, 1, 0.1, evaluator="ce")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got function"):
        MAML(lambda x: x, 1, 1, 0.1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got function"):
        GDLearner(1, 0.1)(lambda x: x, make_split(device))
    with pytest.raises(TypeError, match=r"model must be a torch.nn.Module, got function"):
        GDLearner(1, 0.1)(lambda x: x, make_split(device), inplace=True)
    with pytest.raises(TypeError, match=r"fast_weight_lst must be a sequence.*got dict"):
        MultiModel(net, named_params(net))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"fast_weight_lst\[1\] must be a name -> tensor mapping"):
        MultiModel(net, [named_params(net), 3])  # type: ignore[list-item]
    # MetaNN's abstract base
    with pytest.raises(TypeError, match=r"^Learner has no inner update: .* override forward_pure"):
        Learner()(net, make_split(device))
    with pytest.raises(TypeError, match=r"^Learner has no in-place training"):
        Learner(meta_optim.sgd(0.1), steps=1)(net, make_split(device), inplace=True)


def test_abstract_learner_methods_name_the_class_and_what_to_override(
    device: torch.device,
) -> None:
    net = make_net(device)
    support = make_split(device)

    class Twice(Learner):  # MetaNN's way: override forward_pure only
        def forward_pure(self, model: nn.Module, data: object) -> Callable[[Tensor], Tensor]:
            return lambda inputs: 2 * model(inputs)

    class Inplace(Learner):  # ... or forward_inplace only
        def forward_inplace(self, model: nn.Module, data: object) -> nn.Module:
            return model

    torch.testing.assert_close(Twice()(net, support)(support[0]), 2 * net(support[0]))
    assert Inplace()(net, support, inplace=True) is net
    with pytest.raises(
        TypeError,
        match=r"^Twice has no in-place training for a plain module: override forward_inplace",
    ):
        Twice()(net, support, inplace=True)
    with pytest.raises(
        TypeError, match=r"^Inplace has no inner update: MetaNN's Learner is an abstract base, "
    ):
        Inplace()(net, support)
    with pytest.raises(TypeError, match=r"^Inplace has no inner update"):
        Inplace().fast_weights(net, support)


def test_bad_losses_are_rejected(device: torch.device) -> None:
    net = make_net(device)
    support = make_split(device)
    per_sample = GDLearner(
        1, 0.1, evaluator=lambda m, d: F.cross_entropy(m(d[0]), d[1], reduction="none")
    )
    with pytest.raises(
        ValueError, match=r"the evaluator's loss must be a scalar .*got shape \(6,\)"
    ):
        per_sample(net, support)
    with pytest.raises(TypeError, match=r"the evaluator's loss must be a torch.Tensor, got float"):
        GDLearner(1, 0.1, evaluator=lambda m, d: 1.0)(net, support)
    constant = GDLearner(1, 0.1, evaluator=lambda m, d: torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"loss does not depend on the model's parameters"):
        constant(net, support)
    # the default evaluator returns what its criterion returns (MetaNN)
    per_sample = default_evaluator_classification(
        net, support, nn.CrossEntropyLoss(reduction="none")
    )
    assert per_sample.shape == (6,)
    frozen = make_net(device).requires_grad_(False)
    with pytest.raises(ValueError, match=r"none of the model's parameters .* requires grad"):
        GDLearner(1, 0.1)(frozen, support)


def test_bad_mamlpp_evaluator_arguments_are_rejected(device: torch.device) -> None:
    mimo = constant_loss_mimo(device, [1.0, 2.0])
    data = (torch.ones(2, 1, device=device, dtype=torch.float64), None)
    with pytest.raises(TypeError, match=r"mimo must be a MultiModel or a sequence of models"):
        mamlpp_evaluator(lambda x: x, data, 1, mean_output)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"steps=2 needs steps \+ 1 = 3 models .* holds 2"):
        mamlpp_evaluator(mimo, data, 2, mean_output)
    with pytest.raises(ValueError, match=r"steps must be a non-negative int, got -1"):
        mamlpp_evaluator(mimo, data, -1, mean_output)
    for gamma in (float("nan"), float("inf"), "0.5"):
        with pytest.raises(ValueError, match=r"gamma must be a finite real number"):
            mamlpp_evaluator(mimo, data, 1, mean_output, gamma=gamma)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"evaluator must be callable, got int"):
        mamlpp_evaluator(mimo, data, 1, 3)  # type: ignore[arg-type]
    # per-sample losses are weighed as they come (MetaNN checks nothing either)
    total, last = mamlpp_evaluator(mimo, data, 1, lambda m, d: m(d[0]), gamma=0.5)
    assert total.shape == last.shape == (2, 1)
    torch.testing.assert_close(total, torch.full_like(total, 0.5 * 1.0 + 2.0))
