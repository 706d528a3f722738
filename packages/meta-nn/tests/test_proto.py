"""Tests of ProtoModule."""

from __future__ import annotations

import copy
import re

import pytest
import torch
from meta_functional import functional_forward, named_params
from meta_nn import ProtoModule
from torch import nn

F64 = torch.float64


def make_proto(device: torch.device) -> ProtoModule:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 2))
    return ProtoModule(net.to(device, F64))


def test_names_forward_and_state_dict(device: torch.device) -> None:
    proto = make_proto(device)
    names = ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"]
    assert list(named_params(proto)) == names
    assert [name for name, _ in proto.named_parameters(prefix="m")] == [f"m.{n}" for n in names]
    assert [name for name, _ in proto.named_buffers()][:1] == ["1.running_mean"]
    assert next(iter(proto.state_dict())).startswith("module.")
    proto.eval()
    x = torch.randn(5, 3, device=device, dtype=F64)
    torch.testing.assert_close(proto(x), proto.module(x), rtol=0, atol=0)


def test_functional_with_mapping_and_list_is_differentiable(device: torch.device) -> None:
    proto = make_proto(device)
    proto.eval()
    x = torch.randn(5, 3, device=device, dtype=F64)
    shifted = {name: p + 0.5 for name, p in named_params(proto).items()}
    expected = functional_forward(proto.module, shifted, x)
    torch.testing.assert_close(proto.functional(shifted)(x), expected, rtol=0, atol=0)
    from_list = proto.functional(list(shifted.values()))
    torch.testing.assert_close(from_list(x), expected, rtol=0, atol=0)
    # MetaNN's example: the module's own parameters as an iterable.
    torch.testing.assert_close(proto.functional(proto.parameters())(x), proto(x), rtol=0, atol=0)
    grads = torch.autograd.grad(from_list(x).sum(), list(proto.parameters()))
    reference = copy.deepcopy(proto.module)
    with torch.no_grad():
        for parameter, value in zip(reference.parameters(), shifted.values(), strict=True):
            parameter.copy_(value)
    expected_grads = torch.autograd.grad(reference(x).sum(), list(reference.parameters()))
    for grad, want in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, want, rtol=1e-12, atol=1e-12)


def test_functional_training_flag_is_temporary(device: torch.device) -> None:
    proto = make_proto(device)
    proto.module.train()
    proto.module[2].eval()  # a mixed state that must come back exactly
    modes = [m.training for m in proto.module.modules()]
    x = torch.randn(6, 3, device=device, dtype=F64)
    params = named_params(proto)
    eval_fn = proto.functional(params, training=False)
    first, second = eval_fn(x), eval_fn(x)
    torch.testing.assert_close(first, second, rtol=0, atol=0)  # no dropout, running stats
    assert [m.training for m in proto.module.modules()] == modes
    proto.module.eval()
    torch.testing.assert_close(proto(x), first, rtol=0, atol=0)
    train_fn = proto.functional(params, training=True)
    running_mean = proto.module[1].running_mean.clone()
    train_fn(x)
    assert not torch.equal(proto.module[1].running_mean, running_mean)
    assert not any(m.training for m in proto.module.modules())


def test_functional_bad_inputs() -> None:
    proto = ProtoModule(nn.Linear(2, 1))
    with pytest.raises(ValueError, match=r"got 1 tensors for the 2 parameters of Linear"):
        proto.functional([torch.ones(1, 2)])
    with pytest.raises(KeyError, match=re.escape("missing ['bias']")):
        proto.functional({"weight": torch.ones(1, 2)})
    with pytest.raises(
        ValueError, match=re.escape("parameter 'weight' has shape (2, 1); expected (1, 2)")
    ):
        proto.functional({"weight": torch.ones(2, 1), "bias": torch.ones(1)})
    with pytest.raises(TypeError, match=r"parameter 'bias' must be a torch.Tensor"):
        proto.functional([torch.ones(1, 2), 0.0])  # type: ignore[list-item]  # wrong on purpose
    with pytest.raises(TypeError, match=r"training must be True, False or None, got 'yes'"):
        proto.functional(proto.parameters(), training="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"ProtoModule wraps a torch.nn.Module, got function"):
        ProtoModule(lambda x: x)  # type: ignore[arg-type]  # wrong on purpose
