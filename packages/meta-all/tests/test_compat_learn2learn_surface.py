"""learn2learn names added for issue 17: functional updates, metalayers, utils, data, optim."""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import warnings

import meta_all.compat.learn2learn as l2l
import meta_nn
import meta_optim
import meta_tasks
import pytest
import torch

F64 = torch.float64


def _linear(weight: list[list[float]], bias: list[float]) -> torch.nn.Linear:
    linear = torch.nn.Linear(len(weight[0]), len(weight)).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor(weight, dtype=F64))
        linear.bias.copy_(torch.tensor(bias, dtype=F64))
    return linear


def test_maml_update_hand_computed_and_differentiable() -> None:
    model = _linear([[1.0, 2.0]], [0.5])
    learner = l2l.clone_module(model)
    x = torch.tensor([[1.0, -1.0]], dtype=F64)
    loss = learner(x).pow(2).sum()  # out = 1 - 2 + 0.5 = -0.5; dloss/dout = -1
    grads = torch.autograd.grad(loss, list(learner.parameters()), create_graph=True)
    assert l2l.algorithms.maml_update(learner, 0.1, grads) is learner
    torch.testing.assert_close(learner.weight, torch.tensor([[1.1, 1.9]], dtype=F64))
    torch.testing.assert_close(learner.bias, torch.tensor([0.6], dtype=F64))
    assert learner.weight.grad_fn is not None  # still connected to model
    learner.bias.sum().backward()
    assert model.bias.grad is not None


def test_maml_update_equals_maml_adapt() -> None:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    net = net.double()
    x, y = torch.randn(5, 3, dtype=F64), torch.randn(5, 1, dtype=F64)
    maml = l2l.algorithms.MAML(net, lr=0.3)
    adapted = maml.clone()
    adapted.adapt(torch.nn.functional.mse_loss(adapted(x), y))
    by_hand = l2l.clone_module(net)
    loss = torch.nn.functional.mse_loss(by_hand(x), y)
    grads = torch.autograd.grad(loss, list(by_hand.parameters()), create_graph=True)
    l2l.algorithms.maml_update(by_hand, 0.3, grads)
    for ours, theirs in zip(by_hand.parameters(), adapted.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)
    meta_adapted = torch.autograd.grad(adapted(x).sum(), list(net.parameters()))
    meta_by_hand = torch.autograd.grad(by_hand(x).sum(), list(net.parameters()))
    for ours, theirs in zip(meta_by_hand, meta_adapted, strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_maml_update_without_grads_applies_update_attributes() -> None:
    model = _linear([[1.0]], [2.0])
    model.weight.update = torch.tensor([[0.25]], dtype=F64)
    l2l.algorithms.maml_update(model, 0.1)  # learn2learn: lr is unused, .grad is ignored
    torch.testing.assert_close(model.weight, torch.tensor([[1.25]], dtype=F64))
    torch.testing.assert_close(model.bias, torch.tensor([2.0], dtype=F64))


def test_maml_update_refuses_a_gradient_list_of_the_wrong_length() -> None:
    model = _linear([[1.0]], [2.0])
    with pytest.raises(ValueError, match="got 1 gradients for the 2 parameters"):
        l2l.algorithms.maml_update(model, 0.1, [torch.ones(1, 1, dtype=F64)])


def test_meta_sgd_update_hand_computed_with_per_parameter_rates() -> None:
    model = _linear([[1.0, 2.0]], [0.5])
    rates = [torch.tensor([[0.1, 0.2]], dtype=F64), torch.tensor([0.5], dtype=F64)]
    grads = [torch.tensor([[1.0, 1.0]], dtype=F64), torch.tensor([2.0], dtype=F64)]
    assert l2l.algorithms.meta_sgd_update(model, rates, grads) is model
    torch.testing.assert_close(model.weight, torch.tensor([[0.9, 1.8]], dtype=F64))
    torch.testing.assert_close(model.bias, torch.tensor([-0.5], dtype=F64))


def test_meta_sgd_update_equals_meta_sgd_adapt() -> None:
    torch.manual_seed(1)
    net = torch.nn.Linear(3, 2).double()
    x = torch.randn(4, 3, dtype=F64)
    meta = l2l.algorithms.MetaSGD(net, lr=0.2)
    with torch.no_grad():
        for rate in meta.lrs:
            rate.uniform_(0.1, 0.9)
    adapted = meta.clone()
    adapted.adapt(adapted(x).pow(2).mean())
    by_hand = l2l.clone_module(net)
    loss = by_hand(x).pow(2).mean()
    grads = torch.autograd.grad(loss, list(by_hand.parameters()), create_graph=True)
    l2l.algorithms.meta_sgd_update(by_hand, list(meta.lrs), grads)
    # the MetaSGD learner also holds its rates; compare the model's parameters
    for ours, theirs in zip(by_hand.parameters(), adapted.module.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0)


def test_meta_sgd_update_attribute_protocol_steps_and_clears() -> None:
    model = _linear([[1.0]], [2.0])
    weight, bias = model.weight, model.bias
    weight.grad = torch.tensor([[4.0]], dtype=F64)
    weight._lr = 0.25
    l2l.algorithms.meta_sgd_update(model)
    torch.testing.assert_close(model.weight, torch.tensor([[0.0]], dtype=F64))
    assert model.bias is bias  # no .grad: unchanged
    assert weight.grad is None
    assert weight._lr is None


def test_learn2learns_metalayers_import_path() -> None:
    ml = importlib.import_module("meta_all.compat.learn2learn.nn.metalayers")
    assert ml.MetaModule is meta_nn.MetaModule
    assert ml.ParameterTransform is meta_nn.ParameterTransform
    assert l2l.nn.metalayers is ml
    assert l2l.nn.freeze is meta_nn.freeze
    assert l2l.nn.unfreeze is meta_nn.unfreeze
    assert l2l.nn.kronecker_addmm is meta_nn.kronecker_addmm


def test_scale_without_shape_as_in_learn2learns_parameter_transform_example() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
    meta_model = l2l.nn.MetaModule(
        module=model,
        substitutions={
            torch.nn.Linear: lambda linear: l2l.nn.ParameterTransform(
                module=linear, transform=lambda param: l2l.nn.Scale()
            )
        },
        freeze_module=True,
    )
    x = torch.randn(4, 3)
    torch.testing.assert_close(meta_model(x), model[2](model[1](model[0](x))))
    assert [p.shape for p in meta_model.meta_parameters()] == [(1,)] * 4


def test_utils_names_are_meta_functionals_and_also_top_level() -> None:
    for name in ["clone_parameters", "clone_named_parameters", "clone_distribution"]:
        assert getattr(l2l.utils, name) is getattr(importlib.import_module("meta_functional"), name)
        assert getattr(l2l, name) is getattr(l2l.utils, name)
    assert l2l.accuracy is l2l.utils.accuracy
    assert l2l.detach_distribution is l2l.utils.detach_distribution


@dataclasses.dataclass
class _Model:
    hidden: int = 32
    layers: int = 2


def test_flatten_config_of_namespace_dataclass_and_dict() -> None:
    config = argparse.Namespace(lr=0.1, model={"hidden": 32, "depth": {"blocks": 3}})
    assert l2l.flatten_config(config) == {"lr": 0.1, "model.hidden": 32, "model.depth.blocks": 3}
    assert l2l.utils.flatten_config(_Model()) == {"hidden": 32, "layers": 2}
    assert l2l.flatten_config({"outer": _Model(hidden=8)}) == {
        "outer.hidden": 8,
        "outer.layers": 2,
    }
    assert l2l.flatten_config(5, prefix="x") == {"x": 5}


def test_warn_once_warns_each_message_once() -> None:
    warn_once = type(l2l.warn_once)()  # a fresh one, not the shared instance
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_once("first")
        warn_once("first")
        warn_once("second", severity="deprecation")
    assert [(str(w.message), w.category) for w in caught] == [
        ("first", UserWarning),
        ("second", DeprecationWarning),
    ]
    with pytest.raises(RuntimeError, match="fatal"):
        warn_once("fatal", severity="error")


def test_data_names() -> None:
    assert l2l.data.OnDeviceDataset is meta_tasks.OnDeviceDataset
    transforms = l2l.data.transforms
    assert transforms.CythonNWays is transforms.NWays
    assert transforms.CythonKShots is transforms.KShots
    assert transforms.CythonFilterLabels is transforms.FilterLabels
    assert transforms.CythonFusedNWaysKShots is transforms.FusedNWaysKShots
    assert transforms.TaskTransform is meta_tasks.TaskTransform
    assert l2l.vision.transforms.RandomClassRotation is meta_tasks.RandomClassRotation


def test_cython_nways_samples_like_nways_in_a_task_set() -> None:
    data = torch.arange(12, dtype=F64).unsqueeze(1)
    dataset = l2l.data.MetaDataset(torch.utils.data.TensorDataset(data, torch.arange(12) % 4))
    transforms = l2l.data.transforms
    task_set = l2l.data.TaskDataset(
        dataset,
        [
            transforms.CythonNWays(dataset, 2),
            transforms.CythonKShots(dataset, 3),
            transforms.LoadData(dataset),
        ],
    )
    x, y = task_set.sample()
    assert x.shape == (6, 1)
    assert len(set(y.tolist())) == 2
    assert all(int(value) % 4 == label for value, label in zip(x.flatten(), y, strict=True))


def test_optim_names() -> None:
    for module in (l2l.optim, l2l.optim.transforms):
        assert module.ReshapedTransform is meta_optim.ReshapedTransform
        assert module.TransformDictionary is meta_optim.TransformDictionary
