"""MAML++ per-step BatchNorm: running statistics (BNRS) and weights and biases (BNWB)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MAMLpp
from torch import Tensor, nn
from torch.func import functional_call

STEPS = 2
NORM = "1"


def bn_net(*, track: bool = True, momentum: float | None = 0.1) -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(2, 3),
        nn.BatchNorm1d(3, momentum=momentum, track_running_stats=track),
        nn.Tanh(),
        nn.Linear(3, 1),
    )
    return net.double()


def make_tasks(count: int) -> list[SimpleNamespace]:
    g = torch.Generator().manual_seed(1)

    def draw(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    return [
        SimpleNamespace(
            support_x=draw(6, 2), support_y=draw(6, 1), query_x=draw(5, 2), query_y=draw(5, 1)
        )
        for _ in range(count)
    ]


def fields(task: SimpleNamespace) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    return task.support_x, task.support_y, task.query_x, task.query_y


def mamlpp(net: nn.Module, *, statistics: bool = True, weights: bool = True) -> MAMLpp:
    model = MAMLpp(
        net,
        inner_lr=0.3,
        inner_steps=STEPS,
        msl_iterations=10,
        first_order_iterations=0,
        per_step_bn_statistics=statistics,
        per_step_bn_weights=weights,
    )
    model.meta_iteration = 3  # step weights neither uniform nor all on the last step
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():  # distinct rows, so that a wrong step index shows
        for tensor in model.parameters():
            tensor.add_(0.2 * torch.randn(tensor.shape, generator=g, dtype=tensor.dtype))
        layer = model.per_step_bn.layers[NORM] if model.per_step_bn is not None else None
        if layer is not None and layer.statistics:
            layer.running_mean.copy_(torch.randn(layer.running_mean.shape, generator=g))
            layer.running_var.copy_(torch.rand(layer.running_var.shape, generator=g) + 0.5)
    return model


def reference_objective(model: MAMLpp, task: tuple[Tensor, ...]) -> Tensor:
    """The MSL objective written directly: a torch.func loop that swaps per-step BN itself."""
    support_x, support_y, query_x, query_y = task
    net = model.module
    weights = model.query_step_weights(STEPS)
    assert weights is not None
    rates = model.inner_rates()
    layer = model.per_step_bn.layers[NORM]
    per_step: dict[str, Tensor] = {}
    if layer.weight is not None:
        per_step.update({f"{NORM}.weight": layer.weight, f"{NORM}.bias": layer.bias})
    if layer.statistics:
        per_step.update(
            {
                f"{NORM}.{field}": getattr(layer, field)
                for field in ("running_mean", "running_var", "num_batches_tracked")
            }
        )

    def run(params: dict[str, Tensor], state: int, x: Tensor) -> Tensor:
        swapped = {name: tensor[state] for name, tensor in per_step.items()}
        return functional_call(net, {**params, **swapped}, (x,))

    params = dict(net.named_parameters())
    adapted = [name for name in params if name in rates]
    total = torch.zeros((), dtype=torch.float64)
    for step in range(STEPS):
        support_loss = F.mse_loss(run(params, step, support_x), support_y)
        grads = torch.autograd.grad(support_loss, [params[n] for n in adapted], create_graph=True)
        params = {
            **params,
            **{n: params[n] - rates[n][step] * g for n, g in zip(adapted, grads, strict=True)},
        }
        total = total + weights[step] * F.mse_loss(run(params, step + 1, query_x), query_y)
    return total


def gradients(model: nn.Module, loss: Tensor) -> dict[str, Tensor]:
    named = dict(model.named_parameters())
    found = torch.autograd.grad(loss, list(named.values()), allow_unused=True)
    return {name: g for name, g in zip(named, found, strict=True) if g is not None}


@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize(("statistics", "weights"), [(True, True), (False, True), (True, False)])
def test_meta_gradients_match_a_hand_written_per_step_loop(
    mode: str, statistics: bool, weights: bool
) -> None:
    model = mamlpp(bn_net(), statistics=statistics, weights=weights)
    model.train(mode == "train")
    task = fields(make_tasks(1)[0])
    ours = gradients(model, model.query_loss(F.mse_loss, *task))
    reference = gradients(model, reference_objective(model, task))
    assert ours.keys() == reference.keys()
    if weights:
        assert {"per_step_bn.layers.1.weight", "per_step_bn.layers.1.bias"} <= ours.keys()
        assert not {"module.1.weight", "module.1.bias"} & ours.keys()
    for name in ours:
        torch.testing.assert_close(ours[name], reference[name], rtol=1e-10, atol=1e-12)


def test_per_step_rows_change_the_objective() -> None:
    """The rows are really used: equal rows give another objective than distinct ones."""
    for mode in ("train", "eval"):
        model = mamlpp(bn_net())
        model.train(mode == "train")
        task = fields(make_tasks(1)[0])
        distinct = model.query_loss(F.mse_loss, *task).item()
        layer = model.per_step_bn.layers[NORM]
        with torch.no_grad():
            for tensor in (layer.weight, layer.bias, layer.running_mean, layer.running_var):
                tensor.copy_(tensor[0].expand_as(tensor))
        assert model.query_loss(F.mse_loss, *task).item() != pytest.approx(distinct, rel=1e-6)


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gradcheck_on_a_tiny_net(mode: str) -> None:
    model = mamlpp(bn_net())
    model.train(mode == "train")

    class Objective(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mamlpp = model

        def forward(self, *task: Tensor) -> Tensor:
            return self.mamlpp.query_loss(F.mse_loss, *task)

    objective = Objective()
    names = [name for name, _ in objective.named_parameters()]
    task = fields(make_tasks(1)[0])

    def loss(*tensors: Tensor) -> Tensor:
        return functional_call(objective, dict(zip(names, tensors, strict=True)), task)

    inputs = tuple(p.detach().clone().requires_grad_() for p in objective.parameters())
    assert torch.autograd.gradcheck(loss, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize(("track", "mode"), [(True, "eval"), (False, "train"), (False, "eval")])
def test_batched_meta_gradient_equals_the_loop(track: bool, mode: str) -> None:
    tasks = make_tasks(3)
    results = []
    for batched in (False, True):
        model = mamlpp(bn_net(track=track), statistics=track)
        model.train(mode == "train")
        out = model.meta_gradient(tasks, F.mse_loss, batched=batched)
        results.append((out.losses, {n: p.grad for n, p in model.named_parameters()}))
    (loop_losses, loop_grads), (batched_losses, batched_grads) = results
    torch.testing.assert_close(batched_losses, loop_losses, rtol=1e-10, atol=1e-12)
    assert loop_grads.keys() == batched_grads.keys()
    assert loop_grads["per_step_bn.layers.1.weight"] is not None
    for name, grad in loop_grads.items():
        if grad is None:
            assert batched_grads[name] is None or not batched_grads[name].any(), name
        else:
            torch.testing.assert_close(batched_grads[name], grad, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("msl_iterations", [0, 10])
def test_running_statistics_per_step_are_what_batchnorm_accumulates(
    momentum: float | None, msl_iterations: int
) -> None:
    net = bn_net(momentum=momentum)
    original = copy.deepcopy(net[1])
    model = MAMLpp(
        net,
        inner_lr=0.3,
        inner_steps=STEPS,
        msl_iterations=msl_iterations,
        per_step_bn_statistics=True,
    )
    seen: list[Tensor] = []
    net[1].register_forward_pre_hook(lambda _, args: seen.append(args[0].detach().clone()))
    tasks = make_tasks(2)
    model.meta_gradient(tasks, F.mse_loss)
    model.adapted_predictions(tasks[0], F.mse_loss)  # a learner: support passes, final query
    weights = model.query_step_weights(STEPS)
    assert weights is not None
    queries = [state for state in range(1, STEPS + 1) if weights[state - 1] or state == STEPS]
    per_task = [*range(STEPS), *queries]  # the support passes run before the query passes
    states = per_task * len(tasks) + [*range(STEPS), STEPS]
    assert len(seen) == len(states)
    references = [copy.deepcopy(original) for _ in range(STEPS + 1)]
    for state, batch in zip(states, seen, strict=True):
        references[state](batch)
    layer = model.per_step_bn.layers[NORM]
    for state, reference in enumerate(references):
        torch.testing.assert_close(layer.running_mean[state], reference.running_mean)
        torch.testing.assert_close(layer.running_var[state], reference.running_var)
        assert layer.num_batches_tracked[state] == reference.num_batches_tracked
    # the wrapped layer's own statistics are not touched
    torch.testing.assert_close(net[1].running_mean, original.running_mean)
    assert net[1].num_batches_tracked == original.num_batches_tracked


def test_eval_predictions_use_the_final_state() -> None:
    model = mamlpp(bn_net()).eval()
    task = make_tasks(1)[0]
    layer = model.per_step_bn.layers[NORM]
    ours = model.adapted_predictions(task, F.mse_loss)
    learner = model.clone().adapt_on(F.mse_loss, task.support_x, task.support_y)
    swapped = {
        f"{NORM}.{field}": getattr(layer, field)[STEPS]
        for field in ("weight", "bias", "running_mean", "running_var")
    }
    expected = functional_call(model.module, {**learner.params, **swapped}, (task.query_x,))
    torch.testing.assert_close(ours, expected.detach())


def test_state_dict_round_trip_restores_per_step_state() -> None:
    trained = mamlpp(bn_net())
    trained.meta_gradient(make_tasks(2), F.mse_loss)
    torch.optim.SGD(trained.parameters(), lr=0.1).step()
    state = trained.state_dict()
    assert {
        "per_step_bn.layers.1.weight",
        "per_step_bn.layers.1.bias",
        "per_step_bn.layers.1.running_mean",
        "per_step_bn.layers.1.running_var",
        "per_step_bn.layers.1.num_batches_tracked",
    } <= state.keys()
    restored = MAMLpp(
        bn_net(),
        inner_steps=STEPS,
        msl_iterations=10,
        first_order_iterations=0,
        per_step_bn_statistics=True,
        per_step_bn_weights=True,
    )
    restored.load_state_dict(state)
    for name, tensor in restored.state_dict().items():
        torch.testing.assert_close(tensor, state[name], rtol=0, atol=0)
    task = fields(make_tasks(1)[0])
    for model in (trained, restored):
        model.eval()
    torch.testing.assert_close(
        restored.query_loss(F.mse_loss, *task), trained.query_loss(F.mse_loss, *task)
    )
    with pytest.raises(RuntimeError, match="size mismatch"):
        MAMLpp(bn_net(), inner_steps=STEPS + 1, per_step_bn_weights=True).load_state_dict(
            state, strict=False
        )


def test_defaults_leave_batchnorm_alone() -> None:
    model = MAMLpp(bn_net(), inner_steps=STEPS)
    assert model.per_step_bn is None
    assert "module.1.weight" in {f"module.{n}" for n in model.adapt_names}
    assert not any(key.startswith("per_step_bn") for key in model.state_dict())


def test_bn_weights_are_not_adapted() -> None:
    model = MAMLpp(bn_net(), inner_steps=STEPS, per_step_bn_weights=True)
    assert model.adapt_names == ("0.weight", "0.bias", "3.weight", "3.bias")
    assert sorted(model.inner_rates()) == sorted(model.adapt_names)
    assert model.per_step_bn.layers[NORM].weight.shape == (STEPS + 1, 3)
    torch.testing.assert_close(
        model.per_step_bn.layers[NORM].weight.detach(), model.module[1].weight.detach().expand(3, 3)
    )


@pytest.mark.parametrize(
    ("build", "error", "match"),
    [
        (lambda: MAMLpp(bn_net(), per_step_bn_statistics=1), TypeError, "per_step_bn_statistics"),
        (lambda: MAMLpp(bn_net(), per_step_bn_weights="yes"), TypeError, "per_step_bn_weights"),
        (
            lambda: MAMLpp(nn.Linear(1, 1), per_step_bn_weights=True),
            ValueError,
            "none does",
        ),
        (
            lambda: MAMLpp(bn_net(track=False), per_step_bn_statistics=True),
            ValueError,
            "track_running_stats=True",
        ),
        (
            lambda: MAMLpp(bn_net(), adapt_names=["0.weight", "1.bias"], per_step_bn_weights=True),
            ValueError,
            r"adapt_names includes \['1.bias'\]",
        ),
        (
            lambda: MAMLpp(bn_net(), adapt_names="0.weight", per_step_bn_weights=True),
            TypeError,
            "got the string",
        ),
    ],
)
def test_invalid_options_are_refused(
    build: Callable[[], MAMLpp], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        build()


@pytest.mark.parametrize(("track", "mode"), [(False, "train"), (True, "eval")])
def test_compiled_meta_gradient_equals_eager(track: bool, mode: str) -> None:
    tasks = make_tasks(3)
    eager = mamlpp(bn_net(track=track), statistics=track).train(mode == "train")
    compiled = copy.deepcopy(eager)
    compiled.set_compile(True)
    grads = []
    for model in (eager, compiled):
        out = model.meta_gradient(tasks, F.mse_loss, batched=True)
        grads.append((out.losses, {n: p.grad for n, p in model.named_parameters()}))
    assert compiled.compile_seconds > 0
    (eager_losses, eager_grads), (compiled_losses, compiled_grads) = grads
    torch.testing.assert_close(compiled_losses, eager_losses, rtol=1e-10, atol=1e-12)
    for name, grad in eager_grads.items():
        if grad is None:  # the layer's own BN weight: unused, a zero gradient when compiled
            assert compiled_grads[name] is None or not compiled_grads[name].any(), name
        else:
            torch.testing.assert_close(compiled_grads[name], grad, rtol=1e-9, atol=1e-12)
