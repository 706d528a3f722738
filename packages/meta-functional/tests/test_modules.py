"""Tests of clone_module, detach_module, update_module, descend_module, inner_step_module and
magic_box."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch
from meta_functional import (
    adapt,
    clone_module,
    descend_module,
    detach_module,
    functional_forward,
    inner_step_module,
    magic_box,
    named_params,
    update_module,
)
from torch import nn
from torch.nn.utils import parametrizations

# On CUDA, cloned/updated RNN weights are separate tensors rather than one cuDNN chunk (see
# refresh_rnn_weights); cuDNN warns and compacts them per call, which is expected here.
RNN_CHUNK_WARNING = "ignore:RNN module weights are not part of single contiguous chunk"


def seed_net(device: torch.device) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 10), nn.ReLU(), nn.Linear(10, 2)).to(device)


class Tied(nn.Module):
    """Encoder/decoder sharing one weight, with a None submodule and a None bias."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(4, 3, bias=False)
        self.decoder = nn.Linear(3, 4)
        self.decoder.weight = nn.Parameter(self.encoder.weight.detach().t().clone())
        self.register_module("missing", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(torch.tanh(x @ self.encoder.weight.t())) + x @ self.shared_t()

    def shared_t(self) -> torch.Tensor:
        return self.encoder.weight.t() @ self.encoder.weight


class TrueTied(nn.Module):
    """Two linear layers whose weight is the very same parameter object."""

    def __init__(self) -> None:
        super().__init__()
        self.first = nn.Linear(3, 3)
        self.second = nn.Linear(3, 3)
        self.second.weight = self.first.weight
        self.register_module("nothing", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(torch.tanh(self.first(x)))


# ------------------------------------------------------------------ clone_module


def test_clone_seed_example_gradients_reach_original(device: torch.device) -> None:
    net = seed_net(device)
    x, y = torch.randn(5, 20, device=device), torch.randint(0, 2, (5,), device=device)
    loss = nn.CrossEntropyLoss()
    clone = clone_module(net)
    error = loss(clone(x), y)
    error.backward()
    reference = seed_net(device)
    loss(reference(x), y).backward()
    pairs = zip(net.named_parameters(), reference.parameters(), strict=True)
    for (name, original), expected in pairs:
        assert original.grad is not None, name
        torch.testing.assert_close(original.grad, expected.grad, rtol=1e-6, atol=1e-7)


def test_clone_structure_values_and_graph(device: torch.device) -> None:
    net = seed_net(device)
    clone = clone_module(net)
    assert type(clone) is nn.Sequential
    assert clone is not net
    assert clone[0] is not net[0]
    for (name, original), (clone_name, copied) in zip(
        net.named_parameters(), clone.named_parameters(), strict=True
    ):
        assert name == clone_name
        assert not isinstance(copied, nn.Parameter)
        assert not copied.is_leaf
        assert copied.grad_fn is not None
        assert copied is not original
        assert copied.data_ptr() != original.data_ptr()
        torch.testing.assert_close(copied, original, rtol=0, atol=0)
    x = torch.randn(3, 20, device=device)
    torch.testing.assert_close(clone(x), net(x), rtol=0, atol=0)


def test_clone_keeps_tied_parameters_and_none_slots() -> None:
    torch.manual_seed(1)
    net = TrueTied()
    clone = clone_module(net)
    assert clone.second.weight is clone.first.weight
    assert clone.first.weight is not net.first.weight
    assert clone.nothing is None
    assert len(list(clone.parameters())) == len(list(net.parameters())) == 3
    x = torch.randn(2, 3)
    clone(x).sum().backward()
    assert net.first.weight.grad is not None
    reference = TrueTied()
    reference.load_state_dict(net.state_dict())
    reference(x).sum().backward()
    torch.testing.assert_close(net.first.weight.grad, reference.first.weight.grad)


def test_clone_none_bias_and_untied_module() -> None:
    torch.manual_seed(2)
    net = Tied()
    clone = clone_module(net)
    assert clone.encoder.bias is None
    assert clone.missing is None
    x = torch.randn(2, 4)
    torch.testing.assert_close(clone(x), net(x), rtol=0, atol=0)


def test_clone_shared_submodule_stays_shared() -> None:
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.Tanh(), shared)
    clone = clone_module(net)
    assert clone[0] is clone[2]
    assert clone[0] is not shared


def test_clone_memo_shares_tensors_between_calls() -> None:
    shared = nn.Linear(2, 2)
    first, second = nn.Sequential(shared), nn.Sequential(shared, nn.Linear(2, 1))
    memo: dict[int, object] = {}
    first_clone = clone_module(first, memo)
    second_clone = clone_module(second, memo)
    assert first_clone[0].weight is second_clone[0].weight
    unshared = clone_module(second)
    assert unshared[0].weight is not first_clone[0].weight


def test_clone_parameters_without_grad_and_buffers(device: torch.device) -> None:
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).to(device)
    net[0].weight.requires_grad_(False)
    clone = clone_module(net)
    assert not clone[0].weight.requires_grad
    assert clone[0].weight.grad_fn is None
    assert clone[0].bias.requires_grad
    assert clone[1].running_mean is not net[1].running_mean
    running_mean_before = net[1].running_mean.clone()
    out = clone(torch.randn(8, 3, device=device))
    # The clone's running statistics move; the original's do not.
    assert not torch.equal(clone[1].running_mean, running_mean_before)
    torch.testing.assert_close(net[1].running_mean, running_mean_before, rtol=0, atol=0)
    assert int(clone[1].num_batches_tracked) == 1
    assert int(net[1].num_batches_tracked) == 0
    out.sum().backward()
    assert net[0].weight.grad is None
    assert net[0].bias.grad is not None
    assert net[2].weight.grad is not None


@pytest.mark.filterwarnings(RNN_CHUNK_WARNING)
@pytest.mark.parametrize("kind", [nn.LSTM, nn.GRU, nn.RNN])
def test_clone_and_update_recurrent_modules(
    kind: Callable[..., nn.RNNBase], device: torch.device
) -> None:
    torch.manual_seed(4)
    net = kind(3, 5, num_layers=2, batch_first=True).to(device)
    x = torch.randn(2, 4, 3, device=device)
    clone = clone_module(net)
    for copied, original in zip(clone._flat_weights, net._flat_weights, strict=True):
        assert copied is not original
    # On CUDA the clone runs cuDNN's non-flattened path: allow float32 round-off (1e-6).
    torch.testing.assert_close(clone(x)[0], net(x)[0], rtol=1e-6, atol=1e-6)
    clone(x)[0].pow(2).sum().backward()
    reference = kind(3, 5, num_layers=2, batch_first=True).to(device)
    reference.load_state_dict(net.state_dict())
    reference(x)[0].pow(2).sum().backward()
    for original, expected in zip(net.parameters(), reference.parameters(), strict=True):
        assert original.grad is not None
        torch.testing.assert_close(original.grad, expected.grad, rtol=1e-5, atol=1e-6)

    # update_module: the forward uses the new weights, exactly like a stateless call.
    clone = clone_module(net)
    updates = [torch.full_like(p, 0.01) for p in clone.parameters()]
    update_module(clone, updates)
    new_params = {name: p + 0.01 for name, p in named_params(net).items()}
    expected_out = functional_forward(net, new_params, x)[0]
    torch.testing.assert_close(clone(x)[0], expected_out, rtol=1e-5, atol=1e-6)

    # descend_module (the step rule's shell) refreshes the RNN's weight list the same way
    clone = clone_module(net)
    descend_module(clone, [torch.full_like(p, -0.02) for p in clone.parameters()], 0.5)
    torch.testing.assert_close(clone(x)[0], expected_out, rtol=1e-5, atol=1e-6)


def test_clone_of_clone_reaches_the_original() -> None:
    torch.manual_seed(7)
    net = nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 1))
    parametrizations.weight_norm(net[0])
    x = torch.randn(4, 3)
    twice = clone_module(clone_module(net))
    torch.testing.assert_close(twice(x), net(x), rtol=0, atol=0)
    twice(x).sum().backward()
    reference = [p.grad.clone() for p in net.parameters() if p.grad is not None]
    assert len(reference) == len(list(net.parameters()))
    net.zero_grad()
    net(x).sum().backward()
    for got, parameter in zip(reference, net.parameters(), strict=True):
        torch.testing.assert_close(got, parameter.grad)


class _Annotated(nn.Module):
    """Non-tensor state of every kind beside a shared submodule and a hook."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU())
        self.shared = self.body[0]
        self.attention = nn.MultiheadAttention(4, 2)
        self.rnn = nn.LSTM(2, 2)
        self.settings = {"scale": [1.0, 2.0], "name": "annotated"}
        self.log: list[str] = []
        self.alias = self.log  # one empty container under two names
        self.shape = (2, 3.0, "x", None)  # deepcopy returns tuples of atoms themselves
        self.nested = ((1, 2), 3)
        self.mixed = ([1.0], 2)  # a tuple holding a list is copied
        self.register_buffer("steps", torch.tensor(3))
        self.register_forward_hook(lambda module, inputs, output: None)


def test_clone_is_deepcopy_with_cloned_tensors() -> None:
    """The clone's tree walk (a fast path for plain modules) builds what ``deepcopy`` builds."""
    torch.manual_seed(8)
    net = _Annotated()
    clone, deep = clone_module(net), copy.deepcopy(net)
    assert [type(m) for m in clone.modules()] == [type(m) for m in deep.modules()]
    assert clone.shared is clone.body[0]
    assert clone.shared is not net.shared
    assert clone.settings == deep.settings
    assert clone.settings is not net.settings
    assert clone.alias is clone.log
    assert clone.log is not net.log
    assert len(clone._forward_hooks) == len(net._forward_hooks) == 1
    for (name, got), (_, want) in zip(
        clone.state_dict(keep_vars=True).items(),
        net.state_dict(keep_vars=True).items(),
        strict=True,
    ):
        assert got is not want, name
        assert (got.grad_fn is not None) == want.requires_grad, name
        torch.testing.assert_close(got, want, rtol=0, atol=0)
    for got_module, want_module, original in zip(
        clone.modules(), deep.modules(), net.modules(), strict=True
    ):
        assert list(vars(got_module)) == list(vars(want_module))  # deepcopy's keys and order
        for key, value in vars(want_module).items():
            if key not in ("_parameters", "_buffers", "_modules") and not callable(value):
                kept = vars(got_module)[key] is vars(original)[key]
                assert kept == (value is vars(original)[key]), key  # shared as deepcopy shares
    assert clone.mixed == net.mixed
    assert clone.mixed[0] is not net.mixed[0]
    assert clone.rnn._flat_weights[0] is clone.rnn.weight_ih_l0


def test_clone_rejects_non_module() -> None:
    with pytest.raises(
        TypeError, match=r"clone_module: module must be a torch.nn.Module, got Tensor"
    ):
        clone_module(torch.ones(2))  # type: ignore[type-var]  # deliberately wrong input


# ------------------------------------------------------------------ detach_module


def test_detach_seed_example(device: torch.device) -> None:
    net = seed_net(device)
    clone = clone_module(net)
    detach_module(clone, keep_requires_grad=True)
    x, y = torch.randn(5, 20, device=device), torch.randint(0, 2, (5,), device=device)
    error = nn.CrossEntropyLoss()(clone(x), y)
    error.backward()
    for original, copied in zip(net.parameters(), clone.parameters(), strict=True):
        assert original.grad is None
        assert copied.is_leaf
        assert copied.grad is not None


def test_detach_keeps_ties_and_leaves_and_flag() -> None:
    net = TrueTied()
    detach_module(net, keep_requires_grad=True)  # all leaves: nothing changes
    assert net.first.weight is net.second.weight
    assert isinstance(net.first.weight, nn.Parameter)
    clone = clone_module(net)
    detach_module(clone, keep_requires_grad=False)
    assert clone.first.weight is clone.second.weight
    assert all(p.is_leaf and not p.requires_grad for p in clone.parameters())
    # Storage is shared with the pre-detach clone values: values unchanged.
    torch.testing.assert_close(clone.first.weight, net.first.weight, rtol=0, atol=0)


@pytest.mark.filterwarnings(RNN_CHUNK_WARNING)
def test_detach_recurrent_module_uses_detached_weights() -> None:
    net = nn.LSTM(2, 3)
    clone = clone_module(net)
    detach_module(clone, keep_requires_grad=True)
    clone(torch.randn(4, 1, 2))[0].sum().backward()
    assert all(p.grad is None for p in net.parameters())
    assert all(p.grad is not None for p in clone.parameters())


def test_detach_defaults_to_learn2learn_semantics() -> None:
    # learn2learn's detach_module(module, keep_requires_grad=False): by default nothing
    # requires grad afterwards, leaves included (they stay the same objects).
    net = seed_net(torch.device("cpu"))
    frozen = net[2].bias
    frozen.requires_grad_(False)
    leaves = list(net.parameters())
    detach_module(net, keep_requires_grad=True)
    assert [p.requires_grad for p in net.parameters()] == [True, True, True, False]
    detach_module(net)
    assert all(p is q for p, q in zip(net.parameters(), leaves, strict=True))
    assert not any(p.requires_grad for p in net.parameters())
    with pytest.raises(RuntimeError, match="does not require grad"):
        net(torch.randn(3, 20)).sum().backward()
    clone = clone_module(seed_net(torch.device("cpu")))
    detach_module(clone)
    assert all(p.is_leaf and not p.requires_grad for p in clone.parameters())


def test_detach_rejects_non_module() -> None:
    with pytest.raises(
        TypeError, match=r"detach_module: module must be a torch.nn.Module, got int"
    ):
        detach_module(3)  # type: ignore[arg-type]  # deliberately wrong input


# ------------------------------------------------------------------ update_module


def maml_by_modules(
    net: nn.Module, x: torch.Tensor, y: torch.Tensor, lr: float, steps: int
) -> torch.Tensor:
    learner = clone_module(net)
    for _ in range(steps):
        error = nn.functional.mse_loss(learner(x), y)
        grads = torch.autograd.grad(error, list(learner.parameters()), create_graph=True)
        update_module(learner, updates=[-lr * g for g in grads])
    return nn.functional.mse_loss(learner(x), y)


@pytest.mark.parametrize("steps", [1, 3])
def test_update_module_meta_gradient_matches_functional_adapt(
    steps: int, device: torch.device
) -> None:
    torch.manual_seed(5)
    net = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1)).to(device, torch.float64)
    x = torch.randn(6, 2, device=device, dtype=torch.float64)
    y = torch.randn(6, 1, device=device, dtype=torch.float64)
    params = named_params(net)

    def support_loss(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.mse_loss(functional_forward(net, p, x), y)

    adapted = adapt(net, params, support_loss, lr=0.3, inner_steps=steps)
    functional_grads = torch.autograd.grad(support_loss(adapted), list(params.values()))
    module_grads = torch.autograd.grad(
        maml_by_modules(net, x, y, 0.3, steps), list(net.parameters())
    )
    # Same operations in the same order; only reduction order may differ: float64, 1e-12.
    for expected, got in zip(functional_grads, module_grads, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_update_module_seed_example_and_none_entries() -> None:
    torch.manual_seed(6)
    model = clone_module(nn.Linear(3, 2))
    x, y = torch.randn(4, 3), torch.randn(4, 2)
    error = nn.functional.mse_loss(model(x), y)
    grads = torch.autograd.grad(error, list(model.parameters()), create_graph=True)
    old_weight, old_bias = model.weight, model.bias
    updates = [-0.1 * grads[0], None]
    assert update_module(model, updates=updates) is model
    torch.testing.assert_close(model.weight, old_weight - 0.1 * grads[0])
    assert model.bias is old_bias
    assert model.weight.grad_fn is not None


def test_update_module_uses_update_attributes_for_params_and_buffers() -> None:
    net = nn.BatchNorm1d(2)
    net.weight.update = torch.full((2,), 0.5)  # type: ignore[attr-defined]  # l2l protocol
    running_mean = net.running_mean
    assert running_mean is not None
    running_mean.update = torch.ones(2)  # type: ignore[attr-defined]  # l2l protocol
    bias = net.bias
    update_module(net)
    torch.testing.assert_close(net.weight, torch.full((2,), 1.5))
    torch.testing.assert_close(net.running_mean, torch.ones(2))
    assert net.bias is bias


def test_update_module_keeps_ties_and_memo_shares_between_modules() -> None:
    net = TrueTied()
    updates = [torch.ones_like(p) for p in net.parameters()]
    update_module(net, updates)
    assert net.first.weight is net.second.weight
    assert not net.first.weight.is_leaf

    shared = nn.Linear(2, 2)
    first, second = nn.Sequential(shared), nn.Sequential(nn.Linear(2, 2))
    second[0].weight = shared.weight
    memo: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    update_module(first, [torch.ones(2, 2), None], memo)
    update_module(second, [torch.ones(2, 2), None], memo)
    assert first[0].weight is second[0].weight


def test_update_module_updates_every_slot_of_a_shared_buffer_and_fails_cleanly() -> None:
    first, second = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    second.running_mean = first.running_mean  # one buffer held in two slots
    shared = first.running_mean
    assert isinstance(shared, torch.Tensor)
    shared.update = torch.ones(2)  # type: ignore[attr-defined]  # l2l protocol
    update_module(nn.Sequential(first, second))
    assert first.running_mean is second.running_mean
    torch.testing.assert_close(second.running_mean, torch.ones(2))

    linear = nn.Linear(3, 2)
    weight, bias = linear.weight, linear.bias
    memo: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    with pytest.raises(ValueError, match=r"update for 'bias' has shape \(3,\)"):
        update_module(linear, [torch.ones(2, 3), torch.zeros(3)], memo)
    assert linear.weight is weight
    assert linear.bias is bias
    assert memo == {}


def test_update_module_bad_inputs() -> None:
    net = nn.Linear(3, 2)
    with pytest.raises(ValueError, match=r"got 1 updates for the 2 parameters of Linear"):
        update_module(net, [torch.zeros(2, 3)])
    with pytest.raises(
        ValueError,
        match=r"update for 'bias' has shape \(3,\); expected the parameter's shape \(2,\)",
    ):
        update_module(net, [torch.zeros(2, 3), torch.zeros(3)])
    with pytest.raises(TypeError, match=r"update for .weight. must be a torch.Tensor or None, got"):
        update_module(net, [1.0, None])  # type: ignore[list-item]  # deliberately wrong input
    with pytest.raises(TypeError, match=r"got a single tensor"):
        update_module(net, torch.zeros(2, 3))
    with pytest.raises(
        TypeError, match=r"update_module: module must be a torch.nn.Module, got list"
    ):
        update_module([], None)  # type: ignore[type-var]  # deliberately wrong input
    net.weight.update = torch.zeros(3, 3)  # type: ignore[attr-defined]  # l2l protocol
    with pytest.raises(ValueError, match=r"update for 'weight' has shape \(3, 3\)"):
        update_module(net)


# ------------------------------------------------------------------ descend_module


def test_descend_module_equals_update_module_with_minus_lr_times_gradient(
    device: torch.device,
) -> None:
    torch.manual_seed(5)
    net = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)).to(device, torch.float64)
    x, query_x = (torch.randn(6, 2, device=device, dtype=torch.float64) for _ in range(2))
    y, query_y = (torch.randn(6, 1, device=device, dtype=torch.float64) for _ in range(2))
    descended, updated = clone_module(net), clone_module(net)
    grads = torch.autograd.grad(
        nn.functional.mse_loss(descended(x), y), list(descended.parameters()), create_graph=True
    )
    assert descend_module(descended, grads, 0.4) is descended
    update_module(updated, [-0.4 * g for g in grads])
    # p - lr * g against p + (-lr * g): the same value in float64 up to rounding: 1e-12.
    for p, q in zip(descended.parameters(), updated.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-12, atol=1e-12)
    meta_descended = torch.autograd.grad(
        nn.functional.mse_loss(descended(query_x), query_y),
        list(net.parameters()),
        retain_graph=True,  # both learners share the inner gradients' graph
    )
    meta_updated = torch.autograd.grad(
        nn.functional.mse_loss(updated(query_x), query_y), list(net.parameters())
    )
    for got, expected in zip(meta_descended, meta_updated, strict=True):
        torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)


def test_descend_module_none_gradients_and_per_element_rates() -> None:
    net = clone_module(nn.Linear(2, 1).to(torch.float64))
    weight, bias = net.weight, net.bias
    rates = {"weight": torch.tensor([[0.5, 2.0]], dtype=torch.float64)}
    descend_module(net, [torch.ones(1, 2, dtype=torch.float64), None], rates)
    assert net.bias is bias  # a None gradient leaves the tensor itself in place
    torch.testing.assert_close(net.weight, weight - rates["weight"], rtol=0, atol=0)


def test_descend_module_keeps_tied_weights_tied() -> None:
    torch.manual_seed(6)
    net = clone_module(TrueTied().to(torch.float64))
    assert net.second.weight is net.first.weight
    params = list(net.parameters())  # the tied weight appears once
    assert len(params) == 3
    grads = torch.autograd.grad(net(torch.randn(4, 3, dtype=torch.float64)).pow(2).mean(), params)
    old_weight = net.first.weight
    descend_module(net, grads, 0.1)
    assert net.second.weight is net.first.weight
    torch.testing.assert_close(net.first.weight, old_weight - 0.1 * grads[0], rtol=0, atol=0)


def test_descend_module_bad_inputs() -> None:
    net = nn.Linear(3, 2)
    with pytest.raises(
        ValueError, match=r"descend_module got 1 gradients for the 2 parameters of Linear"
    ):
        descend_module(net, [torch.zeros(2, 3)], 0.1)
    with pytest.raises(
        TypeError, match=r"one tensor \(or None\) per parameter, got a single tensor"
    ):
        descend_module(net, torch.zeros(2, 3), 0.1)  # type: ignore[arg-type]  # on purpose
    with pytest.raises(ValueError, match=r"update for 'weight' has shape \(3, 2\)"):
        descend_module(net, [torch.zeros(3, 2), torch.zeros(2)], 0.1)
    with pytest.raises(
        TypeError, match=r"update for 'bias' must be a torch.Tensor or None, got float"
    ):
        descend_module(net, [torch.zeros(2, 3), 0.5], 0.1)  # type: ignore[list-item]  # on purpose
    with pytest.raises(
        TypeError, match=r"descend_module: module must be a torch.nn.Module, got list"
    ):
        descend_module([torch.zeros(1)], [torch.zeros(1)], 0.1)  # type: ignore[type-var]  # on purpose


# ------------------------------------------------------------------ the module walk


class _OwnWalk(nn.Sequential):
    """A container that hides its second child from ``named_modules``."""

    def named_modules(self, *args: Any, **kwargs: Any) -> Iterator[tuple[str, nn.Module]]:
        for name, module in super().named_modules(*args, **kwargs):
            if not name.endswith("1"):
                yield name, module


@pytest.mark.parametrize(
    "build",
    [
        lambda: _Annotated(),  # a shared submodule (walked once), an LSTM, attention
        lambda: TrueTied(),  # a None submodule
        lambda: nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.ReLU(), nn.Linear(2, 1))),
        lambda: nn.Sequential(nn.Linear(2, 2), _OwnWalk(nn.ReLU(), nn.Linear(2, 2))),
    ],
)
def test_the_module_walk_is_named_modules(build: Callable[[], nn.Module]) -> None:
    # the one walk of every step: named_modules' modules, names and order, overrides included
    from meta_functional._modules import _named_modules

    net = build()
    assert [(name, id(m)) for name, m in _named_modules(net)] == [
        (name, id(m)) for name, m in net.named_modules()
    ]


# ------------------------------------------------------------------ inner_step_module


def _mlp64(device: torch.device) -> nn.Sequential:
    torch.manual_seed(7)
    return nn.Sequential(nn.Linear(2, 5), nn.Tanh(), nn.Linear(5, 1)).to(device, torch.float64)


def _regression(device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(6, 2, generator=generator, dtype=torch.float64)
    return x.to(device), torch.sin(x.sum(1, keepdim=True)).to(device)


def _reference_query_loss(
    net: nn.Module, params: dict[str, torch.Tensor], lr: float, *, first_order: bool
) -> torch.Tensor:
    """Two steps and a query loss written with torch.func.functional_call: the reference."""
    x, y = _regression(params["0.weight"].device, 1)
    query_x, query_y = _regression(params["0.weight"].device, 2)
    fast = params
    for _ in range(2):
        support = nn.functional.mse_loss(torch.func.functional_call(net, fast, (x,)), y)
        grads = torch.autograd.grad(support, list(fast.values()), create_graph=not first_order)
        fast = {name: p - lr * g for (name, p), g in zip(fast.items(), grads, strict=True)}
    return nn.functional.mse_loss(torch.func.functional_call(net, fast, (query_x,)), query_y)


def _query_loss(net: nn.Module, lr: float, *, first_order: bool) -> torch.Tensor:
    x, y = _regression(next(net.parameters()).device, 1)
    query_x, query_y = _regression(next(net.parameters()).device, 2)
    learner = clone_module(net)
    for _ in range(2):
        support = nn.functional.mse_loss(learner(x), y)
        assert inner_step_module(learner, support, lr, first_order=first_order) is learner
    return nn.functional.mse_loss(learner(query_x), query_y)


@pytest.mark.parametrize("first_order", [False, True])
def test_inner_step_module_meta_gradient_equals_the_torch_func_reference(
    device: torch.device, first_order: bool
) -> None:
    net = _mlp64(device)
    params: dict[str, torch.Tensor] = dict(net.named_parameters())
    expected = torch.autograd.grad(
        _reference_query_loss(net, params, 0.3, first_order=first_order), list(params.values())
    )
    got = torch.autograd.grad(_query_loss(net, 0.3, first_order=first_order), list(params.values()))
    # the same arithmetic in float64, p - lr * g against p + (-lr) * g: 1e-12
    for g, e in zip(got, expected, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-12, atol=1e-12)
    if first_order:  # the first-order meta-gradient differs from the full one
        full = torch.autograd.grad(_query_loss(net, 0.3, first_order=False), list(params.values()))
        assert not torch.allclose(full[0], got[0], rtol=1e-6, atol=1e-9)


def test_inner_step_module_meta_gradient_passes_gradcheck() -> None:
    net = _mlp64(torch.device("cpu"))
    names = [name for name, _ in net.named_parameters()]

    def query_loss(*values: torch.Tensor) -> torch.Tensor:
        holder = copy.deepcopy(net)
        for name, value in zip(names, values, strict=True):
            module_name, _, attribute = name.rpartition(".")
            holder.get_submodule(module_name)._parameters[attribute] = value  # type: ignore[assignment]  # non-leaf slot on purpose
        return _query_loss(holder, 0.3, first_order=False)

    inputs = tuple(p.detach().clone().requires_grad_(True) for p in net.parameters())
    assert torch.autograd.gradcheck(query_loss, inputs)


def test_inner_step_module_frozen_and_unused_parameters() -> None:
    class Partly(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.frozen = nn.Linear(2, 2).requires_grad_(False)
            self.head = nn.Linear(2, 1)
            self.unused = nn.Parameter(torch.ones(3))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.frozen(x))

    net = clone_module(Partly())
    x = torch.ones(4, 2)
    with pytest.raises(ValueError, match=r"parameters \['frozen.bias', 'frozen.weight'\] do not"):
        inner_step_module(net, net(x).sum(), 0.1, allow_unused=True)
    with pytest.raises(ValueError, match=r"does not depend on adapted parameters \['unused'\]"):
        inner_step_module(net, net(x).sum(), 0.1, allow_nograd=True)
    frozen, unused, head = net.frozen.weight, net.unused, net.head.weight
    inner_step_module(net, net(x).sum(), 0.1, allow_nograd=True, allow_unused=True)
    assert net.frozen.weight is frozen  # left in place
    assert net.unused is unused
    torch.testing.assert_close(net.head.weight, head - 0.1 * net.frozen(x).sum(0, keepdim=True))


def test_inner_step_module_keeps_tied_weights_tied_and_retains_the_graph_on_request() -> None:
    torch.manual_seed(8)
    net = clone_module(TrueTied().to(torch.float64))
    loss = net(torch.randn(4, 3, dtype=torch.float64)).pow(2).mean()
    grads = torch.autograd.grad(loss, list(net.parameters()), retain_graph=True)
    old_weight = net.first.weight
    inner_step_module(net, loss, 0.1, first_order=True, retain_graph=True)
    assert net.second.weight is net.first.weight
    torch.testing.assert_close(net.first.weight, old_weight - 0.1 * grads[0], rtol=0, atol=0)
    loss.backward()  # the graph was retained although the step was first order
    fresh = net(torch.ones(1, 3, dtype=torch.float64)).sum()
    inner_step_module(net, fresh, 0.1, first_order=True)  # frees the graph: nothing to retain
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        fresh.backward()


def test_inner_step_module_bad_inputs() -> None:
    net = nn.Linear(3, 2)
    with pytest.raises(
        TypeError, match=r"inner_step_module: loss must be a torch.Tensor, got float"
    ):
        inner_step_module(net, 1.0, 0.1)  # type: ignore[arg-type]  # on purpose
    with pytest.raises(ValueError, match=r"inner_step_module: loss must be a scalar"):
        inner_step_module(net, net(torch.ones(2, 3)), 0.1)
    with pytest.raises(ValueError, match=r"inner_step_module: loss does not require grad"):
        inner_step_module(net, torch.zeros(()), 0.1)
    with pytest.raises(
        TypeError, match=r"inner_step_module: module must be a torch.nn.Module, got list"
    ):
        inner_step_module([torch.zeros(1)], torch.zeros(()), 0.1)  # type: ignore[type-var]  # on purpose
    weight = net.weight
    with pytest.raises(ValueError, match=r"a tensor learning rate must be a scalar"):
        inner_step_module(net, net(torch.ones(2, 3)).sum(), torch.ones(2))
    assert net.weight is weight  # a failed step leaves the module as it was


# ------------------------------------------------------------------ magic_box


def test_magic_box_value_and_derivatives(device: torch.device) -> None:
    x = torch.tensor([-0.5, -1.0, 2.0], device=device, dtype=torch.float64, requires_grad=True)
    box = magic_box(x)
    torch.testing.assert_close(box, torch.ones_like(x), rtol=0, atol=0)
    (first,) = torch.autograd.grad(box.sum(), x, create_graph=True)
    torch.testing.assert_close(first, torch.ones_like(x), rtol=0, atol=0)
    (second,) = torch.autograd.grad(first.sum(), x)
    torch.testing.assert_close(second, torch.ones_like(x), rtol=0, atol=0)


def test_magic_box_seed_example_is_score_function_estimator() -> None:
    logits = torch.tensor([0.2, -0.3, 0.1], dtype=torch.float64, requires_grad=True)
    actions = torch.tensor([0, 2, 2, 1])
    advantages = torch.tensor([1.0, -2.0, 0.5, 3.0], dtype=torch.float64)
    log_probs = torch.log_softmax(logits, 0)[actions]
    cum_log_probs = torch.cumsum(log_probs, 0)
    loss = (magic_box(cum_log_probs) * advantages).mean()
    torch.testing.assert_close(loss, advantages.mean())
    (grad,) = torch.autograd.grad(loss, logits, retain_graph=True)
    (expected,) = torch.autograd.grad((cum_log_probs * advantages).mean(), logits)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-12)


def test_magic_box_rejects_non_tensor() -> None:
    with pytest.raises(TypeError, match=r"magic_box expects a torch.Tensor, got float"):
        magic_box(1.0)  # type: ignore[arg-type]  # deliberately wrong input


def test_share_buffers_lets_the_clone_update_the_originals_running_statistics() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    norm = net[1]
    assert isinstance(norm, nn.BatchNorm1d)
    inputs = torch.randn(8, 3)
    copied = clone_module(net)
    copied(inputs)
    assert torch.equal(norm.running_mean, torch.zeros(4))  # copies: the original is untouched
    shared = clone_module(net, share_buffers=True)
    assert shared[1].running_mean is norm.running_mean
    assert shared[1].num_batches_tracked is norm.num_batches_tracked
    shared(inputs)
    torch.testing.assert_close(norm.running_mean, copied[1].running_mean, rtol=0, atol=0)
    assert int(norm.num_batches_tracked) == 1
    # parameters are still differentiable clones
    assert shared[0].weight is not net[0].weight
    assert shared[0].weight.grad_fn is not None


def test_share_buffers_still_clones_buffers_that_require_grad() -> None:
    module = nn.Module()
    module.register_buffer("learned", torch.ones(2, requires_grad=True))
    module.register_buffer("statistic", torch.zeros(2))
    clone = clone_module(module, share_buffers=True)
    assert clone.statistic is module.statistic
    assert clone.learned is not module.learned
    assert clone.learned.grad_fn is not None
