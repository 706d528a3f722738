"""Tests of DependentModule (MetaNN semantics as documented in meta_nn)."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from meta_functional import adapt, clone_module, functional_forward, named_params
from meta_nn import DependentModule
from torch import Tensor, nn

F64 = torch.float64


def seed_net() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(10, 5), nn.Linear(5, 2))


def test_seed_example_converts_in_place_with_documented_repr() -> None:
    net = seed_net()
    converted = DependentModule(net)
    assert converted is net
    assert repr(net) == (
        "DependentSequential(\n"
        "  (0): DependentLinear(in_features=10, out_features=5, bias=True)\n"
        "  (1): DependentLinear(in_features=5, out_features=2, bias=True)\n"
        ")"
    )
    assert isinstance(net, DependentModule)
    assert isinstance(net, nn.Sequential)
    assert isinstance(net[0], nn.Linear)
    assert type(net[0]) is type(net[1])
    # Conversion alone keeps the parameters; nothing is a dependent yet.
    assert len(list(net.parameters())) == 4
    assert list(net.named_dependents()) == []


def test_register_dependent_seed_example(device: torch.device) -> None:
    dnet = DependentModule(seed_net().to(device))
    value = torch.randn(3, 3, device=device)
    dnet.register_dependent("some_tensor", value)
    assert dnet.some_tensor is value
    assert list(dnet.named_dependents()) == [("some_tensor", value)]
    assert "some_tensor" not in dnet.state_dict()


def test_clear_params_without_init_leaves_unset_dependents_that_raise_when_used() -> None:
    net = DependentModule(seed_net()).clear_params()
    assert list(net.parameters()) == []
    assert [name for name, _ in net.named_dependents()] == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
    ]
    assert all(value is None for value in net.dependents())
    with pytest.raises(
        ValueError,
        match=re.escape("DependentLinear was called while its dependents ['bias', 'weight'] are")
        + ".*substitute",
    ):
        net(torch.ones(1, 10))


def test_clear_params_with_init_keeps_output_and_routes_gradients_to_the_parameters(
    device: torch.device,
) -> None:
    net = seed_net().to(device)
    original = list(net.parameters())
    x = torch.randn(4, 10, device=device)
    before = net(x).detach()
    DependentModule(net).clear_params(init=True)
    assert list(net.parameters()) == []
    assert all(a is b for a, b in zip(net.dependents(), original, strict=True))
    torch.testing.assert_close(net(x), before, rtol=0, atol=0)
    net(x).sum().backward()
    assert all(p.grad is not None for p in original)


def test_substitute_graph_flows_to_the_substituted_tensors(device: torch.device) -> None:
    net = DependentModule.stateless(seed_net().to(device, F64))
    torch.manual_seed(1)
    sources = {
        name: torch.randn(shape, device=device, dtype=F64, requires_grad=True)
        for name, shape in [("0.weight", (5, 10)), ("0.bias", (5,)), ("1.weight", (2, 5))]
    }
    sources["1.bias"] = torch.randn(2, device=device, dtype=F64, requires_grad=True)
    weights = {name: 2 * tensor for name, tensor in sources.items()}  # non-leaf
    net.substitute(weights)
    assert net[0].weight is weights["0.weight"]
    x = torch.randn(3, 10, device=device, dtype=F64)
    out = net(x)
    reference_net = seed_net().to(device, F64)
    torch.testing.assert_close(out, functional_forward(reference_net, weights, x))
    grads = torch.autograd.grad(out.pow(2).sum(), list(sources.values()), retain_graph=True)
    expected = torch.autograd.grad(
        functional_forward(reference_net, weights, x).pow(2).sum(), list(sources.values())
    )
    for grad, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(grad, want, rtol=1e-12, atol=1e-12)


def test_maml_through_dependents_matches_functional_adapt(device: torch.device) -> None:
    torch.manual_seed(2)
    net = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(6, 1)).to(device, F64)
    x, y = torch.randn(8, 2, device=device, dtype=F64), torch.randn(8, 1, device=device, dtype=F64)
    params = named_params(net)

    def support_loss(p: dict[str, Tensor]) -> Tensor:
        return ((functional_forward(net, p, x) - y) ** 2).mean()

    adapted = adapt(net, params, support_loss, lr=0.3, inner_steps=2)
    expected = torch.autograd.grad(support_loss(adapted), list(params.values()))

    dependent = DependentModule(copy.deepcopy(net)).clear_params(init=True)
    start = dict(dependent.named_dependents())
    fast = dict(start)
    for _ in range(2):
        dependent.substitute(fast)
        loss = ((dependent(x) - y) ** 2).mean()
        grads = torch.autograd.grad(loss, list(fast.values()), create_graph=True)
        fast = {name: p - 0.3 * g for (name, p), g in zip(fast.items(), grads, strict=True)}
    dependent.substitute(fast)
    got = torch.autograd.grad(((dependent(x) - y) ** 2).mean(), list(start.values()))
    # Same operations as the functional path in float64: 1e-12.
    for grad, want in zip(got, expected, strict=True):
        torch.testing.assert_close(grad, want, rtol=1e-12, atol=1e-12)
    # The original net was left alone (deepcopy), as the DependentModule docs advise.
    assert len(list(net.parameters())) == 4


def test_substitute_strictness_and_messages() -> None:
    net = DependentModule.stateless(nn.Linear(2, 1))
    with pytest.raises(KeyError, match=re.escape("missing ['bias']")):
        net.substitute({"weight": torch.ones(1, 2)})
    with pytest.raises(KeyError, match=re.escape("not dependents ['scale']")):
        net.substitute({"weight": torch.ones(1, 2), "bias": torch.ones(1), "scale": torch.ones(1)})
    with pytest.raises(
        ValueError,
        match=re.escape("substitute got shape (2, 1) for dependent 'weight'; expected (1, 2)"),
    ):
        net.substitute({"weight": torch.ones(2, 1), "bias": torch.ones(1)})
    with pytest.raises(TypeError, match=r"substitute got float for dependent 'bias'"):
        net.substitute({"weight": torch.ones(1, 2), "bias": 1.0})
    # Nothing was half-applied by the failing calls.
    assert all(value is None for value in net.dependents())
    # strict=False ignores unknown names and keeps the unnamed dependents.
    net.substitute([("weight", torch.ones(1, 2)), ("scale", torch.ones(1))], strict=False)
    assert net.bias is None
    torch.testing.assert_close(net.weight, torch.ones(1, 2))


def test_substitute_from_list_order_and_count() -> None:
    net = DependentModule(seed_net()).clear_params(init=True)
    tensors = [torch.zeros_like(t) for t in net.dependents() if t is not None]
    net.substitute_from_list(tensors)
    assert all(a is b for a, b in zip(net.dependents(), tensors, strict=True))
    torch.testing.assert_close(net(torch.ones(1, 10)), torch.zeros(1, 2))
    with pytest.raises(
        ValueError, match=r"substitute_from_list got 3 tensors for the 4 dependents of"
    ):
        net.substitute_from_list(tensors[:3])


def test_clear_filter_to_dependentmodule_and_named_dependents_options() -> None:
    net = seed_net()
    DependentModule.to_dependentmodule(net, recurse=False)
    assert type(net).__name__ == "DependentSequential"
    assert type(net[0]) is nn.Linear
    net.clear_params(init=True, clear_filter=lambda module: module is net[1])
    assert [name for name, _ in net.named_parameters()] == ["0.weight", "0.bias"]
    assert type(net[1]).__name__ == "DependentLinear"  # converted on demand
    assert [name for name, _ in net.named_dependents(prefix="model")] == [
        "model.1.weight",
        "model.1.bias",
    ]
    assert list(net.named_dependents(recurse=False)) == []
    assert [name for name, _ in net[1].named_dependents(recurse=False)] == ["weight", "bias"]


def test_stateless_and_tied_and_buffers() -> None:
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(3, 3), nn.BatchNorm1d(3), nn.Linear(3, 3))
    net[2].weight = net[0].weight
    original = net
    net = DependentModule.stateless(original)
    # stateless works on a deep copy (as in MetaNN): the original stays an ordinary module
    assert type(original) is nn.Sequential
    assert len(list(original.parameters())) == 5
    assert original[1].running_mean is not net[1].running_mean
    # BatchNorm buffers stay ordinary buffers; the tied weight becomes two dependents.
    assert [name for name, _ in net.named_dependents()] == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "2.weight",
        "2.bias",
    ]
    assert "1.running_mean" in net.state_dict()
    shared = torch.randn(3, 3)
    values = {name: torch.randn(3) for name in ["0.bias", "1.weight", "1.bias", "2.bias"]}
    net.substitute({**values, "0.weight": shared, "2.weight": shared})
    net(torch.randn(5, 3))
    assert int(net[1].num_batches_tracked) == 1


def test_register_dependent_bad_inputs() -> None:
    dnet = DependentModule(nn.Linear(2, 2))
    with pytest.raises(KeyError, match=r"'weight' is already a parameter of DependentLinear"):
        dnet.register_dependent("weight", torch.ones(2, 2))
    with pytest.raises(KeyError, match=r"'in_features' is already an attribute of DependentLinear"):
        dnet.register_dependent("in_features", torch.ones(1))
    with pytest.raises(KeyError, match=r"must be non-empty and contain no '.', got 'a.b'"):
        dnet.register_dependent("a.b", torch.ones(1))
    with pytest.raises(
        TypeError, match=r"dependent 'scale' must be a torch.Tensor or None, got list"
    ):
        dnet.register_dependent("scale", [1.0])  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(TypeError, match=r"dependent name must be a string, got int"):
        dnet.register_dependent(3, None)  # type: ignore[arg-type]  # wrong on purpose


def test_update_shapes_and_update_actives() -> None:
    dnet = DependentModule(nn.Linear(2, 2))
    dnet.register_dependent("scale", None)
    dnet.scale = torch.ones(4)
    dnet.substitute({"scale": torch.ones(7)})  # unknown shape: anything goes
    dnet.update_shapes()
    with pytest.raises(
        ValueError, match=r"got shape \(4,\) for dependent 'scale'; expected \(7,\)"
    ):
        dnet.substitute({"scale": torch.ones(4)})
    # Assigning a Parameter turns the name back into a parameter; update_actives forgets it.
    dnet.scale = nn.Parameter(torch.ones(2))
    dnet.update_actives()
    assert list(dnet.named_dependents()) == []
    assert "scale" in dict(dnet.named_parameters())


def test_recurrent_dependent_module_matches_functional_forward() -> None:
    torch.manual_seed(4)
    lstm = nn.LSTM(2, 3, num_layers=2)
    reference = copy.deepcopy(lstm)
    DependentModule(lstm).clear_params(init=True)
    x = torch.randn(5, 1, 2)
    torch.testing.assert_close(lstm(x)[0], reference(x)[0], rtol=0, atol=0)
    shifted = {name: t + 0.05 for name, t in lstm.named_dependents() if t is not None}
    lstm.substitute(shifted)
    assert lstm._flat_weights[0] is shifted["weight_ih_l0"]
    torch.testing.assert_close(
        lstm(x)[0], functional_forward(reference, shifted, x)[0], rtol=1e-6, atol=1e-6
    )


class Scaled(DependentModule):
    """A hand-written dependent module with one dependent and one ordinary parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = nn.Parameter(torch.zeros(2))
        self.register_dependent("scale", torch.ones(2))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale + self.offset


def test_subclassing_deepcopy_and_constructor_errors() -> None:
    module = Scaled()
    assert type(module) is Scaled
    assert [name for name, _ in module.named_dependents()] == ["scale"]
    torch.testing.assert_close(module(torch.ones(2)), torch.ones(2))
    clone = copy.deepcopy(module)
    assert type(clone) is Scaled
    assert clone.scale is not module.scale
    dnet = copy.deepcopy(DependentModule(seed_net()).clear_params(init=True))
    assert type(dnet[0]).__name__ == "DependentLinear"
    assert len(list(dnet.named_dependents())) == 4
    with pytest.raises(TypeError, match=re.escape("expects exactly one torch.nn.Module")):
        DependentModule(1, 2)
    with pytest.raises(TypeError, match=r"to_dependentmodule expects a torch.nn.Module, got str"):
        DependentModule.to_dependentmodule("net")  # type: ignore[arg-type]  # wrong on purpose


def test_clone_module_of_a_dependent_module_reaches_the_dependents_sources() -> None:
    # Moved from meta-functional's test_modules (clone of clone and of a DependentModule).
    torch.manual_seed(7)
    x = torch.randn(4, 3)
    source = torch.ones(1, 3, requires_grad=True)
    dependent = DependentModule(nn.Linear(3, 1)).clear_params(init=True)
    dependent.substitute({"weight": 2 * source, "bias": torch.zeros(1)})
    copied = clone_module(dependent)
    assert type(copied).__name__ == "DependentLinear"
    copied(x).sum().backward()
    torch.testing.assert_close(source.grad, 2 * x.sum(0, keepdim=True))


def test_clear_params_without_init_unsets_every_dependent() -> None:
    # MetaNN's clear_params(init=False) "sets the values of dependents to None", including
    # dependents that already had values (and those of modules the filter leaves alone).
    net = DependentModule(seed_net()).clear_params(init=True)
    assert all(value is not None for value in net.dependents())
    net.clear_params(init=False, clear_filter=lambda module: False)
    assert [value for value in net.dependents()] == [None] * 4
    with pytest.raises(ValueError, match=r"substitute got shape \(1, 1\) for dependent"):
        net.substitute_from_list([torch.ones(1, 1)] * 4)  # the shapes are kept


@pytest.mark.parametrize("strict", [True, "one way", False])
def test_substitute_modes(strict: bool | str) -> None:
    net = DependentModule.stateless(nn.Linear(2, 1))
    values = {"weight": torch.ones(1, 2), "bias": torch.zeros(1)}
    net.substitute(values, strict=strict)
    assert net.weight is values["weight"]
    partial = {"weight": torch.full((1, 2), 2.0), "other": torch.ones(3)}
    bad_shape = {"weight": torch.ones(2, 2), "bias": torch.ones(1)}
    if strict is True:
        with pytest.raises(KeyError, match=re.escape("missing ['bias']; not dependents ['other']")):
            net.substitute(partial, strict=strict)
        with pytest.raises(ValueError, match=r"got shape \(2, 2\) for dependent 'weight'"):
            net.substitute(bad_shape, strict=strict)
        return
    net.substitute(partial, strict=strict)  # unknown names ignored, the others kept
    assert net.weight is partial["weight"]
    assert net.bias is values["bias"]
    if strict == "one way":
        with pytest.raises(ValueError, match=r"got shape \(2, 2\) for dependent 'weight'"):
            net.substitute(bad_shape, strict=strict)
        assert net.bias is values["bias"]  # nothing half-applied
    else:
        net.substitute(bad_shape, strict=strict)  # the misfit is skipped, the rest applied
        assert net.weight is partial["weight"]
        assert net.bias is bad_shape["bias"]


def test_substitute_rejects_an_unknown_mode() -> None:
    net = DependentModule.stateless(nn.Linear(2, 1))
    for strict in ("strict", 1, None):
        with pytest.raises(ValueError, match=r"strict must be True, False or 'one way'"):
            net.substitute({}, strict=strict)  # type: ignore[arg-type]  # wrong on purpose


def test_assigned_submodules_are_converted() -> None:
    dnet = DependentModule(nn.Sequential(nn.Linear(2, 2)))
    dnet.head = nn.Linear(2, 1)
    assert type(dnet.head).__name__ == "DependentLinear"
    dnet.head.register_dependent("scale", torch.ones(1))
    assert [name for name, _ in dnet.named_dependents()] == ["head.scale"]
    with pytest.raises(TypeError, match=r"stateless expects a torch.nn.Module, got str"):
        DependentModule.stateless("net")  # type: ignore[arg-type]  # wrong on purpose
