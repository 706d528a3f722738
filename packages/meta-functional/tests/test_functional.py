"""Tests of the functional core: named_params/buffers, functional_forward, inner_step, adapt."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
import torch
from meta_functional import (
    adapt,
    adapt_trajectory,
    functional_forward,
    inner_step,
    named_buffers,
    named_params,
)
from torch import Tensor, nn
from torch.func import functional_call

F64 = torch.float64


def mlp(device: torch.device, dtype: torch.dtype = F64) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)).to(device, dtype)


class SmallConv(nn.Module):
    """Conv -> BatchNorm (batch statistics only) -> tanh -> linear head, for 1x5x5 inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2, track_running_stats=False), nn.Tanh()
        )
        self.head = nn.Linear(2 * 3 * 3, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x).flatten(1))


def small_conv(device: torch.device) -> nn.Module:
    torch.manual_seed(1)
    return SmallConv().to(device, F64)


def support_query(model: nn.Module, device: torch.device) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    torch.manual_seed(2)
    shape = (6, 1, 5, 5) if isinstance(model, SmallConv) else (6, 2)
    support_x, query_x = (torch.randn(shape, device=device, dtype=F64) for _ in range(2))
    support_y, query_y = (torch.randn(6, 1, device=device, dtype=F64) for _ in range(2))
    return support_x, support_y, query_x, query_y


def mse(output: Tensor, target: Tensor) -> Tensor:
    return ((output - target) ** 2).mean()


# ------------------------------------------------------------------ named_params / buffers


def test_named_params_are_live_leaves_in_a_fresh_dict(device: torch.device) -> None:
    net = mlp(device)
    params = named_params(net)
    assert list(params) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert params["0.weight"] is net[0].weight
    params.pop("0.weight")
    assert "0.weight" in named_params(net)


def test_named_buffers_batchnorm(device: torch.device) -> None:
    bn = nn.BatchNorm1d(3).to(device)
    buffers = named_buffers(bn)
    assert list(buffers) == ["running_mean", "running_var", "num_batches_tracked"]
    assert buffers["running_mean"] is bn.running_mean
    assert named_buffers(bn) is not buffers


# ------------------------------------------------------------------ functional_forward


def test_functional_forward_matches_module_and_uses_given_params(device: torch.device) -> None:
    net = mlp(device)
    x = torch.randn(3, 2, device=device, dtype=F64)
    torch.testing.assert_close(functional_forward(net, named_params(net), x), net(x))
    doubled = {name: 2 * p for name, p in named_params(net).items()}
    expected = torch.tanh(x @ doubled["0.weight"].t() + doubled["0.bias"])
    expected = expected @ doubled["2.weight"].t() + doubled["2.bias"]
    torch.testing.assert_close(functional_forward(net, doubled, x), expected)
    # The module itself is untouched.
    assert named_params(net)["0.weight"] is net[0].weight


class TiedNested(nn.Module):
    """A nested encoder whose weight is tied to the decoder weight, plus keyword arguments."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(3, 2, bias=False), nn.Tanh())
        self.decoder = nn.Linear(2, 3, bias=False)
        self.block = nn.ModuleDict({"inner": nn.Sequential(nn.Linear(3, 3))})
        self.decoder.weight = self.encoder[0].weight  # shape (2, 3) used transposed below

    def forward(self, x: Tensor, *, scale: float = 1.0) -> Tensor:
        hidden = self.encoder(x)
        decoded = hidden @ self.decoder.weight
        return scale * self.block["inner"](decoded)


def test_functional_forward_tied_weights_nested_modules_and_kwargs(device: torch.device) -> None:
    torch.manual_seed(3)
    net = TiedNested().to(device, F64)
    params = named_params(net)
    assert sorted(params) == ["block.inner.0.bias", "block.inner.0.weight", "encoder.0.weight"]
    x = torch.randn(4, 3, device=device, dtype=F64)
    new_weight = torch.randn(2, 3, device=device, dtype=F64, requires_grad=True)
    replaced = {**params, "encoder.0.weight": new_weight}
    out = functional_forward(net, replaced, x, scale=2.0)
    inner = net.block["inner"][0]
    expected = 2.0 * ((torch.tanh(x @ new_weight.t()) @ new_weight) @ inner.weight.t() + inner.bias)
    torch.testing.assert_close(out, expected)
    # The tied weight receives the gradient of both of its uses.
    (grad,) = torch.autograd.grad(out.sum(), new_weight)
    (expected_grad,) = torch.autograd.grad(expected.sum(), new_weight)
    torch.testing.assert_close(grad, expected_grad)
    # Naming the tied parameter by its alias is accepted as well.
    aliased = {
        "decoder.weight": new_weight,
        "block.inner.0.weight": params["block.inner.0.weight"],
        "block.inner.0.bias": params["block.inner.0.bias"],
    }
    torch.testing.assert_close(functional_forward(net, aliased, x, scale=2.0), expected)


def test_functional_forward_batchnorm_buffers(device: torch.device) -> None:
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)).to(device)
    x = torch.randn(8, 2, device=device) * 3 + 1
    params = named_params(net)
    # buffers=None: the module's own running statistics are updated, as in net(x).
    functional_forward(net, params, x)
    assert int(net[1].num_batches_tracked) == 1
    own_mean = net[1].running_mean.clone()
    assert not torch.equal(own_mean, torch.zeros_like(own_mean))
    # Given buffers: those are updated, the module's are not.
    buffers = {name: b.clone() for name, b in named_buffers(net).items()}
    functional_forward(net, params, x, buffers=buffers)
    torch.testing.assert_close(net[1].running_mean, own_mean, rtol=0, atol=0)
    assert int(buffers["1.num_batches_tracked"]) == 2
    # In eval mode, the given statistics are the ones used for normalisation.
    net.eval()
    shifted = dict(buffers)
    shifted["1.running_mean"] = buffers["1.running_mean"] + 1.0
    out = functional_forward(net, params, x, buffers=shifted)
    hidden = functional_forward(net[0], {"weight": params["0.weight"], "bias": params["0.bias"]}, x)
    expected = (hidden - shifted["1.running_mean"]) / torch.sqrt(
        shifted["1.running_var"] + net[1].eps
    ) * params["1.weight"] + params["1.bias"]
    torch.testing.assert_close(out, expected)


def test_functional_forward_params_mismatch_messages(device: torch.device) -> None:
    net = mlp(device)
    params = named_params(net)
    missing = {k: v for k, v in params.items() if k != "2.bias"}
    with pytest.raises(KeyError, match=re.escape("missing ['2.bias']")):
        functional_forward(net, missing, torch.ones(1, 2, device=device, dtype=F64))
    extra = {**params, "3.weight": torch.ones(1)}
    with pytest.raises(KeyError, match=re.escape("unexpected ['3.weight']")):
        functional_forward(net, extra, torch.ones(1, 2, device=device, dtype=F64))
    with pytest.raises(KeyError, match=r"params do not match the parameters of Sequential"):
        adapt(net, missing, lambda p: p["0.bias"].sum())


# ------------------------------------------------------------------ inner_step


def test_inner_step_docstring_value_and_passthrough() -> None:
    w = torch.tensor([1.0], requires_grad=True)
    frozen = torch.tensor([5.0], requires_grad=True)
    result = inner_step({"w": w, "frozen": frozen}, (2 * w + frozen).sum(), 0.1, adapt_names=["w"])
    torch.testing.assert_close(result["w"], torch.tensor([0.8]))
    assert result["frozen"] is frozen
    assert list(result) == ["w", "frozen"]


def test_inner_step_learning_rate_forms(device: torch.device) -> None:
    a = torch.tensor([1.0, 2.0], device=device, dtype=F64, requires_grad=True)
    b = torch.tensor(3.0, device=device, dtype=F64, requires_grad=True)
    params = {"a": a, "b": b}

    def loss() -> Tensor:
        return (a**2).sum() + 4 * b  # grad a = 2a, grad b = 4

    tensor_lr = torch.tensor(0.5, device=device, dtype=F64, requires_grad=True)
    out = inner_step(params, loss(), tensor_lr)
    torch.testing.assert_close(out["a"], a - 0.5 * 2 * a)
    (lr_grad,) = torch.autograd.grad(out["a"].sum() + out["b"], tensor_lr)
    torch.testing.assert_close(lr_grad, -(2 * a).sum() - 4)
    per_param = {"a": torch.tensor([0.1, 0.2], device=device, dtype=F64), "b": 0.25}
    out = inner_step(params, loss(), per_param)  # type: ignore[arg-type]  # a float entry
    torch.testing.assert_close(out["a"], a - torch.tensor([0.1, 0.2], device=device) * 2 * a)
    torch.testing.assert_close(out["b"], b - 1.0)


def test_inner_step_first_order_drops_second_order_terms() -> None:
    w = torch.tensor([1.5], dtype=F64, requires_grad=True)
    support = lambda p: (p["w"] ** 3).sum()  # noqa: E731
    second = inner_step({"w": w}, support({"w": w}), 0.1)["w"]
    first = inner_step({"w": w}, support({"w": w}), 0.1, first_order=True)["w"]
    torch.testing.assert_close(first, second)
    # d/dw [w - 0.1 * 3 w^2] = 1 - 0.6 w (second order) versus 1 (first order).
    (second_grad,) = torch.autograd.grad(second.sum(), w)
    (first_grad,) = torch.autograd.grad(first.sum(), w)
    torch.testing.assert_close(second_grad, torch.tensor([1 - 0.6 * 1.5], dtype=F64))
    torch.testing.assert_close(first_grad, torch.tensor([1.0], dtype=F64))


def test_inner_step_unused_parameters() -> None:
    used = torch.ones(2, requires_grad=True)
    unused = torch.ones(3, requires_grad=True)
    params = {"used": used, "unused": unused}
    result = inner_step(params, used.sum(), 0.1)
    assert result["unused"] is unused
    with pytest.raises(
        ValueError, match=re.escape("the loss does not depend on adapted parameters ['unused']")
    ):
        inner_step(params, used.sum(), 0.1, allow_unused=False)


def test_inner_step_bad_input_messages() -> None:
    w = torch.ones(2, requires_grad=True)
    params = {"w": w}
    with pytest.raises(
        ValueError, match=re.escape("loss must be a scalar") + r".*got shape \(2,\)"
    ):
        inner_step(params, w * 2, 0.1)
    with pytest.raises(TypeError, match=r"loss must be a torch.Tensor, got float"):
        inner_step(params, 1.0, 0.1)  # type: ignore[arg-type]  # deliberately wrong input
    with pytest.raises(
        KeyError,
        match=re.escape("adapt_names contains names that are not parameters: ['v']; ")
        + re.escape("expected a subset of ['w']"),
    ):
        inner_step(params, w.sum(), 0.1, adapt_names=["v"])
    with pytest.raises(TypeError, match=r"got the string 'w'"):
        inner_step(params, w.sum(), 0.1, adapt_names="w")
    with pytest.raises(ValueError, match=r"adapt_names is empty"):
        inner_step(params, w.sum(), 0.1, adapt_names=[])
    with pytest.raises(
        KeyError, match=re.escape("learning-rate mapping has no entry for adapted parameters ['w']")
    ):
        inner_step(params, w.sum(), {"v": torch.tensor(0.1)})
    with pytest.raises(
        ValueError,
        match=re.escape("learning rate for 'w' has shape (3,); expected a scalar or the ")
        + re.escape("parameter's shape (2,)"),
    ):
        inner_step(params, w.sum(), {"w": torch.ones(3)})
    with pytest.raises(
        TypeError, match=r"learning rate for 'w' must be a tensor or a float, got str"
    ):
        inner_step(params, w.sum(), {"w": "fast"})  # type: ignore[dict-item]  # wrong on purpose
    with pytest.raises(
        ValueError, match=r"a tensor learning rate must be a scalar, got shape \(2,\)"
    ):
        inner_step(params, w.sum(), torch.ones(2))


# ------------------------------------------------------------------ adapt


def test_adapt_docstring_example_and_zero_steps() -> None:
    torch.manual_seed(5)
    net = nn.Linear(1, 1)
    x, y = torch.ones(4, 1), torch.zeros(4, 1)

    def support_loss(p: dict[str, Tensor]) -> Tensor:
        return ((functional_forward(net, p, x) - y) ** 2).mean()

    adapted = adapt(net, named_params(net), support_loss, lr=0.1, inner_steps=3)
    assert support_loss(adapted) < support_loss(named_params(net))
    unchanged = adapt(net, named_params(net), support_loss, inner_steps=0)
    assert unchanged == named_params(net)
    with pytest.raises(ValueError, match=r"inner_steps must be a non-negative int, got -1"):
        adapt(net, named_params(net), support_loss, inner_steps=-1)
    with pytest.raises(ValueError, match=r"inner_steps must be a non-negative int, got True"):
        adapt(net, named_params(net), support_loss, inner_steps=True)


def torch_func_meta_loss(
    model: nn.Module,
    support_x: Tensor,
    support_y: Tensor,
    query_x: Tensor,
    query_y: Tensor,
    lr: float,
    steps: int,
    adapt_names: list[str] | None = None,
) -> Callable[[dict[str, Tensor]], Tensor]:
    """Hand-written MAML objective with torch.func.grad as the inner gradient."""

    def loss_at(params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
        return mse(functional_call(model, params, (x,)), y)

    def meta_loss(params: dict[str, Tensor]) -> Tensor:
        for _ in range(steps):
            grads = torch.func.grad(loss_at)(params, support_x, support_y)
            params = {
                name: p - lr * grads[name] if adapt_names is None or name in adapt_names else p
                for name, p in params.items()
            }
        return loss_at(params, query_x, query_y)

    return meta_loss


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("adapt_names", [None, ["2.weight", "2.bias"]])
def test_adapt_meta_gradient_matches_torch_func_reference(
    steps: int, adapt_names: list[str] | None, device: torch.device
) -> None:
    net = mlp(device)
    support_x, support_y, query_x, query_y = support_query(net, device)
    params = named_params(net)

    def support_loss(p: dict[str, Tensor]) -> Tensor:
        return mse(functional_forward(net, p, support_x), support_y)

    adapted = adapt(net, params, support_loss, lr=0.4, inner_steps=steps, adapt_names=adapt_names)
    query_loss = mse(functional_forward(net, adapted, query_x), query_y)
    grads = torch.autograd.grad(query_loss, list(params.values()))
    reference = torch.func.grad(
        torch_func_meta_loss(net, support_x, support_y, query_x, query_y, 0.4, steps, adapt_names)
    )({name: p.detach() for name, p in params.items()})
    # Identical mathematics in float64; only the operation order may differ: 1e-10.
    for name, grad in zip(params, grads, strict=True):
        torch.testing.assert_close(grad, reference[name], rtol=1e-10, atol=1e-10)


def test_adapt_per_parameter_learning_rates_match_reference(device: torch.device) -> None:
    net = mlp(device)
    support_x, support_y, _, _ = support_query(net, device)
    params = named_params(net)
    rates = {
        name: torch.full_like(p, 0.1 * (i + 1)).requires_grad_()
        for i, (name, p) in enumerate(params.items())
    }

    def support_loss(p: dict[str, Tensor]) -> Tensor:
        return mse(functional_forward(net, p, support_x), support_y)

    adapted = adapt(net, params, support_loss, lr=rates, inner_steps=2)
    grads_1 = torch.autograd.grad(support_loss(params), list(params.values()), create_graph=True)
    step_1 = {n: p - rates[n] * g for (n, p), g in zip(params.items(), grads_1, strict=True)}
    grads_2 = torch.autograd.grad(support_loss(step_1), list(step_1.values()), create_graph=True)
    step_2 = {n: p - rates[n] * g for (n, p), g in zip(step_1.items(), grads_2, strict=True)}
    for name in params:
        torch.testing.assert_close(adapted[name], step_2[name], rtol=1e-12, atol=1e-12)
    # The rates are learnable: the adapted loss has a gradient with respect to each of them.
    rate_grads = torch.autograd.grad(support_loss(adapted), list(rates.values()))
    assert all(torch.isfinite(g).all() and g.abs().sum() > 0 for g in rate_grads)


def test_adapt_first_order_gradient_is_query_gradient_at_adapted_params() -> None:
    net = mlp(torch.device("cpu"))
    support_x, support_y, query_x, query_y = support_query(net, torch.device("cpu"))
    params = named_params(net)

    def support_loss(p: dict[str, Tensor]) -> Tensor:
        return mse(functional_forward(net, p, support_x), support_y)

    adapted = adapt(net, params, support_loss, lr=0.4, inner_steps=2, first_order=True)
    query_loss = mse(functional_forward(net, adapted, query_x), query_y)
    grads = torch.autograd.grad(query_loss, list(params.values()))
    at_adapted = {name: p.detach().requires_grad_() for name, p in adapted.items()}
    expected = torch.autograd.grad(
        mse(functional_forward(net, at_adapted, query_x), query_y), list(at_adapted.values())
    )
    for grad, want in zip(grads, expected, strict=True):
        torch.testing.assert_close(grad, want, rtol=1e-12, atol=1e-12)


def test_adapt_tied_weights(device: torch.device) -> None:
    torch.manual_seed(6)
    net = TiedNested().to(device, F64)
    x = torch.randn(5, 3, device=device, dtype=F64)
    y = torch.randn(5, 3, device=device, dtype=F64)
    params = named_params(net)

    def support_loss(p: dict[str, Tensor]) -> Tensor:
        return mse(functional_forward(net, p, x), y)

    adapted = adapt(net, params, support_loss, lr=0.2, inner_steps=2)
    grads = torch.autograd.grad(support_loss(adapted), list(params.values()))
    reference = torch.func.grad(torch_func_meta_loss(net, x, y, x, y, 0.2, 2))(
        {name: p.detach() for name, p in params.items()}
    )
    for name, grad in zip(params, grads, strict=True):
        torch.testing.assert_close(grad, reference[name], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("steps", [1, 3])
def test_adapt_trajectory_autograd_and_func_modes_match_torch_func_reference(
    steps: int, device: torch.device
) -> None:
    """Both gradient modes of adapt_trajectory give the reference's steps and meta-gradient."""
    net = mlp(device)
    support_x, support_y, query_x, query_y = support_query(net, device)
    params = named_params(net)
    trajectories, meta_grads = [], []
    for grad_mode in ("autograd", "func"):
        trajectory = adapt_trajectory(
            params,
            lambda p: mse(functional_call(net, p, (support_x,)), support_y),
            lr=0.4,
            inner_steps=steps,
            grad_mode=grad_mode,  # type: ignore[arg-type]  # a literal of the loop
        )
        query_loss = mse(functional_call(net, trajectory[-1], (query_x,)), query_y)
        trajectories.append(trajectory)
        meta_grads.append(torch.autograd.grad(query_loss, list(params.values())))
    by_autograd, by_func = trajectories
    assert len(by_autograd) == len(by_func) == steps
    reference = torch.func.grad(
        torch_func_meta_loss(net, support_x, support_y, query_x, query_y, 0.4, steps)
    )({name: p.detach() for name, p in params.items()})
    # Identical mathematics in float64; only the operation order may differ: 1e-10.
    for step_autograd, step_func in zip(by_autograd, by_func, strict=True):
        for name in params:
            torch.testing.assert_close(step_func[name], step_autograd[name], rtol=1e-10, atol=1e-10)
    for grads in meta_grads:
        for name, grad in zip(params, grads, strict=True):
            torch.testing.assert_close(grad, reference[name], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("steps", [1, 3])
@pytest.mark.parametrize("make_model", [mlp, small_conv], ids=["mlp", "conv-bn"])
def test_adapt_meta_gradient_gradcheck(
    steps: int, make_model: Callable[[torch.device], nn.Module], device: torch.device
) -> None:
    """Second-order MAML gradients of adapt agree with finite differences (float64)."""
    model = make_model(device)
    support_x, support_y, query_x, query_y = support_query(model, device)
    names = list(named_params(model))

    def meta_loss(*flat: Tensor) -> Tensor:
        params = dict(zip(names, flat, strict=True))

        def support_loss(p: dict[str, Tensor]) -> Tensor:
            return mse(functional_forward(model, p, support_x), support_y)

        adapted = adapt(model, params, support_loss, lr=0.1, inner_steps=steps)
        return mse(functional_forward(model, adapted, query_x), query_y)

    inputs = tuple(p.detach().clone().requires_grad_() for p in named_params(model).values())
    # nondet_tol: cuDNN's float64 convolution backward may sum in a varying order on CUDA.
    assert torch.autograd.gradcheck(
        meta_loss, inputs, eps=1e-6, atol=1e-6, rtol=1e-5, nondet_tol=1e-10
    )
