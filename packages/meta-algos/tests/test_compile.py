"""Compiled meta-gradients equal eager ones; recompile bound, eager fallback, BatchNorm.

Tiny nets (an MLP 1-8-1, one with a BatchNorm) keep each compile to seconds; compiled
algorithms are built once per module and reused, so every compiled function compiles once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import SimpleNamespace

import meta_algos._compile as compile_module
import pytest
import torch
import torch.nn.functional as F
from meta_algos import ANIL, MAML, MAMLpp, MetaSGD
from torch import Tensor, nn

# inductor imports torch.jit.script_method, deprecated in torch 2.13 (warnings are errors)
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)

Factory = Callable[[torch.dtype], MAML]


def _mlp(dtype: torch.dtype) -> nn.Sequential:
    return nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).to(dtype)


def _bn_net(dtype: torch.dtype, *, running_stats: bool = False) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(1, 8),
        nn.BatchNorm1d(8, track_running_stats=running_stats),
        nn.Tanh(),
        nn.Linear(8, 1),
    ).to(dtype)


def _anil(dtype: torch.dtype) -> MAML:
    net = _mlp(dtype)
    return ANIL(net, net[2], inner_lr=0.3)


#: name -> factory; together they cover first/second order, 1 and 3 steps, learned rates,
#: a head-only inner loop and MAML++ (multi-step loss) over a BatchNorm.
ALGORITHMS: dict[str, Factory] = {
    "maml-2nd-1step": lambda dtype: MAML(_mlp(dtype), inner_lr=0.3),
    "maml-1st-3steps": lambda dtype: MAML(_mlp(dtype), 0.3, 3, first_order=True),
    "metasgd-3steps": lambda dtype: MetaSGD(_mlp(dtype), 0.3, 3),
    "anil-1step": _anil,
    "mamlpp-bn-2steps": lambda dtype: MAMLpp(
        _bn_net(dtype), 0.3, 2, msl_iterations=4, first_order_iterations=0
    ),
}
#: (algorithm, batched, dtype) cases: each compiles one function.
CASES = [
    ("maml-2nd-1step", True, torch.float64),
    ("maml-1st-3steps", False, torch.float64),
    ("metasgd-3steps", True, torch.float64),
    ("anil-1step", False, torch.float64),
    ("mamlpp-bn-2steps", True, torch.float64),
    ("mamlpp-bn-2steps", False, torch.float64),
    ("maml-2nd-1step", False, torch.float32),
]
TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-4}


def _tasks(dtype: torch.dtype, count: int = 3, *, seed: int = 0) -> list[SimpleNamespace]:
    generator = torch.Generator().manual_seed(seed)

    def draw(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype)

    return [
        SimpleNamespace(
            support_x=draw(4, 1), support_y=draw(4, 1), query_x=draw(5, 1), query_y=draw(5, 1)
        )
        for _ in range(count)
    ]


def _pair(name: str, dtype: torch.dtype) -> tuple[MAML, MAML]:
    torch.manual_seed(0)
    eager = ALGORITHMS[name](dtype)
    if isinstance(eager, MetaSGD):  # make the learned rates differ per element
        for rate in eager.rates.values():
            rate.data.uniform_(0.1, 0.4)
    compiled = copy.deepcopy(eager)
    compiled.set_compile(True)
    return eager, compiled


@pytest.fixture(scope="module")
def compiled_pairs() -> Callable[[str, torch.dtype], tuple[MAML, MAML]]:
    """(eager, compiled) algorithms with the same weights, built once per name and dtype."""
    cache: dict[tuple[str, torch.dtype], tuple[MAML, MAML]] = {}

    def get(name: str, dtype: torch.dtype) -> tuple[MAML, MAML]:
        if (name, dtype) not in cache:
            cache[name, dtype] = _pair(name, dtype)
        return cache[name, dtype]

    return get


def _meta_gradient(algorithm: MAML, tasks: list[SimpleNamespace], batched: bool):
    for param in algorithm.parameters():
        param.grad = None
    result = algorithm.meta_gradient(tasks, F.mse_loss, batched=batched)
    return result, {name: param.grad for name, param in algorithm.named_parameters()}


def _assert_same(eager: MAML, compiled: MAML, tasks, batched: bool, dtype) -> None:
    eager_result, eager_grads = _meta_gradient(eager, tasks, batched)
    compiled_result, compiled_grads = _meta_gradient(compiled, tasks, batched)
    # relative to the largest meta-gradient: a gradient that is zero in exact arithmetic
    # (a bias before a batch norm) is rounding noise on both paths
    scale = max(float(g.abs().max()) for g in eager_grads.values() if g is not None)
    tolerance = {"rtol": TOLERANCE[dtype], "atol": TOLERANCE[dtype] * scale}
    assert eager_grads.keys() == compiled_grads.keys()
    for name, gradient in eager_grads.items():
        assert gradient is not None, name
        torch.testing.assert_close(compiled_grads[name], gradient, **tolerance, msg=name)
    torch.testing.assert_close(compiled_result.losses, eager_result.losses, **tolerance)
    for ours, theirs in zip(compiled_result.predictions, eager_result.predictions, strict=True):
        torch.testing.assert_close(ours, theirs, **tolerance)


@pytest.mark.parametrize(("name", "batched", "dtype"), CASES, ids=str)
def test_compiled_meta_gradient_equals_eager(compiled_pairs, name, batched, dtype) -> None:
    eager, compiled = compiled_pairs(name, dtype)
    _assert_same(eager, compiled, _tasks(dtype), batched, dtype)
    assert compiled._compiled is not None
    assert compiled._compiled.disabled is None
    assert len(compiled._compiled) >= 1
    assert compiled.compile_seconds > 0.0


def test_changed_weights_and_data_reuse_the_compiled_function(compiled_pairs) -> None:
    """New task values and MAML++'s annealed step weights are inputs: no recompile."""
    eager, compiled = compiled_pairs("mamlpp-bn-2steps", torch.float64)
    _assert_same(eager, compiled, _tasks(torch.float64), True, torch.float64)
    compiled_before = len(compiled._compiled)
    for algorithm in (eager, compiled):
        algorithm.advance_iteration()
    assert eager.query_step_weights(2) != [0.5, 0.5]
    _assert_same(eager, compiled, _tasks(torch.float64, seed=1), True, torch.float64)
    assert len(compiled._compiled) == compiled_before


def test_compiled_batchnorm_in_eval_mode_leaves_running_statistics(compiled_pairs) -> None:
    torch.manual_seed(0)
    eager = MAML(_bn_net(torch.float64, running_stats=True), inner_lr=0.3)
    eager.module[1].running_mean.uniform_(-1.0, 1.0)
    compiled = copy.deepcopy(eager)
    compiled.set_compile(True)
    for algorithm in (eager, compiled):
        algorithm.module[1].eval()
    _assert_same(eager, compiled, _tasks(torch.float64), False, torch.float64)
    torch.testing.assert_close(compiled.module[1].running_mean, eager.module[1].running_mean)
    assert len(compiled._compiled) == 1


def test_running_statistics_updates_run_eagerly_and_match() -> None:
    """BatchNorm updating running stats cannot be pure: eager, one warning, same buffers."""
    torch.manual_seed(0)
    eager = MAMLpp(_bn_net(torch.float64, running_stats=True), 0.3, 3, first_order_iterations=0)
    compiled = copy.deepcopy(eager)
    compiled.set_compile(True)
    tasks = _tasks(torch.float64)
    with pytest.warns(RuntimeWarning, match="BatchNorm layers update running statistics"):
        _assert_same(eager, compiled, tasks, False, torch.float64)
    _assert_same(eager, compiled, tasks, False, torch.float64)  # warned once only
    for name, buffer in eager.module.named_buffers():
        torch.testing.assert_close(dict(compiled.module.named_buffers())[name], buffer)
    assert eager.module[1].num_batches_tracked.item() == 2 * 3 * (3 + 3)
    assert len(compiled._compiled) == 0
    with pytest.raises(ValueError, match="cannot update BatchNorm running statistics"):
        compiled.meta_gradient(tasks, F.mse_loss, batched=True)


def test_layouts_beyond_the_bound_run_eagerly_with_one_warning(compiled_pairs, monkeypatch):
    eager, compiled = compiled_pairs("maml-2nd-1step", torch.float64)
    tasks = _tasks(torch.float64)
    _assert_same(eager, compiled, tasks, True, torch.float64)  # compiled (3 tasks) exists
    monkeypatch.setattr(compile_module, "MAX_COMPILED_LAYOUTS", len(compiled._compiled))
    compiled._compiled._warned_full = False
    with pytest.warns(RuntimeWarning, match="its bound; calls with other layouts run eagerly"):
        _assert_same(eager, compiled, tasks[:2], True, torch.float64)  # a smaller last batch
    _assert_same(eager, compiled, tasks[:1], True, torch.float64)  # no second warning
    _assert_same(eager, compiled, tasks, True, torch.float64)  # the compiled layout still runs


def _failing_compile(*args: object, **kwargs: object) -> Callable[..., object]:
    def fail(*call_args: object) -> object:
        raise RuntimeError("backend exploded\nsecond line")

    return fail


def test_compile_failure_falls_back_to_eager_with_one_warning(monkeypatch) -> None:
    monkeypatch.setattr(compile_module.torch, "compile", _failing_compile)
    eager, compiled = _pair("metasgd-3steps", torch.float64)
    tasks = _tasks(torch.float64)
    with pytest.warns(RuntimeWarning, match=r"failed \(RuntimeError: backend exploded\)"):
        _assert_same(eager, compiled, tasks, True, torch.float64)
    _assert_same(eager, compiled, tasks, False, torch.float64)  # no second warning
    assert compiled._compiled.disabled == "RuntimeError: backend exploded"
    assert compiled.compile_seconds == 0.0


def test_unknown_compile_options_fall_back_to_eager_with_one_warning() -> None:
    eager, compiled = _pair("maml-2nd-1step", torch.float64)
    compiled.set_compile({"mode": "no-such-mode"})
    with pytest.warns(RuntimeWarning, match="torch.compile of the meta-gradient failed"):
        _assert_same(eager, compiled, _tasks(torch.float64), True, torch.float64)
    assert compiled._compiled.disabled is not None


def test_user_errors_surface_as_in_eager_mode(monkeypatch) -> None:
    """A failing compiled call whose eager rerun raises re-raises that error, no warning."""
    monkeypatch.setattr(compile_module.torch, "compile", _failing_compile)
    _, compiled = _pair("maml-2nd-1step", torch.float64)

    def not_scalar(prediction: Tensor, target: Tensor) -> Tensor:
        return (prediction - target) ** 2

    with pytest.raises(ValueError, match="support loss"):
        compiled.meta_gradient(_tasks(torch.float64), not_scalar, batched=True)
    assert compiled._compiled.disabled is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (False, None),
        (True, {"dynamic": False, "fullgraph": True}),
        (
            {"mode": "max-autotune-no-cudagraphs"},
            {"dynamic": False, "fullgraph": True, "mode": "max-autotune-no-cudagraphs"},
        ),
        ({"fullgraph": False}, {"dynamic": False, "fullgraph": False}),
    ],
)
def test_compile_argument(value, expected) -> None:
    for algorithm in (
        MAML(_mlp(torch.float32), compile=value),
        MetaSGD(_mlp(torch.float32), compile=value),
        _anil_with(value),
        MAMLpp(_mlp(torch.float32), compile=value),
    ):
        assert algorithm.compile_options == expected
        assert algorithm.compile_seconds == 0.0


def _anil_with(value: object) -> MAML:
    net = _mlp(torch.float32)
    return ANIL(net, net[2], compile=value)


@pytest.mark.parametrize("value", [1, "yes", {1: 2}, None])
def test_compile_argument_is_checked(value) -> None:
    with pytest.raises(TypeError, match="compile must be a bool or a dict"):
        MAML(_mlp(torch.float32), compile=value)


def test_copies_drop_compiled_functions(compiled_pairs) -> None:
    _, compiled = compiled_pairs("maml-2nd-1step", torch.float64)
    clone = copy.deepcopy(compiled)
    assert clone.compile_options == compiled.compile_options
    assert clone._compiled is not None
    assert len(clone._compiled) == 0
