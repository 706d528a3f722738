"""Every difference from MetaNN 0.3.2 listed in docs/migration/metann.md, shown on both sides.

Each test asserts what MetaNN does and what ``meta_all.compat.metann`` does instead, so a
listed difference that stops being one (or was described wrongly) fails here. The section
numbers follow the migration guide.
"""

from __future__ import annotations

import collections
import copy
import re
import types
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from .test_metann import F64, detached, make_net, make_split

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "migration" / "metann.md"


def test_the_guide_lists_exactly_the_differences_tested_here() -> None:
    section = GUIDE.read_text().split("## The differences that remain")[1].split("\n## ")[0]
    listed = [int(number) for number in re.findall(r"^(\d+)\. \*\*", section, re.MULTILINE)]
    tested = [int(name.split("_")[2]) for name in globals() if name.startswith("test_difference_")]
    assert listed == tested == list(range(1, 18))


# 1 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["MAML", "MAMLpp"])
def test_difference_01_eval_mode_takes_steps_eval(metann, compat, cls) -> None:
    support, query = make_split("mlp", seed=1), make_split("mlp", seed=2)

    def eval_output(lib: types.ModuleType) -> Tensor:
        maml = getattr(lib.meta, cls)(make_net("mlp"), steps_train=1, steps_eval=3, lr=0.3)
        return detached(maml.eval()(support)(query[0]))

    def adapted(lib: types.ModuleType, steps: int) -> Tensor:
        return detached(lib.meta.GDLearner(steps, 0.3)(make_net("mlp"), support)(query[0]))

    torch.testing.assert_close(eval_output(metann), adapted(metann, 1))  # steps_train
    torch.testing.assert_close(eval_output(compat), adapted(compat, 3))  # steps_eval
    torch.testing.assert_close(adapted(compat, 3), adapted(metann, 3))


# 2 -------------------------------------------------------------------------------------------


def test_difference_02_stateless_leaves_the_dependents_unset(metann, compat) -> None:
    net = make_net("mlp")
    theirs = metann.DependentModule.stateless(net)
    ours = compat.DependentModule.stateless(net)
    assert type(net) is nn.Sequential  # both work on a copy
    # MetaNN passes clear_filter where init goes, so its dependents keep copies of the weights
    assert all(isinstance(value, Tensor) for value in theirs.dependents())
    assert all(value is None for value in ours.dependents())


# 3 -------------------------------------------------------------------------------------------


def test_difference_03_clear_params_init_keeps_the_parameter_objects(metann, compat) -> None:
    x = make_split("mlp", seed=1)[0]
    results = {}
    for name, lib in (("metann", metann), ("compat", compat)):
        net = make_net("mlp")
        net[0].weight.requires_grad_(False)
        original = list(net.parameters())
        lib.DependentModule(net).clear_params(init=True)
        net(x).sum().backward()
        results[name] = (original, list(net.dependents()))
    original, dependents = results["metann"]
    assert not any(a is b for a, b in zip(dependents, original, strict=True))
    assert all(p.grad is None for p in original)  # the module no longer uses them
    assert dependents[0].requires_grad  # frozen no more
    original, dependents = results["compat"]
    assert all(a is b for a, b in zip(dependents, original, strict=True))
    assert all(p.grad is not None for p in original[1:])
    assert not dependents[0].requires_grad
    for theirs, ours in zip(results["metann"][1], results["compat"][1], strict=True):
        torch.testing.assert_close(theirs.detach(), ours.detach(), rtol=0, atol=0)


# 4 -------------------------------------------------------------------------------------------


def test_difference_04_dependents_are_not_in_the_state_dict(metann, compat) -> None:
    theirs = metann.DependentModule(make_net("mlp")).clear_params(init=True)
    ours = compat.DependentModule(make_net("mlp")).clear_params(init=True)
    assert list(theirs.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert list(ours.state_dict()) == []
    assert [n for n, _ in theirs.named_buffers()] == [n for n, _ in ours.named_buffers()]
    proto_keys = {
        name: list(lib.ProtoModule(make_net("mlp")).state_dict())
        for name, lib in (("metann", metann), ("compat", compat))
    }
    weights = ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert proto_keys["metann"] == [f"module.{n}" for n in weights] + [
        f"stateless.{n}" for n in weights
    ]
    assert proto_keys["compat"] == [f"module.{n}" for n in weights]


# 5 -------------------------------------------------------------------------------------------


def test_difference_05_strict_substitute_checks_both_ways(metann, compat) -> None:
    values = {name: torch.ones_like(p) for name, p in make_net("mlp").named_parameters()}
    extra = {**values, "scale": torch.ones(1)}
    missing = {name: v for name, v in values.items() if name != "2.bias"}
    theirs = metann.DependentModule.stateless(make_net("mlp"))
    ours = compat.DependentModule.stateless(make_net("mlp"))
    theirs.substitute(extra.items())  # MetaNN ignores names that are not dependents
    with pytest.raises(KeyError, match=r"not dependents \['scale'\]"):
        ours.substitute(extra.items())
    with pytest.raises(ValueError, match=r"mismatch, got 2\.bias"):
        theirs.substitute(missing.items())
    with pytest.raises(KeyError, match=r"missing \['2.bias'\]"):
        ours.substitute(missing.items())


# 6 -------------------------------------------------------------------------------------------


def test_difference_06_a_list_of_the_wrong_length_raises(metann, compat) -> None:
    params = list(make_net("mlp").parameters())
    x = make_split("mlp", seed=1)[0]
    theirs = metann.ProtoModule(make_net("mlp", seed=1))
    ours = compat.ProtoModule(make_net("mlp", seed=1))
    # MetaNN substitutes the first tensors and keeps stale copies of the rest
    mixed = theirs.functional(params[:2])(x)
    assert not torch.allclose(mixed, theirs.functional(params)(x))
    for wrong in (params[:2], [*params, params[0]]):
        with pytest.raises(ValueError, match=r"got \d tensors for the 4 dependents"):
            ours.functional(wrong)
    dependent = metann.DependentModule.stateless(make_net("mlp"))
    dependent.substitute_from_list([*params, params[0]])  # the extra tensor is ignored
    with pytest.raises(ValueError, match=r"got 5 tensors for the 4 dependents"):
        compat.DependentModule.stateless(make_net("mlp")).substitute_from_list([*params, params[0]])


# 7 -------------------------------------------------------------------------------------------


def test_difference_07_unset_dependents_are_named_when_called(metann, compat) -> None:
    x = make_split("mlp", seed=1)[0]
    with pytest.raises(TypeError, match=r"linear\(\): argument 'weight'"):
        metann.DependentModule(make_net("mlp")).clear_params()(x)
    with pytest.raises(ValueError, match=r"dependents \['bias', 'weight'\] are unset"):
        compat.DependentModule(make_net("mlp")).clear_params()(x)


# 8 -------------------------------------------------------------------------------------------


def test_difference_08_none_parameters_do_not_become_dependents(metann, compat) -> None:
    def linear() -> nn.Module:
        return nn.Linear(2, 2, bias=False).to(F64)

    weight = {"weight": torch.ones(2, 2, dtype=F64)}
    theirs = metann.DependentModule(linear()).clear_params(init=True)
    ours = compat.DependentModule(linear()).clear_params(init=True)
    assert [n for n, _ in theirs.named_dependents()] == [n for n, _ in ours.named_dependents()]
    with pytest.raises(ValueError, match="mismatch, got bias"):  # MetaNN's unset 'bias'
        theirs.substitute(weight.items())
    ours.substitute(weight.items())
    assert ours.weight is weight["weight"]


# 9 -------------------------------------------------------------------------------------------


def test_difference_09_dependents_registered_as_none_are_listed(metann, compat) -> None:
    names = {}
    for name, lib in (("metann", metann), ("compat", compat)):
        module = lib.DependentModule(nn.Linear(2, 2))
        module.register_dependent("scale", None)
        names[name] = list(module.named_dependents())
    assert names["metann"] == []
    assert names["compat"] == [("scale", None)]


# 10 ------------------------------------------------------------------------------------------


def test_difference_10_subdict_keys_order_and_str(metann, compat) -> None:
    super_dict = collections.OrderedDict(zip("abcd", range(4), strict=True))
    theirs = metann.utils.SubDict(super_dict, keys=["c", "z", "a"], keep_order=False)
    assert sorted(theirs) == ["a", "c"]  # 'z' silently dropped; iterated in set order
    assert str(theirs).startswith("SubDict([")
    with pytest.raises(KeyError, match=r"SubDict keys \['z'\] are not in the super dict"):
        compat.utils.SubDict(super_dict, keys=["c", "z", "a"])
    ours = compat.utils.SubDict(super_dict, keys=["c", "a"], keep_order=False)
    assert list(ours) == ["c", "a"]  # the order the keys were given
    assert str(ours) == repr(ours) == "SubDict({'c': 2, 'a': 0})"


# 11 ------------------------------------------------------------------------------------------


def test_difference_11_default_list_is_a_list(metann, compat) -> None:
    theirs = metann.utils.containers.DefaultList(fill=[1, 2])
    ours = compat.utils.containers.DefaultList(fill=[1, 2])
    assert theirs[0] is None  # MetaNN ignores fill=
    assert ours[0] == 1
    with pytest.raises(KeyError):
        theirs[-1]
    assert ours[-1] == 2
    assert ours[:2] == [1, 2]
    with pytest.raises(TypeError):
        len(theirs)
    assert len(ours) == 2


# 12 ------------------------------------------------------------------------------------------


def test_difference_12_multiple_list_rejects_bools_and_short_writes(metann, compat) -> None:
    theirs = metann.utils.containers.MultipleList([1, 2, 3])
    ours = compat.utils.containers.MultipleList([1, 2, 3])
    assert theirs[True] == 2
    assert theirs[[True, 0]] == [2, 1]
    with pytest.raises(TypeError, match=r"a slice or an iterable of ints, got bool"):
        ours[True]
    with pytest.raises(TypeError, match=r"indices must be ints, got \[True\]"):
        ours[[True, 0]]
    theirs[[0, 1]] = [9]  # zip: only index 0 is written
    assert theirs.lst == [9, 2, 3]
    with pytest.raises(ValueError, match=r"got 1 values for 2 indices"):
        ours[[0, 1]] = [9]


# 13 ------------------------------------------------------------------------------------------


def test_difference_13_rmsprop_meta_gradient_stays_finite_at_zero_gradients(metann, compat) -> None:
    # A Linear with a bias before BatchNorm: the bias gradient is exactly 0 (the norm removes
    # it), and d sqrt(v) / dv at v = 0 is infinite in MetaNN's RMSprop.
    def net() -> nn.Module:
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.Tanh(), nn.Linear(8, 3)).to(F64)

    support, query = make_split("mlp", seed=1), make_split("mlp", seed=2)

    def meta_loss(lib: types.ModuleType, model: nn.Module) -> Tensor:
        adapted = lib.meta.RMSPropLearner(lr=0.01, steps=2)(model, support)
        return lib.meta.default_evaluator_classification(adapted, query)

    theirs_net, ours_net = net(), net()
    theirs = torch.autograd.grad(meta_loss(metann, theirs_net), list(theirs_net.parameters()))
    ours = torch.autograd.grad(meta_loss(compat, ours_net), list(ours_net.parameters()))
    assert all(torch.isnan(grad).all() for grad in theirs)
    assert all(torch.isfinite(grad).all() for grad in ours)
    torch.testing.assert_close(ours[1], torch.zeros_like(ours[1]), rtol=0, atol=1e-12)
    # ours is the derivative: central differences on the last layer's weight
    weight = ours_net[3].weight
    for index in [(0, 0), (2, 5)]:
        with torch.no_grad():
            weight[index] += 1e-6
            plus = meta_loss(compat, ours_net)
            weight[index] -= 2e-6
            minus = meta_loss(compat, ours_net)
            weight[index] += 1e-6
        estimate = (plus - minus) / 2e-6
        torch.testing.assert_close(ours[4][index], estimate, rtol=1e-5, atol=1e-8)


# 14 ------------------------------------------------------------------------------------------


def test_difference_14_multimodel_forward_runs_every_model(metann, compat) -> None:
    x = make_split("mlp", seed=1)[0]
    params = list(make_net("mlp").parameters())
    theirs = metann.meta.MultiModel(metann.ProtoModule(make_net("mlp")), [params, params])
    with pytest.raises(NotImplementedError):
        theirs(x)
    ours = compat.meta.MultiModel(compat.ProtoModule(make_net("mlp")), [params, params])
    outputs = ours(x)
    assert len(outputs) == 2
    torch.testing.assert_close(outputs[1], theirs[1](x))


# 15 ------------------------------------------------------------------------------------------


def test_difference_15_arguments_are_checked_and_more_inputs_work(metann, compat) -> None:
    net = make_net("mlp")
    support, query = make_split("mlp", seed=1), make_split("mlp", seed=2)
    task = types.SimpleNamespace(
        support_x=support[0], support_y=support[1], query_x=query[0], query_y=query[1]
    )
    theirs, ours = metann.meta, compat.meta
    # invalid arguments raise at once (MetaNN runs: negative steps mean none, a negative rate
    # climbs the loss; or fails later with other errors)
    theirs.GDLearner(-2, 0.1)(net, support)
    with pytest.raises(ValueError, match=r"steps must be a non-negative int, got -2"):
        ours.GDLearner(-2, 0.1)
    theirs.GDLearner(1, -0.1)(net, support)
    with pytest.raises(ValueError, match=r"lr must be >= 0, got -0.1"):
        ours.GDLearner(1, -0.1)
    mimo = theirs.GDLearner(1, 0.1)(net, support, mimo=True)
    with pytest.raises(IndexError):
        theirs.mamlpp_evaluator(mimo, query, 2, theirs.default_evaluator_classification)
    mimo = ours.GDLearner(1, 0.1)(net, support, mimo=True)
    with pytest.raises(ValueError, match=r"steps=2 needs steps \+ 1 = 3 models"):
        ours.mamlpp_evaluator(mimo, query, 2, ours.default_evaluator_classification)
    with pytest.raises(ValueError, match="too many values to unpack"):
        theirs.default_evaluator_classification(net, torch.zeros(3))
    with pytest.raises(TypeError, match=r"data must be an \(x, y\) pair.*got Tensor"):
        ours.default_evaluator_classification(net, torch.zeros(3))
    # where MetaNN raises, these work: adapting under no_grad, frozen parameters, episodes
    # and tasks with the default evaluator, a single (x, y) pair for a sequential learner,
    # calling forward_pure/forward_inplace of GDLearner, mimo for RMSPropLearner, a mapping
    # for ProtoModule.functional, in-place adaptation of a DependentModule's dependents
    with torch.no_grad(), pytest.raises(RuntimeError):
        theirs.GDLearner(1, 0.1)(net, support)
    with torch.no_grad():
        ours.GDLearner(1, 0.1)(net, support)
    frozen = make_net("mlp")
    frozen[0].weight.requires_grad_(False)
    with pytest.raises(RuntimeError):
        theirs.GDLearner(1, 0.1)(frozen, support)
    assert ours.GDLearner(1, 0.1).fast_weights(frozen, support)[-1]["0.weight"] is frozen[0].weight
    expected = detached(ours.GDLearner(2, 0.1)(net, support)(query[0]))
    for data in ((support, query), task):
        with pytest.raises((TypeError, RuntimeError, ValueError, AttributeError)):
            theirs.GDLearner(2, 0.1)(net, data)
        torch.testing.assert_close(ours.GDLearner(2, 0.1)(net, data)(query[0]), expected)
        torch.testing.assert_close(
            ours.default_evaluator_classification(ours.MAML(net, 2, 2, 0.1)(data), data),
            ours.default_evaluator_classification(ours.GDLearner(2, 0.1)(net, support), query),
        )
    with pytest.raises(ValueError, match="too many values to unpack"):
        theirs.SequentialGDLearner(0.1)(net, support)  # it iterates the pair: x, then y
    ours.SequentialGDLearner(0.1)(net, support)
    with pytest.raises(NotImplementedError):
        theirs.GDLearner(1, 0.1).forward_pure(net, support)
    ours.GDLearner(1, 0.1).forward_pure(net, support)
    with pytest.raises(TypeError, match="unexpected keyword argument 'mimo'"):
        theirs.RMSPropLearner(steps=1)(net, support, mimo=True)
    assert len(ours.RMSPropLearner(steps=1)(net, support, mimo=True)) == 2
    named = dict(net.named_parameters())
    with pytest.raises(AttributeError):
        metann.ProtoModule(net).functional(named)
    compat.ProtoModule(net).functional(named)
    dependent = compat.DependentModule(copy.deepcopy(net)).clear_params(init=True)
    with pytest.raises(ValueError, match="empty parameter list"):
        theirs.GDLearner(1, 0.1)(copy.deepcopy(dependent), support, inplace=True)
    adapted = ours.GDLearner(1, 0.1)(dependent, support, inplace=True)
    assert adapted[0].weight.grad_fn is not None
    # GDLearner keeps its hyperparameters itself (MetaNN: on its inner learner, .sgd)
    assert theirs.GDLearner(1, 0.1).sgd.lr == ours.GDLearner(1, 0.1).lr == 0.1
    assert not hasattr(ours.GDLearner(1, 0.1), "sgd")


# 16 ------------------------------------------------------------------------------------------


def test_difference_16_star_imports_leave_out_metanns_own_imports(metann, compat) -> None:
    theirs: dict[str, object] = {}
    ours: dict[str, object] = {}
    exec("from metann.meta import *", theirs)
    exec("from meta_all.compat.metann.meta import *", ours)
    assert {"torch", "nn", "np"} <= set(theirs)
    assert not {"torch", "nn", "np"} & set(ours)
    assert set(ours) < set(theirs)


# 17 ------------------------------------------------------------------------------------------


def test_difference_17_abstract_learner_methods_raise_type_error(metann, compat) -> None:
    net = make_net("mlp")
    support = make_split("mlp", seed=1)
    with pytest.raises(NotImplementedError, match=r"^$"):
        metann.meta.Learner()(net, support)
    with pytest.raises(NotImplementedError, match=r"^$"):
        metann.meta.Learner()(net, support, inplace=True)
    with pytest.raises(TypeError, match=r"^Learner has no inner update: .* override forward_pure"):
        compat.meta.Learner()(net, support)
    with pytest.raises(TypeError, match=r"^Learner has no in-place training .* forward_inplace"):
        compat.meta.Learner()(net, support, inplace=True)
