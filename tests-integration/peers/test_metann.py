"""MetaNN 0.3.2 and ``meta_all.compat.metann`` give the same results, entry point by entry point.

Every check runs one scenario twice, on the same seeded float64 weights and data: once with
MetaNN's module (``lib`` is ``metann``), once with ours, and compares everything the scenario
observed: outputs, adapted weights, meta-gradients, buffers, modes, types and lengths.
The differences that remain are in ``test_metann_differences.py``.
"""

from __future__ import annotations

import collections
import copy
import itertools
import types
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

F64 = torch.float64
NETS = ["mlp", "batchnorm", "conv"]


def make_net(kind: str, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "mlp":
        layers = [nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3)]
    elif kind == "batchnorm":  # BatchNorm with running statistics, in training mode
        # (no bias before the norm: its gradient would be exactly 0, where MetaNN's RMSprop
        # meta-gradient turns NaN; see the differences)
        layers = [nn.Linear(4, 8, bias=False), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3)]
    else:
        conv = nn.Conv2d(1, 3, 3, bias=False)
        layers = [conv, nn.BatchNorm2d(3), nn.Tanh(), nn.Flatten(), nn.Linear(48, 3)]
    return nn.Sequential(*layers).to(F64)


def make_split(kind: str, seed: int, n: int = 6) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    shape = (n, 1, 6, 6) if kind == "conv" else (n, 4)
    x = torch.randn(shape, generator=generator, dtype=F64)
    return x, torch.randint(0, 3, (n,), generator=generator)


def detached(value: Any) -> Any:
    """``value`` with every tensor detached and cloned (containers rebuilt as lists/dicts)."""
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {key: detached(entry) for key, entry in value.items()}
    if isinstance(value, list | tuple):
        return [detached(entry) for entry in value]
    return value


def assert_same(actual: Any, expected: Any, *, tolerance: float = 1e-12, where: str = "") -> None:
    """Equal structure and values; tensors equal to float64 round-off."""
    if isinstance(expected, Tensor):
        assert isinstance(actual, Tensor), where
        torch.testing.assert_close(
            actual, expected, rtol=tolerance, atol=tolerance, equal_nan=True, msg=where
        )
    elif isinstance(expected, dict):
        assert isinstance(actual, dict), where
        assert list(actual) == list(expected), where
        for key in expected:
            assert_same(actual[key], expected[key], tolerance=tolerance, where=f"{where}/{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), where
        assert len(actual) == len(expected), where
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_same(got, want, tolerance=tolerance, where=f"{where}[{index}]")
    else:
        assert actual == expected, where


def compare(
    metann: types.ModuleType,
    compat: types.ModuleType,
    scenario: Callable[[types.ModuleType], dict[str, Any]],
    *,
    tolerance: float = 1e-12,
) -> dict[str, Any]:
    """Run ``scenario`` with each library and assert that they observed the same."""
    expected = scenario(metann)
    actual = scenario(compat)
    assert_same(actual, expected, tolerance=tolerance)
    return actual


def module_state(net: nn.Module) -> dict[str, Any]:
    return {
        "params": detached(dict(net.named_parameters())),
        "buffers": detached(dict(net.named_buffers())),
        "training": [m.training for m in net.modules()],
    }


def meta_gradient(loss: Tensor, net: nn.Module) -> list[Tensor]:
    return detached(list(torch.autograd.grad(loss, list(net.parameters()), allow_unused=False)))


def score_adapted(lib: types.ModuleType, net: nn.Module, out: Any, kind: str) -> dict[str, Any]:
    """Outputs, query loss, meta-gradient and states after a functional adaptation."""
    evaluator = lib.meta.default_evaluator_classification
    query = make_split(kind, seed=9)
    seen: dict[str, Any] = {"type": type(out).__name__, "net": module_state(net)}
    if isinstance(out, lib.meta.MultiModel):
        seen["length"] = len(out)
        seen["outputs"] = [detached(out[i](query[0])) for i in range(len(out))]
        total, last = lib.meta.mamlpp_evaluator(out, query, len(out) - 1, evaluator)
        seen["losses"] = detached([total, last])
        loss = total
    else:
        seen["adapted"] = detached(dict(out.named_dependents()))
        seen["outputs"] = detached(out(query[0]))
        seen["adapted_buffers"] = detached(dict(out.named_buffers()))
        seen["adapted_training"] = out.training
        loss = evaluator(out, query)
        seen["loss"] = detached(loss)
    seen["meta_gradient"] = meta_gradient(loss, net)
    seen["net_after"] = module_state(net)
    return seen


# --------------------------------------------------------------------------------------------
# learners, functional path


@pytest.mark.parametrize("kind", NETS)
@pytest.mark.parametrize("steps", [0, 2])
@pytest.mark.parametrize("create_graph", [True, False])
@pytest.mark.parametrize("mimo", [False, True])
def test_gdlearner(metann, compat, kind, steps, create_graph, mimo) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        net = make_net(kind).eval()  # MetaNN's learner switches it to training mode
        learner = lib.meta.GDLearner(steps, 0.3, create_graph=create_graph)
        out = learner(net, make_split(kind, seed=1), mimo=mimo)
        return score_adapted(lib, net, out, kind)

    seen = compare(metann, compat, scenario)
    if mimo:
        assert seen["length"] == steps + 1


@pytest.mark.parametrize("kind", ["mlp", "batchnorm"])
@pytest.mark.parametrize("momentum", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("mimo", [False, True])
def test_sequential_gdlearner(metann, compat, kind, momentum, mimo) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        net = make_net(kind)
        batches = [make_split(kind, seed=seed) for seed in range(1, 4)]
        learner = lib.meta.SequentialGDLearner(0.2, momentum=momentum)
        out = learner(net, batches, mimo=mimo)
        return score_adapted(lib, net, out, kind)

    compare(metann, compat, scenario)


@pytest.mark.parametrize("kind", ["mlp", "batchnorm"])
@pytest.mark.parametrize("centered", [False, True])
@pytest.mark.parametrize("steps", [None, 2])
def test_rmsprop_learner(metann, compat, kind, centered, steps) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        net = make_net(kind)
        data = make_split(kind, seed=1) if steps else [make_split(kind, seed=s) for s in (1, 2, 3)]
        learner = lib.meta.RMSPropLearner(lr=0.01, alpha=0.9, centered=centered, steps=steps)
        return score_adapted(lib, net, learner(net, data), kind)

    # RMSprop's arithmetic is grouped differently (meta-optim's rmsprop): round-off only
    compare(metann, compat, scenario, tolerance=1e-10)


def test_custom_evaluator_gets_the_data_as_given(metann, compat) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        seen: list[Any] = []

        def evaluator(model: Callable[[Tensor], Tensor], data: dict[str, Tensor]) -> Tensor:
            seen.append(sorted(data))
            return nn.functional.cross_entropy(model(data["x"]), data["y"])

        net = make_net("mlp")
        x, y = make_split("mlp", seed=1)
        batch = {"x": x, "y": y}
        out = lib.meta.SequentialGDLearner(0.1, evaluator=evaluator)(net, [batch, batch])
        adapted = lib.meta.GDLearner(2, 0.1, evaluator=evaluator)(net, batch)
        return {"calls": seen, "outputs": detached([out(x), adapted(x)])}

    compare(metann, compat, scenario)


def test_data_requiring_grad_gets_a_gradient(metann, compat) -> None:
    # MetaNN's own learner test: the adapted model's loss reaches the support inputs
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        net = make_net("mlp")
        x, y = make_split("mlp", seed=1)
        support_x = x.clone().requires_grad_()
        adapted = lib.meta.GDLearner(3, 0.2)(net, (support_x, y))
        lib.meta.default_evaluator_classification(adapted, make_split("mlp", seed=2)).backward()
        return {"grad": detached(support_x.grad)}

    seen = compare(metann, compat, scenario)
    assert seen["grad"].abs().sum() > 0


# --------------------------------------------------------------------------------------------
# learners, in-place path


@pytest.mark.parametrize("kind", ["mlp", "batchnorm"])
@pytest.mark.parametrize(
    "build",
    [
        lambda meta: meta.GDLearner(3, 0.2),
        lambda meta: meta.SequentialGDLearner(0.2, momentum=0.7),
        lambda meta: meta.RMSPropLearner(0.01, steps=3),
        lambda meta: meta.RMSPropLearner(0.01, centered=True),
    ],
    ids=["gd", "sequential-momentum", "rmsprop", "rmsprop-centered-batches"],
)
@pytest.mark.parametrize("training", [True, False])
def test_inplace_training(metann, compat, kind, build, training) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        net = make_net(kind).train(training)
        learner = build(lib.meta)
        gd = isinstance(learner, lib.meta.GDLearner)  # its forward takes inplace by position
        data = make_split(kind, seed=1)
        if getattr(learner, "steps", None) is None:  # MetaNN's sequential learner has none
            data = [make_split(kind, seed=s) for s in (1, 2, 3)]
        returned = learner(net, data, True) if gd else learner(net, data, inplace=True)
        grads = [None if p.grad is None else detached(p.grad) for p in net.parameters()]
        return {"returned_net": returned is net, "state": module_state(net), "grads": grads}

    compare(metann, compat, scenario)


# --------------------------------------------------------------------------------------------
# MAML, MAML++ and mamlpp_evaluator


@pytest.mark.parametrize("kind", NETS)
@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("cls", ["MAML", "MAMLpp"])
@pytest.mark.parametrize("training", [True, False])
def test_maml_and_mamlpp(metann, compat, kind, first_order, cls, training) -> None:
    # steps_train == steps_eval: MetaNN always takes steps_train (see the differences)
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        net = make_net(kind)
        maml = getattr(lib.meta, cls)(net, 2, 2, lr=0.3, first_order=first_order)
        maml.train(training)
        out = maml(make_split(kind, seed=1))
        seen = score_adapted(lib, net, out, kind)
        seen["parameter_names"] = [name for name, _ in maml.named_parameters()]
        seen["maml_training"] = maml.training
        return seen

    seen = compare(metann, compat, scenario)
    assert seen["type"] == ("MultiModel" if cls == "MAMLpp" and training else "DependentSequential")


@pytest.mark.parametrize("steps", [0, 1, 3])
@pytest.mark.parametrize("gamma", [0.0, 0.6, 1.0, 2.0])
def test_mamlpp_evaluator(metann, compat, steps, gamma) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        net = make_net("batchnorm")
        mimo = lib.meta.GDLearner(3, 0.3)(net, make_split("batchnorm", seed=1), mimo=True)
        evaluator = lib.meta.default_evaluator_classification
        query = make_split("batchnorm", seed=2)
        total, last = lib.meta.mamlpp_evaluator(mimo, query, steps, evaluator, gamma)
        return {"losses": detached([total, last]), "meta_gradient": meta_gradient(total, net)}

    compare(metann, compat, scenario)


# --------------------------------------------------------------------------------------------
# ProtoModule, tensor_copy, MultiModel


def test_proto_module_functional(metann, compat) -> None:
    # MetaNN's own ProtoModule tests, a few steps of them, observed in full
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        proto = lib.ProtoModule(make_net("batchnorm"))
        x, y = make_split("batchnorm", seed=1)
        params = list(proto.parameters())
        seen: dict[str, Any] = {"names": [name for name, _ in proto.named_parameters()]}
        losses = []
        for _ in range(3):
            model = proto.functional(params, True)
            losses.append(nn.functional.cross_entropy(model(x), y))
            grads = torch.autograd.grad(losses[-1], params)
            with torch.no_grad():
                params = [
                    (a - 0.1 * b).requires_grad_() for a, b in zip(params, grads, strict=True)
                ]
        seen["losses"] = detached(losses)
        seen["same_module"] = proto.functional(params) is proto.functional(params, False)
        evaluated = proto.functional(params, False)
        seen["eval_mode"] = [evaluated.training, detached(evaluated(x))]
        proto.eval()
        seen["default_mode"] = proto.functional(params).training
        seen["stateless_buffers"] = detached(dict(proto.functional(params).named_buffers()))
        seen["module"] = module_state(proto.module)
        seen["stateful"] = detached(proto(x))
        with torch.no_grad():
            copies = [lib.tensor_copy(params) for _ in range(4)]
        mimo = lib.meta.MultiModel(proto, copies)
        seen["mimo"] = [len(mimo), [detached(model(x)) for model in mimo]]
        seen["params_lst"] = mimo.params_lst is copies
        return seen

    compare(metann, compat, scenario)


def test_tensor_copy(metann, compat) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        leaf = torch.ones(2, dtype=F64, requires_grad=True)
        nested = [leaf, None, [2 * leaf, (leaf,)]]
        copied = lib.tensor_copy(nested)
        inner = copied[2]
        return {
            "types": [type(copied).__name__, type(inner).__name__, type(inner[1]).__name__],
            "values": detached([copied[0], copied[1], inner[0], inner[1][0]]),
            "fresh": copied[0] is not leaf and copied[0].grad_fn is not None,
            "tensor": detached(lib.tensor_copy(leaf)),
            "none": lib.tensor_copy(None),
        }

    compare(metann, compat, scenario)


# --------------------------------------------------------------------------------------------
# DependentModule


def test_dependent_module(metann, compat) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3)).to(F64)
        x = make_split("batchnorm", seed=1)[0]
        seen: dict[str, Any] = {}
        converted = lib.DependentModule(net)
        classes = [type(m).__name__ for m in net.modules()]
        seen["conversion"] = [converted is net, repr(net), classes]
        seen["output"] = detached(net(x))
        net.clear_params(init=True)
        seen["cleared"] = [
            [name for name, _ in net.named_parameters()],
            detached(dict(net.named_dependents())),
            detached(net(x)),
            [name for name, _ in net.named_dependents(prefix="m", recurse=True)],
            [name for name, _ in net[0].named_dependents(recurse=False)],
            len(list(net.dependents())),
        ]
        shapes = {name: tensor.shape for name, tensor in net.named_dependents()}
        full = {name: torch.full(shape, 0.1, dtype=F64) for name, shape in shapes.items()}
        net.substitute(full.items())
        seen["strict"] = detached(net(x))
        net.substitute([("3.bias", torch.ones(3, dtype=F64)), ("nope", torch.ones(1))], "one way")
        seen["one_way"] = detached(net(x))
        bad = [("3.bias", torch.ones(7, dtype=F64)), ("1.bias", torch.zeros(8, dtype=F64))]
        net.substitute(bad, strict=False)
        seen["lenient"] = detached([net(x), net[3].bias, net[1].bias])
        net.substitute_from_list([2 * tensor for tensor in full.values()])
        seen["from_list"] = detached(net(x))
        net.update_shapes()
        net.clear_params()
        seen["unset"] = [value is None for value in net.dependents()]
        net[3].register_dependent("scale", torch.ones(3, dtype=F64))
        seen["registered"] = [name for name, _ in net.named_dependents()]
        stateless = lib.DependentModule.stateless(make_net("mlp"))
        seen["stateless"] = [name for name, _ in stateless.named_dependents()]
        net.extra = nn.Linear(2, 2)
        seen["assigned"] = type(net.extra).__name__
        return seen

    compare(metann, compat, scenario)


# --------------------------------------------------------------------------------------------
# containers, evaluators, helpers


def test_subdict(metann, compat) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        super_dict = collections.OrderedDict(zip(range(10), range(1, 11), strict=True))
        unordered = lib.utils.SubDict(super_dict, keys=[2, 1, 0], keep_order=False)
        ordered = lib.utils.SubDict(super_dict, keys=[2, 1, 0])
        seen: list[Any] = [ordered[2], list(ordered), len(unordered)]
        ordered[10] = 11
        unordered[2] = 4
        seen += [super_dict[10], ordered[2], list(ordered), set(unordered)]
        del unordered[0]
        seen += [0 in super_dict, 0 in ordered, list(ordered), len(ordered), set(unordered)]
        del super_dict[1]
        seen += [list(ordered), len(ordered), 1 in unordered, dict(ordered)]
        ordered.update_keys()
        seen += [sorted(ordered.items()), isinstance(ordered, collections.abc.MutableMapping)]
        with pytest.raises(KeyError):
            ordered[1]
        return {"seen": seen}

    compare(metann, compat, scenario)


def test_default_list_and_multiple_list(metann, compat) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        containers = lib.utils.containers
        defaults = containers.DefaultList()
        defaults.fill([1, 2, 3, 4])
        seen: list[Any] = [list(itertools.islice(defaults, 6)), defaults[7]]
        velocities = containers.DefaultList(lambda: 0)
        seen.append([g + v * 0.5 for g, v in zip([1.0, 2.0], velocities, strict=False)])
        velocities[2] = 5
        seen.append(list(itertools.islice(velocities, 4)))
        weights = ["w0", "w1", "w2", "w3"]
        view = containers.MultipleList(weights)
        seen += [view[1], view[[3, 1]], view[(i for i in (0, 2))], view[1:3], list(view)]
        view[[0, 2]] = ["a", "b"]
        view[3] = "z"
        seen.append(weights)
        return {"seen": seen}

    compare(metann, compat, scenario)


def test_evaluators_and_helpers(metann, compat) -> None:
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        meta = lib.meta
        net = make_net("mlp")
        x, y = make_split("mlp", seed=1)
        none = nn.CrossEntropyLoss(reduction="none")
        tensors = [torch.zeros(1), 1, None, torch.ones(2), "t"]
        return {
            "pair": detached(meta.default_evaluator_classification(net, (x, y))),
            "list": detached(meta.default_evaluator_classification(net, [x, y])),
            "per_sample": detached(meta.default_evaluator_classification(net, (x, y), none)),
            "active": meta.active_indices(tensors),
            "is_tensor": meta.is_tensor([1.0, 2.0]).tolist(),
            "to_array": [repr(a) for a in lib.utils.numpy.to_array([x[0], "a"]).tolist()],
        }

    compare(metann, compat, scenario)


def test_learner_base_and_subclassing(metann, compat) -> None:
    # A MetaNN user's own learner: subclass Learner, override forward_pure
    def scenario(lib: types.ModuleType) -> dict[str, Any]:
        class Twice(lib.meta.Learner):
            def forward_pure(self, model: nn.Module, data: Any) -> Any:
                return lambda x: 2 * model(x)

        net = make_net("mlp")
        x = make_split("mlp", seed=1)[0]
        return {"output": detached(Twice()(net, None)(x)), "module": isinstance(Twice(), nn.Module)}

    compare(metann, compat, scenario)


# --------------------------------------------------------------------------------------------
# the public names


def public_names(module: types.ModuleType) -> set[str]:
    return {name for name in vars(module) if not name.startswith("_")}


def star_names(module_name: str) -> set[str]:
    namespace: dict[str, Any] = {}
    exec(f"from {module_name} import *", namespace)
    return set(namespace) - {"__builtins__"}


# What MetaNN's modules import for their own use (stdlib, typing, torch, numpy): a star
# import of the MetaNN module brings them, ours does not (see the differences).
IMPORTED_HELPERS = {
    "metann": {"dependentmodule", "meta", "proto", "utils"},
    "metann.dependentmodule": {
        "Any",
        "Dict",
        "List",
        "Module",
        "Optional",
        "OrderedDict",
        "SubDict",
        "Tuple",
        "Union",
        "deepcopy",
        "string_classes",
        "torch",
    },
    "metann.proto": {"Module", "deepcopy", "torch"},
    "metann.meta": {"nn", "np", "torch"},
    "metann.utils": {"containers", "numpy"},
    "metann.utils.containers": {"collections", "count", "defaultdict"},
    "metann.utils.numpy": {"np"},
}


@pytest.mark.parametrize("module_name", sorted(IMPORTED_HELPERS))
def test_every_public_name_exists_at_the_same_path(metann, compat, module_name) -> None:
    theirs = __import__(module_name, fromlist=["_"])
    ours = __import__(module_name.replace("metann", "meta_all.compat.metann", 1), fromlist=["_"])
    missing = public_names(theirs) - IMPORTED_HELPERS[module_name] - set(dir(ours))
    assert not missing, f"{module_name}: {sorted(missing)}"
    ours_star = star_names(ours.__name__)
    theirs_star = star_names(module_name)
    assert ours_star <= theirs_star
    assert theirs_star - ours_star <= IMPORTED_HELPERS[module_name]
    # a name both have is the same kind of thing (class, function, module)
    for name in public_names(theirs) & set(dir(ours)):
        theirs_kind = type(getattr(theirs, name))
        ours_kind = type(getattr(ours, name))
        assert callable(getattr(theirs, name)) == callable(getattr(ours, name)), name
        if isinstance(getattr(theirs, name), type):
            assert issubclass(ours_kind, type), name
        elif isinstance(getattr(theirs, name), types.ModuleType):
            assert ours_kind is types.ModuleType, name
        else:
            assert theirs_kind is not type, name


def test_both_deep_copy_and_survive_copy(either) -> None:
    # a sanity check of the fixtures themselves: both libraries work on copies of one net
    net = make_net("mlp")
    adapted = either.meta.GDLearner(1, 0.1)(copy.deepcopy(net), make_split("mlp", seed=1))
    assert adapted(make_split("mlp", seed=2)[0]).shape == (6, 3)
