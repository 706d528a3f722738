"""MAML, MetaSGD and ANIL: meta-gradients against a torch.func reference, the batched path,
errors and memory."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Mapping

import pytest
import torch
import torch.nn.functional as F
from meta_algos import ANIL, MAML, Learner, MetaSGD, head_names
from torch import Tensor, nn
from torch.func import functional_call, grad


def mlp(hidden: int = 8) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(), nn.Linear(hidden, 1)
    )


def conv4(channels: int = 3, ways: int = 5) -> nn.Sequential:
    """Four conv blocks with per-task BatchNorm, for tiny 1x8x8 images."""
    layers: list[nn.Module] = []
    in_channels = 1
    for _ in range(4):
        layers += [
            nn.Conv2d(in_channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels, track_running_stats=False),
            nn.ReLU(),
            nn.MaxPool2d(2, ceil_mode=True),
        ]
        in_channels = channels
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels, ways))


def reference_query_loss(
    model: nn.Module,
    params: Mapping[str, Tensor],
    loss_fn: Callable[[Tensor, Tensor], Tensor],
    task: tuple[Tensor, Tensor, Tensor, Tensor],
    *,
    steps: int,
    rates: Mapping[str, Tensor | float],
    adapt_names: list[str],
    first_order: bool = False,
    step_weights: list[float] | None = None,
    step_rates: list[Mapping[str, Tensor | float]] | None = None,
) -> Tensor:
    """MAML query loss written directly with torch.func (no meta_algos code)."""
    support_x, support_y, query_x, query_y = task
    fixed = {name: p for name, p in params.items() if name not in adapt_names}

    def loss_at(adapted: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        return loss_fn(functional_call(model, {**fixed, **adapted}, (x,)), y)

    adapted = {name: params[name] for name in adapt_names}
    total = torch.zeros((), dtype=support_x.dtype)
    for step in range(steps):
        grads = grad(loss_at)(adapted, support_x, support_y)
        lr = rates if step_rates is None else step_rates[step]
        adapted = {
            name: adapted[name] - lr[name] * (grads[name].detach() if first_order else grads[name])
            for name in adapt_names
        }
        if step_weights is not None:
            total = total + step_weights[step] * loss_at(adapted, query_x, query_y)
    if step_weights is not None:
        return total
    return loss_at(adapted, query_x, query_y)


def sinusoid_tasks(
    n_tasks: int, shots: int, device: torch.device, dtype: torch.dtype
) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(1)
    amp = torch.rand(n_tasks, 1, 1, generator=g) * 4 + 0.5
    phase = torch.rand(n_tasks, 1, 1, generator=g) * 3
    sx = torch.rand(n_tasks, shots, 1, generator=g) * 10 - 5
    qx = torch.rand(n_tasks, shots, 1, generator=g) * 10 - 5
    out = (sx, amp * torch.sin(sx + phase), qx, amp * torch.sin(qx + phase))
    return tuple(t.to(device=device, dtype=dtype) for t in out)


def image_tasks(n_tasks: int, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(2)
    sx = torch.randn(n_tasks, 5, 1, 8, 8, generator=g)
    qx = torch.randn(n_tasks, 10, 1, 8, 8, generator=g)
    sy = torch.arange(5).repeat(n_tasks, 1)
    qy = torch.randint(0, 5, (n_tasks, 10), generator=g)
    return (sx.to(device, dtype), sy.to(device), qx.to(device, dtype), qy.to(device))


def build(kind: str, net: nn.Module, **kwargs: object) -> MAML:
    if kind == "maml":
        return MAML(net, **kwargs)  # type: ignore[arg-type]
    if kind == "metasgd":
        return MetaSGD(net, **kwargs)  # type: ignore[arg-type]
    return ANIL(net, list(net.children())[-1], **kwargs)


def reference_rates(maml: MAML) -> dict[str, Tensor | float]:
    if isinstance(maml, MetaSGD):
        return dict(maml.inner_rates())
    return dict.fromkeys(maml.adapt_names, maml.inner_lr)


def loop_loss(maml: MAML, loss_fn, tasks) -> Tensor:
    return sum(maml.query_loss(loss_fn, *t) for t in zip(*tasks, strict=True)) / len(tasks[0])


# --------------------------------------------------------------------------------------------
# meta-gradients against the hand-written torch.func reference


@pytest.mark.parametrize("kind", ["maml", "metasgd", "anil"])
@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("first_order", [False, True])
def test_meta_gradient_matches_torch_func_reference(kind, steps, first_order, device) -> None:
    torch.manual_seed(0)
    maml = build(
        kind,
        mlp().to(device, torch.float64),
        inner_lr=0.05,
        inner_steps=steps,
        first_order=first_order,
    )
    if isinstance(maml, MetaSGD):  # make the learned rates differ per element
        with torch.no_grad():
            for rate in maml.inner_rates().values():
                rate.uniform_(0.01, 0.1)
    tasks = sinusoid_tasks(3, 6, device, torch.float64)
    ours = torch.autograd.grad(loop_loss(maml, F.mse_loss, tasks), list(maml.parameters()))
    params = dict(maml.module.named_parameters())
    ref_loss = (
        sum(
            reference_query_loss(
                maml.module,
                params,
                F.mse_loss,
                t,
                steps=steps,
                rates=reference_rates(maml),
                adapt_names=list(maml.adapt_names),
                first_order=first_order,
            )
            for t in zip(*tasks, strict=True)
        )
        / 3
    )
    ref = torch.autograd.grad(ref_loss, list(maml.parameters()))
    for a, b in zip(ours, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    batched = maml.batched_query_loss(F.mse_loss, *tasks)
    torch.testing.assert_close(batched, ref_loss, rtol=1e-10, atol=1e-12)
    for a, b in zip(torch.autograd.grad(batched, list(maml.parameters())), ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


class _QueryLoss(nn.Module):
    """Calls (batched_)query_loss in forward so functional_call can swap the meta-parameters."""

    def __init__(self, maml: MAML, batched: bool) -> None:
        super().__init__()
        self.maml = maml
        self.batched = batched

    def forward(self, *task: Tensor) -> Tensor:
        if self.batched:
            return self.maml.batched_query_loss(F.mse_loss, *task)
        return self.maml.query_loss(F.mse_loss, *task)


@pytest.mark.parametrize("kind", ["maml", "metasgd", "anil"])
@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("batched", [False, True])
def test_meta_gradient_gradcheck_float64(kind, steps, batched, device) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 3), nn.Tanh(), nn.Linear(3, 1)).to(device, torch.float64)
    maml = build(kind, net, inner_lr=0.3, inner_steps=steps)
    wrapper = _QueryLoss(maml, batched)
    tasks = sinusoid_tasks(2, 4, device, torch.float64)
    task = tasks if batched else tuple(t[0] for t in tasks)
    names = [name for name, _ in wrapper.named_parameters()]
    inputs = tuple(p.detach().clone().requires_grad_() for p in wrapper.parameters())

    def objective(*values: Tensor) -> Tensor:
        return torch.func.functional_call(wrapper, dict(zip(names, values, strict=True)), task)

    assert torch.autograd.gradcheck(objective, inputs, eps=1e-6, atol=1e-6)


# --------------------------------------------------------------------------------------------
# the batched (vmap) path against the per-task clone()/adapt() loop


def _loop_meta_gradient(maml: MAML, loss_fn, tasks) -> tuple[Tensor, list[Tensor]]:
    total = torch.zeros((), dtype=tasks[0].dtype, device=tasks[0].device)
    for support_x, support_y, query_x, query_y in zip(*tasks, strict=True):
        learner = maml.clone()
        for _ in range(maml.inner_steps):
            learner.adapt(loss_fn(learner(support_x), support_y))
        total = total + loss_fn(learner(query_x), query_y)
    total = total / len(tasks[0])
    return total, list(torch.autograd.grad(total, list(maml.parameters())))


@pytest.mark.parametrize("kind", ["maml", "metasgd", "anil"])
@pytest.mark.parametrize("first_order", [False, True])
def test_batched_matches_loop_mlp_float32(kind, first_order, device) -> None:
    torch.manual_seed(0)
    maml = build(kind, mlp(40).to(device), inner_lr=0.01, inner_steps=2, first_order=first_order)
    tasks = sinusoid_tasks(5, 10, device, torch.float32)
    loop_value, loop_grads = _loop_meta_gradient(maml, F.mse_loss, tasks)
    batched = maml.batched_query_loss(F.mse_loss, *tasks)
    torch.testing.assert_close(batched, loop_value, rtol=1e-5, atol=1e-5)
    for a, b in zip(torch.autograd.grad(batched, list(maml.parameters())), loop_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["maml", "metasgd", "anil"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batched_matches_loop_conv_batchnorm(kind, dtype, device) -> None:
    torch.manual_seed(0)
    maml = build(kind, conv4().to(device, dtype), inner_lr=0.1, inner_steps=2)
    tasks = image_tasks(3, device, dtype)
    loop_value, loop_grads = _loop_meta_gradient(maml, F.cross_entropy, tasks)
    batched = maml.batched_query_loss(F.cross_entropy, *tasks)
    torch.testing.assert_close(batched, loop_value, rtol=1e-5, atol=1e-5)
    for a, b in zip(torch.autograd.grad(batched, list(maml.parameters())), loop_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_batched_conv_batchnorm_meta_gradient_matches_finite_differences(device) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.BatchNorm2d(2, track_running_stats=False),
        nn.Tanh(),
        nn.Flatten(),
        nn.Linear(2 * 4 * 4, 3),
    ).to(device, torch.float64)
    maml = MAML(net, inner_lr=0.5, inner_steps=1)
    g = torch.Generator().manual_seed(3)
    task = (
        torch.randn(2, 3, 1, 4, 4, generator=g),
        torch.arange(3).repeat(2, 1),
        torch.randn(2, 4, 1, 4, 4, generator=g),
        torch.randint(0, 3, (2, 4), generator=g),
    )
    task = tuple(
        t.to(device, torch.float64) if t.is_floating_point() else t.to(device) for t in task
    )

    class Batched(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.maml = maml

        def forward(self) -> Tensor:
            return self.maml.batched_query_loss(F.cross_entropy, *task)

    batched = Batched()
    names = [name for name, _ in batched.named_parameters()]
    inputs = tuple(p.detach().clone().requires_grad_() for p in batched.parameters())

    def objective(*values: Tensor) -> Tensor:
        return torch.func.functional_call(batched, dict(zip(names, values, strict=True)), ())

    assert torch.autograd.gradcheck(objective, inputs, eps=1e-6, atol=1e-6)


class _FunctionalNorm(nn.Module):
    """Calls ``F.batch_norm`` itself (no BatchNorm layer), as hand-written meta-layers do."""

    def __init__(self) -> None:
        super().__init__()
        self.hidden = nn.Linear(1, 6)
        self.scale = nn.Parameter(torch.linspace(0.5, 1.5, 6))
        self.shift = nn.Parameter(torch.linspace(-0.2, 0.2, 6))
        self.out = nn.Linear(6, 1)

    def forward(self, x: Tensor) -> Tensor:
        h = F.batch_norm(self.hidden(x), None, None, self.scale, self.shift, training=True)
        return self.out(torch.tanh(h))


@pytest.mark.parametrize("kind", ["maml", "metasgd"])
def test_batched_matches_loop_with_functional_batch_norm_call(kind) -> None:
    # The primitive-op batch norm must cover F.batch_norm wherever the forward calls it; the
    # fused kernel under vmap gets the meta-gradient of the upstream layer wrong.
    torch.manual_seed(0)
    maml = build(kind, _FunctionalNorm().double(), inner_lr=0.3, inner_steps=2)
    tasks = sinusoid_tasks(3, 8, torch.device("cpu"), torch.float64)
    loop_value, loop_grads = _loop_meta_gradient(maml, F.mse_loss, tasks)
    batched = maml.batched_query_loss(F.mse_loss, *tasks)
    torch.testing.assert_close(batched, loop_value, rtol=1e-10, atol=1e-12)
    for a, b in zip(torch.autograd.grad(batched, list(maml.parameters())), loop_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-11)


def test_primitive_batch_norm_equals_functional_batch_norm(device) -> None:
    from meta_algos._batchnorm import PrimitiveBatchNormMode, primitive_batch_norm

    torch.manual_seed(0)
    x = torch.randn(6, 3, 4, 5, device=device, dtype=torch.float64)
    weight, bias = (
        torch.randn(3, device=device, dtype=torch.float64),
        torch.randn(3, device=device, dtype=torch.float64),
    )
    mean, var = (
        torch.randn(3, device=device, dtype=torch.float64),
        torch.rand(3, device=device, dtype=torch.float64) + 0.5,
    )
    torch.testing.assert_close(
        primitive_batch_norm(x, None, None, weight, bias, True, 0.1, 1e-3),
        F.batch_norm(x, None, None, weight, bias, True, 0.1, 1e-3),
    )
    torch.testing.assert_close(
        primitive_batch_norm(x, mean, var, weight, bias, False),
        F.batch_norm(x, mean, var, weight, bias, False),
    )
    bn = nn.BatchNorm1d(3, track_running_stats=False).to(device, torch.float64)
    x1 = torch.randn(7, 3, device=device, dtype=torch.float64)
    with PrimitiveBatchNormMode():
        routed = bn(x1)
    torch.testing.assert_close(routed, F.batch_norm(x1, None, None, bn.weight, bn.bias, True))
    with pytest.raises(ValueError, match=r"track_running_stats=False or call .eval"):
        primitive_batch_norm(x, mean, var, weight, bias, True)


def test_batched_eval_mode_batchnorm_with_running_stats_matches_loop(device) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1),
        nn.BatchNorm2d(2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(2 * 8 * 8, 5),
    ).to(device, torch.float64)
    with torch.no_grad():
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 1.5)
    net.eval()
    maml = MAML(net, inner_lr=0.1, inner_steps=2)
    tasks = image_tasks(3, device, torch.float64)
    loop_value, loop_grads = _loop_meta_gradient(maml, F.cross_entropy, tasks)
    batched = maml.batched_query_loss(F.cross_entropy, *tasks)
    torch.testing.assert_close(batched, loop_value)
    for a, b in zip(torch.autograd.grad(batched, list(maml.parameters())), loop_grads, strict=True):
        torch.testing.assert_close(a, b)


def test_batched_rejects_training_batchnorm_with_running_stats(device) -> None:
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten()).to(device)
    maml = MAML(net)
    tasks = image_tasks(2, device, torch.float32)
    with pytest.raises(
        ValueError,
        match=r"\['1'\] are in training mode with "
        r"track_running_stats=True; construct them with "
        r"track_running_stats=False",
    ):
        maml.batched_query_loss(F.cross_entropy, *tasks)


def test_batched_rejects_mismatched_task_counts(device) -> None:
    maml = MAML(mlp().to(device))
    sx, sy, qx, qy = sinusoid_tasks(4, 5, device, torch.float32)
    with pytest.raises(
        ValueError, match=r"support_x has 4, support_y has 4, query_x has 3, query_y has 3"
    ):
        maml.batched_query_loss(F.mse_loss, sx, sy, qx[:3], qy[:3])
    with pytest.raises(ValueError, match=r"leading task dimension"):
        maml.batched_query_loss(F.mse_loss, sx, sy, qx, torch.tensor(1.0))
    with pytest.raises(ValueError, match=r"at least one task"):
        maml.batched_query_loss(F.mse_loss, sx[:0], sy[:0], qx[:0], qy[:0])
    with pytest.raises(TypeError, match=r"query_y must be a torch.Tensor, got list"):
        maml.batched_query_loss(F.mse_loss, sx, sy, qx, [1.0])


def test_non_scalar_losses_are_rejected(device) -> None:
    maml = MAML(mlp().to(device))
    sx, sy, qx, qy = sinusoid_tasks(2, 5, device, torch.float32)

    def unreduced(prediction: Tensor, target: Tensor) -> Tensor:
        return (prediction - target) ** 2

    learner = maml.clone()
    with pytest.raises(ValueError, match=r"support_loss must be a scalar .* got shape \(5, 1\)"):
        learner.adapt(unreduced(learner(sx[0]), sy[0]))
    with pytest.raises(ValueError, match=r"must be a scalar .* got shape \(5, 1\)"):
        maml.query_loss(unreduced, sx[0], sy[0], qx[0], qy[0])
    with pytest.raises(ValueError, match=r"the query loss must be a scalar .* got shape \(5, 1\)"):
        maml.query_loss(unreduced, sx[0], sy[0], qx[0], qy[0], steps=0)
    with pytest.raises(
        ValueError, match=r"the support loss must be a scalar .* got shape \(5, 1\)"
    ):
        maml.batched_query_loss(unreduced, sx, sy, qx, qy)
    with pytest.raises(TypeError, match=r"support_loss must be a torch.Tensor, got float"):
        learner.adapt(1.0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# behaviour of MAML, Learner, MetaSGD, ANIL


def test_learners_are_independent_and_accumulate_into_the_module(device) -> None:
    torch.manual_seed(0)
    maml = MAML(mlp().to(device), inner_lr=0.1)
    before = {n: p.detach().clone() for n, p in maml.module.named_parameters()}
    sx, sy, qx, qy = sinusoid_tasks(2, 5, device, torch.float32)
    first, second = maml.clone(), maml.clone()
    assert isinstance(first, Learner)
    first.adapt_on(F.mse_loss, sx[0], sy[0], steps=2)
    assert first.steps_taken == 2
    assert second.steps_taken == 0
    for name, p in maml.module.named_parameters():
        assert second.params[name] is p
        assert not torch.equal(first.params[name], p)
        torch.testing.assert_close(p, before[name], rtol=0, atol=0)
    torch.testing.assert_close(second(qx[0]), maml(qx[0]))
    F.mse_loss(first(qx[0]), qy[0]).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in maml.parameters())
    first.params.clear()  # a copy: the learner keeps its parameters
    assert len(first.params) == len(before)


def test_adapt_names_subset_leaves_others_fixed(device) -> None:
    maml = MAML(mlp().to(device), inner_lr=0.1, adapt_names=["4.bias", "0.weight"])
    assert maml.adapt_names == ("0.weight", "4.bias")
    sx, sy, _, _ = sinusoid_tasks(1, 5, device, torch.float32)
    learner = maml.clone().adapt_on(F.mse_loss, sx[0], sy[0])
    for name, p in maml.module.named_parameters():
        assert (learner.params[name] is p) == (name not in maml.adapt_names)


def test_constructor_validation() -> None:
    net = mlp()
    with pytest.raises(
        KeyError, match=r"not parameters: \['nope'\]; expected a subset of \['0.bias'"
    ):
        MAML(net, adapt_names=["0.weight", "nope"])
    with pytest.raises(ValueError, match=r"adapt_names is empty"):
        MAML(net, adapt_names=[])
    with pytest.raises(TypeError, match=r"got the string '0.weight'"):
        MAML(net, adapt_names="0.weight")
    with pytest.raises(TypeError, match=r"module must be a torch.nn.Module, got function"):
        MAML(lambda x: x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"the module has no parameters"):
        MAML(nn.ReLU())
    with pytest.raises(ValueError, match=r"inner_steps must be a non-negative int, got -1"):
        MAML(net, inner_steps=-1)
    with pytest.raises(ValueError, match=r"inner_lr must be a finite real number, got nan"):
        MAML(net, inner_lr=float("nan"))
    with pytest.raises(ValueError, match=r"steps must be a non-negative int, got 1.5"):
        MAML(net).clone().adapt_on(F.mse_loss, torch.ones(2, 1), torch.ones(2, 1), steps=1.5)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match=r"\['nope'\]"):
        MetaSGD(net, adapt_names=["nope"])


def test_allow_unused_false_raises_for_unused_parameter() -> None:
    class WithUnused(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(1, 1)
            self.unused = nn.Linear(1, 1)

        def forward(self, x: Tensor) -> Tensor:
            return self.used(x)

    net = WithUnused()
    learner = MAML(net, allow_unused=False).clone()
    with pytest.raises(ValueError, match=r"does not depend on adapted parameters \['unused.bias'"):
        learner.adapt(F.mse_loss(learner(torch.ones(3, 1)), torch.zeros(3, 1)))
    learner = MAML(net, allow_unused=True, inner_lr=0.1).clone()
    learner.adapt(F.mse_loss(learner(torch.ones(3, 1)), torch.zeros(3, 1)))
    assert learner.params["unused.weight"] is net.unused.weight


def test_metasgd_rates_are_parameters_trained_by_the_meta_gradient(device) -> None:
    torch.manual_seed(0)
    metasgd = MetaSGD(mlp().to(device), inner_lr=0.05, adapt_names=["0.weight", "4.bias"])
    rates = metasgd.inner_rates()
    assert list(rates) == ["0.weight", "4.bias"]
    assert sorted(metasgd.rates.keys()) == ["0__weight", "4__bias"]
    assert rates["0.weight"].shape == metasgd.module[0].weight.shape
    assert torch.all(rates["0.weight"] == 0.05)
    param_ids = {id(p) for p in metasgd.parameters()}
    assert all(id(rate) in param_ids for rate in rates.values())
    assert "rates.0__weight" in metasgd.state_dict()
    metasgd.query_loss(
        F.mse_loss, *(t[0] for t in sinusoid_tasks(1, 5, device, torch.float32))
    ).backward()
    assert all(rate.grad is not None and rate.grad.abs().sum() > 0 for rate in rates.values())


def test_metasgd_rejects_names_that_clash_after_escaping() -> None:
    net = nn.Module()
    net.a = nn.Module()
    net.a.b = nn.Linear(1, 1)
    net.a__b = nn.Linear(1, 1)
    with pytest.raises(ValueError, match=r"map to the same rate key"):
        MetaSGD(net)


def test_head_names_and_anil_errors() -> None:
    net = mlp()
    assert head_names(net, net[4]) == ["4.weight", "4.bias"]
    assert ANIL(net, net[4]).adapt_names == ("4.weight", "4.bias")
    with pytest.raises(
        ValueError,
        match=r"head \(Linear\) is not a submodule of module "
        r"\(Sequential\): 2 of its 2 parameters",
    ):
        head_names(net, nn.Linear(8, 1))
    with pytest.raises(ValueError, match=r"head \(Tanh\) has no parameters"):
        ANIL(net, net[1])
    with pytest.raises(TypeError, match=r"ANIL sets adapt_names from head"):
        ANIL(net, net[4], adapt_names=["0.weight"])
    with pytest.raises(TypeError, match=r"head must be a torch.nn.Module, got str"):
        head_names(net, "4")  # type: ignore[arg-type]


def test_meta_iteration_counter_survives_state_dict() -> None:
    maml = MAML(mlp())
    assert maml.meta_iteration == 0
    assert maml.advance_iteration() == 1
    maml.advance_iteration()
    restored = MAML(mlp())
    restored.load_state_dict(maml.state_dict())
    assert restored.meta_iteration == 2
    restored.meta_iteration = 7
    assert restored.meta_iteration == 7
    with pytest.raises(ValueError, match=r"meta_iteration must be a non-negative int, got -3"):
        restored.meta_iteration = -3


def test_forward_runs_the_unadapted_module() -> None:
    net = mlp()
    x = torch.randn(4, 1)
    torch.testing.assert_close(MAML(net)(x), net(x))


def test_tied_weights_stay_tied_in_the_learner() -> None:
    net = nn.Sequential(nn.Linear(3, 3, bias=False), nn.Tanh(), nn.Linear(3, 3, bias=False))
    net[2].weight = net[0].weight
    maml = MAML(net, inner_lr=0.1)
    assert maml.adapt_names == ("0.weight",)
    x = torch.randn(5, 3)
    learner = maml.clone().adapt_on(F.mse_loss, x, x)
    w = learner.params["0.weight"]
    torch.testing.assert_close(learner(x), torch.tanh(x @ w.T) @ w.T)


# --------------------------------------------------------------------------------------------
# memory: no graph outlives its meta-iteration


def test_adapted_tensors_are_freed_after_backward(device) -> None:
    maml = MAML(mlp().to(device), inner_lr=0.1, inner_steps=2)
    sx, sy, qx, qy = sinusoid_tasks(1, 5, device, torch.float32)
    refs: list[weakref.ref[Tensor]] = []
    for _ in range(3):
        learner = maml.clone().adapt_on(F.mse_loss, sx[0], sy[0])
        refs.extend(weakref.ref(t) for t in learner.params.values())
        F.mse_loss(learner(qx[0]), qy[0]).backward()
        del learner
    gc.collect()
    assert all(ref() is None for ref in refs)


def test_repeated_batched_meta_iterations_do_not_grow_live_tensors(device) -> None:
    maml = MAML(conv4().to(device), inner_lr=0.1)
    optimizer = torch.optim.SGD(maml.parameters(), lr=0.01)
    tasks = image_tasks(2, device, torch.float32)

    def live_tensors() -> int:
        gc.collect()
        return sum(1 for obj in gc.get_objects() if issubclass(type(obj), Tensor))

    counts = []
    for _ in range(4):
        optimizer.zero_grad()
        maml.batched_query_loss(F.cross_entropy, *tasks).backward()
        optimizer.step()
        maml.advance_iteration()
        counts.append(live_tensors())
    assert counts[-1] == counts[1]


@pytest.mark.parametrize("kind", ["maml", "metasgd", "anil"])
def test_query_losses_under_no_grad_are_the_detached_values(kind, device) -> None:
    torch.manual_seed(0)
    maml = build(kind, mlp().to(device), inner_lr=0.1, inner_steps=2)
    tasks = sinusoid_tasks(3, 5, device, torch.float32)
    task = tuple(t[0] for t in tasks)
    expected_one = maml.query_loss(F.mse_loss, *task).detach()
    expected_batch = maml.batched_query_loss(F.mse_loss, *tasks).detach()
    with torch.no_grad():
        one = maml.query_loss(F.mse_loss, *task)
        batch = maml.batched_query_loss(F.mse_loss, *tasks)
    assert not one.requires_grad
    assert not batch.requires_grad
    torch.testing.assert_close(one, expected_one)
    torch.testing.assert_close(batch, expected_batch)
    learner = maml.clone()
    with torch.no_grad(), pytest.raises(ValueError, match=r"computed under torch.no_grad\(\)"):
        learner.adapt(F.mse_loss(learner(task[0]), task[1]))


def test_frozen_parameters_are_not_adapted_in_either_path(device) -> None:
    torch.manual_seed(0)
    net = mlp().to(device, torch.float64)
    net[0].weight.requires_grad_(False)
    maml = MAML(net, inner_lr=0.1, inner_steps=2)
    tasks = sinusoid_tasks(3, 5, device, torch.float64)
    learner = maml.clone().adapt_on(F.mse_loss, tasks[0][0], tasks[1][0])
    assert learner.params["0.weight"] is net[0].weight
    loop = loop_loss(maml, F.mse_loss, tasks)
    torch.testing.assert_close(maml.batched_query_loss(F.mse_loss, *tasks), loop)
