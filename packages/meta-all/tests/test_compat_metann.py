"""MetaNN's documented API, through ``meta_all.compat.metann``."""

from __future__ import annotations

import collections
import doctest
import importlib

import meta_all.compat.metann as metann
import meta_nn
import pytest
import torch
import torch.nn.functional as F
from meta_all.compat.metann import _meta
from meta_all.compat.metann import meta as metann_meta
from torch import nn
from torch.func import functional_call

META_NAMES = [
    "GDLearner",
    "RMSPropLearner",
    "SequentialGDLearner",
    "Learner",
    "MAML",
    "MAMLpp",
    "MultiModel",
    "default_evaluator_classification",
    "mamlpp_evaluator",
    "active_indices",
    "is_tensor",
]
# MetaNN's metann.meta imports these too, so its star import brings them
META_IMPORTED = ["ProtoModule", "tensor_copy", "DefaultList", "MultipleList"]
CONTAINERS = ["SubDict", "DefaultList", "MultipleList"]


def test_meta_names_are_the_episodic_shells() -> None:
    assert sorted(metann.meta.__all__) == sorted(META_NAMES + META_IMPORTED)
    for name in META_NAMES:
        assert getattr(metann.meta, name) is getattr(_meta, name), name
    assert metann.meta.ProtoModule is metann.ProtoModule is metann.proto.ProtoModule
    assert metann.meta.tensor_copy is metann.tensor_copy is metann.proto.tensor_copy
    # The shells live here now: meta-algos no longer carries MetaNN's API.
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("meta_algos.episodic")


def test_modules_and_containers_are_meta_nn_objects() -> None:
    for name in ["DependentModule", *CONTAINERS]:
        assert getattr(metann, name) is getattr(meta_nn, name), name
    for name in CONTAINERS:
        assert getattr(metann.utils, name) is getattr(meta_nn, name)
        assert getattr(metann.utils.containers, name) is getattr(meta_nn, name)
    assert metann.dependentmodule.DependentModule is meta_nn.DependentModule
    # MetaNN's ProtoModule (functional returns a stateless module) is not meta-nn's
    assert metann.proto.ProtoModule is not meta_nn.ProtoModule


def test_star_imports_give_metann_names() -> None:
    expected = {
        "meta_all.compat.metann": {"DependentModule", "ProtoModule"},
        "meta_all.compat.metann.dependentmodule": {"DependentModule"},
        "meta_all.compat.metann.proto": {
            "DependentModule",
            "MultipleList",
            "ProtoModule",
            "tensor_copy",
        },
        "meta_all.compat.metann.meta": set(META_NAMES + META_IMPORTED),
        "meta_all.compat.metann.utils": {"SubDict"},
        "meta_all.compat.metann.utils.containers": set(CONTAINERS),
        "meta_all.compat.metann.utils.numpy": {"to_array"},
    }
    for module_name, names in expected.items():
        namespace: dict[str, object] = {}
        exec(f"from {module_name} import *", namespace)
        assert set(namespace) - {"__builtins__"} == names, module_name


def test_readme_dependent_module_example() -> None:
    from meta_all.compat.metann import DependentModule

    net = torch.nn.Sequential(nn.Linear(10, 100), nn.Linear(100, 5))
    net = DependentModule(net)
    text = repr(net)
    assert text.startswith("DependentSequential(")
    assert "(0): DependentLinear(in_features=10, out_features=100, bias=True)" in text
    assert isinstance(net, DependentModule)
    assert isinstance(net, nn.Sequential)


def make_episode(
    device: torch.device,
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(5)
    labels = torch.arange(5).repeat(2)
    centres = torch.randn(5, 10, generator=generator, dtype=torch.float64)
    support_x = centres[labels] + 0.5 * torch.randn(
        10, 10, generator=generator, dtype=torch.float64
    )
    query_x = centres[labels] + 0.5 * torch.randn(10, 10, generator=generator, dtype=torch.float64)
    return (support_x.to(device), labels.to(device)), (query_x.to(device), labels.to(device))


def reference_query_loss_and_gradients(
    net: nn.Module, data_train: tuple, data_test: tuple, *, steps: int, lr: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Hand-written torch.func MAML: ``steps`` SGD steps on the support cross-entropy."""

    def loss(params: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(net, params, (x,)), y)

    def query_loss(params: dict) -> tuple[torch.Tensor, torch.Tensor]:
        fast = params
        for _ in range(steps):
            grads = torch.func.grad(loss)(fast, *data_train)
            fast = {name: fast[name] - lr * grads[name] for name in fast}
        value = loss(fast, *data_test)
        return value, value.detach()

    params = {name: p.detach() for name, p in net.named_parameters()}
    grads, value = torch.func.grad(query_loss, has_aux=True)(params)
    return value, grads


@pytest.mark.parametrize("training", [True, False])
def test_readme_maml_example_matches_a_torch_func_reference(
    device: torch.device, training: bool
) -> None:
    from meta_all.compat.metann.meta import MAML
    from meta_all.compat.metann.meta import default_evaluator_classification as evaluator

    torch.manual_seed(0)
    net = torch.nn.Sequential(nn.Linear(10, 100), nn.Linear(100, 5)).to(
        device=device, dtype=torch.float64
    )
    data_train, data_test = make_episode(device)
    maml = MAML(net, steps_train=5, steps_eval=10, lr=0.01)
    maml.train(training)
    output = maml(data_train)
    loss = evaluator(output, data_test)
    loss.backward()

    steps = 5 if training else 10
    expected_loss, expected_grads = reference_query_loss_and_gradients(
        net, data_train, data_test, steps=steps, lr=0.01
    )
    torch.testing.assert_close(loss.detach(), expected_loss, rtol=0, atol=1e-10)
    for name, parameter in net.named_parameters():
        assert parameter.grad is not None, name
        torch.testing.assert_close(parameter.grad, expected_grads[name], rtol=0, atol=1e-6)


def test_mamlpp_returns_every_step_and_trains(device: torch.device) -> None:
    from meta_all.compat.metann.meta import (
        MAMLpp,
        default_evaluator_classification,
        mamlpp_evaluator,
    )

    torch.manual_seed(0)
    net = nn.Linear(10, 5).to(device=device, dtype=torch.float64)
    data_train, data_test = make_episode(device)
    mamlpp = MAMLpp(net, steps_train=3, steps_eval=4, lr=0.1)
    mimo = mamlpp(data_train)
    assert len(mimo) == 4  # the initial weights and one set per step, as in MetaNN
    loss, last = mamlpp_evaluator(mimo, data_test, 3, default_evaluator_classification)
    torch.testing.assert_close(last, default_evaluator_classification(mimo[3], data_test))
    loss.backward()
    assert net.weight.grad is not None
    assert net.weight.grad.abs().max() > 0


def test_proto_module_functional_runs_given_parameters() -> None:
    from meta_all.compat.metann import ProtoModule

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    proto = ProtoModule(net)
    x = torch.randn(5, 4)
    torch.testing.assert_close(proto(x), net(x))
    doubled = [2 * p.detach() for p in net.parameters()]
    expected = functional_call(
        net, dict(zip([n for n, _ in net.named_parameters()], doubled, strict=True)), (x,)
    )
    torch.testing.assert_close(proto.functional(doubled, training=True)(x), expected)


def test_proto_module_reuses_meta_nn_but_keeps_metanns_functional_and_buffer_names() -> None:
    from meta_all.compat.metann import ProtoModule

    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    proto = ProtoModule(net)
    # wrapping, forward and parameter names are meta-nn's ...
    assert isinstance(proto, meta_nn.ProtoModule)
    assert [name for name, _ in proto.named_parameters()] == [
        name for name, _ in net.named_parameters()
    ]
    with pytest.raises(TypeError, match=r"ProtoModule wraps a torch.nn.Module, got int"):
        ProtoModule(3)  # type: ignore[arg-type]
    # ... functional and buffer names are MetaNN's: the stateless copy, with its own buffers
    assert proto.functional(list(net.parameters())) is proto.stateless
    names = [name for name, _ in proto.named_buffers()]
    assert names[:3] == [f"module.1.{name}" for name, _ in net[1].named_buffers()]
    assert {"stateless.0.weight", "stateless.1.running_mean"} <= set(names[3:])
    assert all(name.startswith("stateless.") for name in names[3:])


def test_sub_dict_documented_example() -> None:
    from meta_all.compat.metann.utils import SubDict

    super_dict = collections.OrderedDict({"a": 1, "b": 2, "c": 3})
    sub_dict = SubDict(super_dict, keys=["a", "b"])
    assert dict(sub_dict) == {"a": 1, "b": 2}
    assert len(sub_dict) == 2


def test_active_indices() -> None:
    assert metann.meta.active_indices([0, torch.ones(1), None, torch.zeros(2)]) == [1, 3]


def test_docstring_example_runs() -> None:
    failures, tried = doctest.testmod(metann_meta, raise_on_error=False, report=False)[:2]
    assert tried >= 1
    assert failures == 0
