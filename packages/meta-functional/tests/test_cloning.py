"""clone_parameters, clone_named_parameters, clone_distribution and detach_distribution."""

from __future__ import annotations

import torch
from meta_functional import (
    clone_distribution,
    clone_named_parameters,
    clone_parameters,
    detach_distribution,
)
from torch.distributions import Categorical, Normal, TransformedDistribution
from torch.distributions.transforms import ExpTransform

F64 = torch.float64


def test_clone_parameters_are_new_tensors_that_pass_gradients_back():
    weight = torch.tensor([1.0, 2.0], dtype=F64, requires_grad=True)
    (clone,) = clone_parameters([weight])
    assert clone is not weight
    assert clone.data_ptr() != weight.data_ptr()
    (clone * torch.tensor([3.0, 4.0], dtype=F64)).sum().backward()
    torch.testing.assert_close(weight.grad, torch.tensor([3.0, 4.0], dtype=F64))


def test_clone_named_parameters_keeps_names_and_order():
    params = {"b": torch.ones(1, requires_grad=True), "a": torch.zeros(2, requires_grad=True)}
    clones = clone_named_parameters(params)
    assert list(clones) == ["b", "a"]
    assert all(clones[name] is not params[name] for name in params)
    assert all(torch.equal(clones[name], params[name]) for name in params)


def test_clone_distribution_of_network_output_keeps_the_graph():
    loc = torch.tensor([0.5, -1.0], dtype=F64, requires_grad=True)
    scale = torch.tensor([2.0, 1.0], dtype=F64)
    normal = Normal(3 * loc, scale)  # a non-leaf loc, which copy.deepcopy refuses
    clone = clone_distribution(normal)
    assert clone.loc is not normal.loc
    value = torch.tensor([1.0, 0.0], dtype=F64)
    clone.log_prob(value).sum().backward()
    # d/d loc of log N(v; 3 loc, s) = 3 (v - 3 loc) / s^2
    expected = 3 * (value - 3 * loc.detach()) / scale**2
    torch.testing.assert_close(loc.grad, expected)


def test_clone_distribution_copies_tensors_without_grad_and_nested_distributions():
    logits = torch.tensor([0.0, 1.0], dtype=F64, requires_grad=True)
    base = Normal(logits, torch.ones(2, dtype=F64))
    transformed = TransformedDistribution(base, [ExpTransform()])
    clone = clone_distribution(transformed)
    assert clone.base_dist is not base
    assert clone.base_dist.scale is not base.scale
    clone.base_dist.loc.sum().backward()
    torch.testing.assert_close(logits.grad, torch.ones(2, dtype=F64))


def test_detach_distribution_in_place():
    logits = torch.tensor([0.0, 1.0], dtype=F64, requires_grad=True)
    categorical = Categorical(logits=2 * logits)
    assert detach_distribution(categorical) is categorical
    assert not categorical.logits.requires_grad
    log_normaliser = torch.log1p(torch.exp(torch.tensor(2.0, dtype=F64)))
    expected = torch.tensor([0.0, 2.0], dtype=F64) - log_normaliser
    torch.testing.assert_close(categorical.logits, expected)


def test_detach_distribution_detaches_nested_modules_and_distributions():
    loc = torch.zeros(2, requires_grad=True)
    inner = Normal(loc * 2, torch.ones(2))
    outer = TransformedDistribution(inner, [ExpTransform()])
    outer.net = torch.nn.Linear(1, 1)  # learn2learn's protocol also walks module attributes
    detach_distribution(outer)
    assert not inner.loc.requires_grad
    assert outer.net.weight.requires_grad is False
