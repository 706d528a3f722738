"""learn2learn's documented behaviour, through ``import meta_all.compat.learn2learn as l2l``."""

from __future__ import annotations

import doctest

import meta_algos
import meta_all.compat.learn2learn as l2l
import meta_functional
import meta_nn
import meta_optim
import pytest
import torch
import torch.nn.functional as F
from meta_all.compat.learn2learn import _algorithms
from torch import nn
from torch.func import functional_call

WAYS, SHOTS, FEATURES = 5, 2, 4


def make_model(device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(FEATURES, 8), nn.Tanh(), nn.Linear(8, WAYS)).to(
        device=device, dtype=torch.float64
    )


def make_tasks(
    device: torch.device, count: int = 3
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(WAYS).repeat_interleave(SHOTS)
    tasks = []
    for _ in range(count):
        centres = torch.randn(WAYS, FEATURES, generator=generator, dtype=torch.float64)
        support_x = centres[labels] + 0.3 * torch.randn(
            len(labels), FEATURES, generator=generator, dtype=torch.float64
        )
        query_x = centres[labels] + 0.3 * torch.randn(
            len(labels), FEATURES, generator=generator, dtype=torch.float64
        )
        tasks.append(
            (support_x.to(device), labels.to(device), query_x.to(device), labels.to(device))
        )
    return tasks


def l2l_meta_gradients(
    model: nn.Module, tasks: list, *, lr: float, steps: int, first_order: bool
) -> list[torch.Tensor]:
    """The learn2learn recipe: clone per task, adapt in place, backward the query loss."""
    maml = l2l.algorithms.MAML(model, lr=lr, first_order=first_order)
    maml.zero_grad()
    for support_x, support_y, query_x, query_y in tasks:
        learner = maml.clone()
        for _ in range(steps):
            learner.adapt(F.cross_entropy(learner(support_x), support_y))
        (F.cross_entropy(learner(query_x), query_y) / len(tasks)).backward()
    return [p.grad.clone() for p in model.parameters()]


def reference_meta_gradients(
    model: nn.Module, tasks: list, *, lr: float, steps: int, first_order: bool
) -> list[torch.Tensor]:
    """A hand-written torch.func MAML meta-gradient."""
    names = [name for name, _ in model.named_parameters()]

    def task_loss(params: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, params, (x,)), y)

    def meta_loss(params: dict) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64, device=next(iter(params.values())).device)
        for support_x, support_y, query_x, query_y in tasks:
            fast = params
            for _ in range(steps):
                grads = torch.func.grad(task_loss)(fast, support_x, support_y)
                if first_order:
                    grads = {name: grad.detach() for name, grad in grads.items()}
                fast = {name: fast[name] - lr * grads[name] for name in names}
            total = total + task_loss(fast, query_x, query_y)
        return total / len(tasks)

    params = {name: p.detach() for name, p in model.named_parameters()}
    grads = torch.func.grad(meta_loss)(params)
    return [grads[name] for name in names]


@pytest.mark.parametrize("first_order", [False, True])
def test_maml_meta_gradient_matches_torch_func_and_meta_algos(
    device: torch.device, first_order: bool
) -> None:
    model = make_model(device)
    tasks = make_tasks(device)
    lr, steps = 0.4, 2
    ours = l2l_meta_gradients(model, tasks, lr=lr, steps=steps, first_order=first_order)
    reference = reference_meta_gradients(model, tasks, lr=lr, steps=steps, first_order=first_order)
    for got, expected in zip(ours, reference, strict=True):
        torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
        assert got.abs().max() > 1e-4  # a meaningful gradient, not zeros on both sides

    primary = meta_algos.MAML(model, inner_lr=lr, first_order=first_order)
    model.zero_grad()
    for support_x, support_y, query_x, query_y in tasks:
        learner = primary.clone()
        for _ in range(steps):
            learner = learner.adapt(F.cross_entropy(learner(support_x), support_y))
        (F.cross_entropy(learner(query_x), query_y) / len(tasks)).backward()
    for got, parameter in zip(ours, model.parameters(), strict=True):
        torch.testing.assert_close(got, parameter.grad, rtol=0, atol=1e-6)


def test_first_and_second_order_meta_gradients_differ(device: torch.device) -> None:
    model = make_model(device)
    tasks = make_tasks(device, count=1)
    second = l2l_meta_gradients(model, tasks, lr=0.4, steps=1, first_order=False)
    first = l2l_meta_gradients(model, tasks, lr=0.4, steps=1, first_order=True)
    assert max((a - b).abs().max().item() for a, b in zip(first, second, strict=True)) > 1e-4


def test_first_order_meta_gradient_is_query_gradient_at_adapted_parameters(
    device: torch.device,
) -> None:
    model = make_model(device)
    (support_x, support_y, query_x, query_y) = make_tasks(device, count=1)[0]
    maml = l2l.algorithms.MAML(model, lr=0.4, first_order=True)
    learner = maml.clone()
    learner.adapt(F.cross_entropy(learner(support_x), support_y))
    adapted = [p.detach().clone().requires_grad_() for p in learner.parameters()]
    F.cross_entropy(learner(query_x), query_y).backward()
    # FOMAML: d query_loss / d theta is the query gradient evaluated at theta'.
    replica = make_model(device)
    for target, value in zip(replica.parameters(), adapted, strict=True):
        target.data.copy_(value.detach())
    F.cross_entropy(replica(query_x), query_y).backward()
    for original, expected in zip(model.parameters(), replica.parameters(), strict=True):
        torch.testing.assert_close(original.grad, expected.grad, rtol=0, atol=1e-10)


def test_adapt_is_one_sgd_step_and_parameters_are_the_adapted_tensors(
    device: torch.device,
) -> None:
    model = make_model(device)
    support_x, support_y, _, _ = make_tasks(device, count=1)[0]
    before = [p.detach().clone() for p in model.parameters()]
    maml = l2l.algorithms.MAML(model, lr=0.25)
    learner = maml.clone()
    loss = F.cross_entropy(learner(support_x), support_y)
    grads = torch.autograd.grad(loss, list(learner.parameters()), retain_graph=True)
    learner.adapt(loss)
    adapted = list(learner.parameters())
    for value, start, grad in zip(adapted, before, grads, strict=True):
        torch.testing.assert_close(value.detach(), start - 0.25 * grad, rtol=0, atol=1e-12)
        assert value.grad_fn is not None  # still connected to the meta-parameters
    # The wrapped model is untouched and the forward pass uses the adapted tensors.
    for parameter, start in zip(model.parameters(), before, strict=True):
        torch.testing.assert_close(parameter.detach(), start, rtol=0, atol=0)
    torch.testing.assert_close(learner(support_x), learner.module(support_x))
    assert not torch.allclose(learner(support_x), model(support_x))


def test_clones_are_independent(device: torch.device) -> None:
    model = make_model(device)
    support_x, support_y, query_x, query_y = make_tasks(device, count=1)[0]
    maml = l2l.algorithms.MAML(model, lr=0.5)
    first = maml.clone()
    second = maml.clone()
    assert first.module is not second.module is not model
    first.adapt(F.cross_entropy(first(support_x), support_y))
    # The second clone still holds the meta-parameters' values.
    for theirs, original in zip(second.parameters(), model.parameters(), strict=True):
        torch.testing.assert_close(theirs, original, rtol=0, atol=0)
    # Each clone's query loss back-propagates into the same meta-parameters.
    F.cross_entropy(second(query_x), query_y).backward()
    only_second = [p.grad.clone() for p in model.parameters()]
    F.cross_entropy(first(query_x), query_y).backward()
    assert all(
        not torch.allclose(total, part)
        for total, part in zip([p.grad for p in model.parameters()], only_second, strict=True)
    )
    assert isinstance(first, l2l.algorithms.MAML)
    assert first.lr == maml.lr
    assert first.first_order is maml.first_order is False


def test_clone_overrides_flags() -> None:
    maml = l2l.algorithms.MAML(nn.Linear(2, 2), lr=0.1)
    clone = maml.clone(first_order=True, allow_unused=True, allow_nograd=True)
    assert (clone.first_order, clone.allow_unused, clone.allow_nograd) == (True, True, True)
    assert (maml.first_order, maml.allow_unused, maml.allow_nograd) == (False, False, False)


@pytest.mark.parametrize("kind", ["MAML", "GBML"])
def test_maml_and_gbml_share_the_per_call_flag_overrides(kind: str) -> None:
    model = frozen_model(torch.device("cpu"))
    support_x, support_y, _, _ = make_tasks(torch.device("cpu"), count=1)[0]
    wrapper: l2l.algorithms.MAML | l2l.algorithms.GBML
    if kind == "MAML":
        wrapper = l2l.algorithms.MAML(model, lr=0.1)
    else:
        wrapper = l2l.algorithms.GBML(model, l2l.optim.MetaCurvatureTransform, lr=0.1)
    overridden = wrapper.clone(first_order=True, allow_unused=True, allow_nograd=True)
    assert type(overridden) is type(wrapper)
    assert (overridden.first_order, overridden.allow_unused, overridden.allow_nograd) == (
        True,
        True,
        True,
    )
    learner = wrapper.clone()
    assert (learner.first_order, learner.allow_unused, learner.allow_nograd) == (
        False,
        False,
        False,
    )
    # an adapt override holds for that step only
    learner.adapt(F.cross_entropy(learner(support_x), support_y), allow_nograd=True)
    assert learner.module[2].weight.grad_fn is not None
    with pytest.raises(ValueError, match=r"not require grad; .*pass allow_nograd=True"):
        learner.adapt(F.cross_entropy(learner(support_x), support_y))


def test_adapt_first_order_override_detaches_the_inner_gradient(device: torch.device) -> None:
    model = make_model(device)
    tasks = make_tasks(device, count=1)
    support_x, support_y, query_x, query_y = tasks[0]
    maml = l2l.algorithms.MAML(model, lr=0.4)
    learner = maml.clone()
    learner.adapt(F.cross_entropy(learner(support_x), support_y), first_order=True)
    F.cross_entropy(learner(query_x), query_y).backward()
    reference = reference_meta_gradients(model, tasks, lr=0.4, steps=1, first_order=True)
    for parameter, expected in zip(model.parameters(), reference, strict=True):
        torch.testing.assert_close(parameter.grad, expected, rtol=0, atol=1e-10)


def frozen_model(device: torch.device) -> nn.Module:
    model = make_model(device)
    for parameter in model[0].parameters():
        parameter.requires_grad_(False)
    return model


def test_frozen_layer_needs_allow_nograd(device: torch.device) -> None:
    model = frozen_model(device)
    support_x, support_y, _, _ = make_tasks(device, count=1)[0]
    learner = l2l.algorithms.MAML(model, lr=0.1).clone()
    with pytest.raises(ValueError, match=r"\['0.bias', '0.weight'\] do not require grad"):
        learner.adapt(F.cross_entropy(learner(support_x), support_y))


def test_allow_nograd_skips_the_frozen_layer(device: torch.device) -> None:
    model = frozen_model(device)
    support_x, support_y, query_x, query_y = make_tasks(device, count=1)[0]
    maml = l2l.algorithms.MAML(model, lr=0.1, allow_nograd=True)
    assert maml.allow_unused is True  # follows allow_nograd when left as None
    learner = maml.clone()
    frozen_before = [learner.module[0].weight, learner.module[0].bias]
    head_before = learner.module[2].weight
    learner.adapt(F.cross_entropy(learner(support_x), support_y))
    assert learner.module[0].weight is frozen_before[0]
    assert learner.module[0].bias is frozen_before[1]
    assert learner.module[2].weight is not head_before
    assert not torch.allclose(learner.module[2].weight, head_before)
    F.cross_entropy(learner(query_x), query_y).backward()
    assert model[0].weight.grad is None
    assert model[2].weight.grad is not None


def test_allow_nograd_per_call_override(device: torch.device) -> None:
    model = frozen_model(device)
    support_x, support_y, _, _ = make_tasks(device, count=1)[0]
    learner = l2l.algorithms.MAML(model, lr=0.1).clone()
    learner.adapt(F.cross_entropy(learner(support_x), support_y), allow_nograd=True)
    assert learner.module[2].weight.grad_fn is not None


class WithUnused(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.used = nn.Linear(3, 1)
        self.unused = nn.Parameter(torch.ones(2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


def test_unused_parameter_needs_allow_unused() -> None:
    learner = l2l.algorithms.MAML(WithUnused(), lr=0.1).clone()
    loss = learner(torch.ones(2, 3)).sum()
    with pytest.raises(ValueError, match=r"does not depend on adapted parameters \['unused'\]"):
        learner.adapt(loss)


def test_allow_unused_leaves_the_unused_parameter() -> None:
    learner = l2l.algorithms.MAML(WithUnused(), lr=0.1, allow_unused=True).clone()
    unused = learner.module.unused
    learner.adapt(learner(torch.ones(2, 3)).sum())
    assert learner.module.unused is unused
    assert learner.module.used.weight.grad_fn is not None
    assert learner.module.used.bias.grad_fn is not None


def test_allow_unused_per_call_override() -> None:
    maml = l2l.algorithms.MAML(WithUnused(), lr=0.1)
    learner = maml.clone()
    learner.adapt(learner(torch.ones(2, 3)).sum(), allow_unused=True)
    assert learner.module.used.weight.grad_fn is not None
    assert maml.allow_unused is False  # the per-call flag changes nothing stored


def test_tied_parameters_are_updated_once_and_stay_tied() -> None:
    first = nn.Linear(3, 3, bias=False)
    model = nn.Sequential(first, nn.Tanh(), nn.Linear(3, 3, bias=False))
    model[2].weight = first.weight
    learner = l2l.algorithms.MAML(model, lr=0.1).clone()
    learner.adapt(learner(torch.ones(2, 3)).pow(2).sum())
    assert learner.module[0].weight is learner.module[2].weight
    assert len(list(learner.parameters())) == 1


def test_adapt_validates_the_loss() -> None:
    learner = l2l.algorithms.MAML(nn.Linear(3, 1), lr=0.1).clone()
    output = learner(torch.ones(2, 3))
    with pytest.raises(TypeError, match=r"MAML\.adapt: loss must be a torch\.Tensor, got float"):
        learner.adapt(1.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"MAML\.adapt: loss must be a scalar .* shape \(2, 1\)"):
        learner.adapt(output)
    with pytest.raises(ValueError, match="does not require grad"):
        learner.adapt(torch.tensor(1.0))


def test_constructors_validate_their_arguments() -> None:
    with pytest.raises(TypeError, match=r"MAML: module must be a torch\.nn\.Module, got str"):
        l2l.algorithms.MAML("net", lr=0.1)  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"MAML: lr must be a finite real number, got '0.1' \(str\)"
    ):
        l2l.algorithms.MAML(nn.Linear(1, 1), lr="0.1")  # type: ignore[arg-type]
    with pytest.raises(
        TypeError, match=r"MetaSGD: lr must be a finite real number, got True \(bool\)"
    ):
        l2l.algorithms.MetaSGD(nn.Linear(1, 1), lr=True)
    with pytest.raises(ValueError, match=r"MAML: lr must be >= 0, got -0.1"):
        l2l.algorithms.MAML(nn.Linear(1, 1), lr=-0.1)
    with pytest.raises(ValueError, match=r"MetaSGD: lr must be a finite real number, got nan"):
        l2l.algorithms.MetaSGD(nn.Linear(1, 1), lr=float("nan"))


def test_metasgd_rates_start_at_lr_and_receive_exact_meta_gradients(device: torch.device) -> None:
    model = make_model(device)
    tasks = make_tasks(device, count=2)
    meta_sgd = l2l.algorithms.MetaSGD(model, lr=0.3)
    assert len(meta_sgd.lrs) == len(list(model.parameters()))
    for rate, parameter in zip(meta_sgd.lrs, model.parameters(), strict=True):
        assert rate.shape == parameter.shape
        torch.testing.assert_close(rate.detach(), torch.full_like(parameter, 0.3))
    # The meta-optimizer sees both the model and the rates.
    assert len(list(meta_sgd.parameters())) == 2 * len(list(model.parameters()))
    with torch.no_grad():
        for rate in meta_sgd.lrs:
            rate.mul_(1 + 0.5 * torch.rand_like(rate))

    for support_x, support_y, query_x, query_y in tasks:
        learner = meta_sgd.clone()
        learner.adapt(F.cross_entropy(learner(support_x), support_y))
        (F.cross_entropy(learner(query_x), query_y) / len(tasks)).backward()

    names = [name for name, _ in model.named_parameters()]

    def support_loss(p: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, p, (x,)), y)

    def meta_loss(params: dict, rates: dict) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64, device=device)
        for support_x, support_y, query_x, query_y in tasks:
            grads = torch.func.grad(support_loss)(params, support_x, support_y)
            fast = {name: params[name] - rates[name] * grads[name] for name in names}
            total = total + F.cross_entropy(functional_call(model, fast, (query_x,)), query_y)
        return total / len(tasks)

    params = {name: p.detach() for name, p in model.named_parameters()}
    rates = {name: rate.detach() for name, rate in zip(names, meta_sgd.lrs, strict=True)}
    param_grads, rate_grads = torch.func.grad(meta_loss, argnums=(0, 1))(params, rates)
    for name, parameter, rate in zip(names, model.parameters(), meta_sgd.lrs, strict=True):
        torch.testing.assert_close(parameter.grad, param_grads[name], rtol=0, atol=1e-6)
        torch.testing.assert_close(rate.grad, rate_grads[name], rtol=0, atol=1e-6)
        assert rate.grad.abs().max() > 1e-5


def test_metasgd_first_order_still_trains_the_rates() -> None:
    meta_sgd = l2l.algorithms.MetaSGD(nn.Linear(3, 1), lr=0.1, first_order=True)
    learner = meta_sgd.clone()
    x = torch.randn(4, 3)
    learner.adapt(learner(x).pow(2).mean())
    learner(x).pow(2).mean().backward()
    assert all(rate.grad is not None and rate.grad.abs().sum() > 0 for rate in meta_sgd.lrs)
    assert learner.first_order is True


def test_metasgd_clone_holds_connected_copies_of_the_rates() -> None:
    meta_sgd = l2l.algorithms.MetaSGD(nn.Linear(3, 1), lr=0.1)
    learner = meta_sgd.clone()
    for copy, original in zip(learner.lrs, meta_sgd.lrs, strict=True):
        assert copy is not original
        assert copy.grad_fn is not None
        torch.testing.assert_close(copy, original)


def test_metasgd_custom_rates() -> None:
    model = nn.Linear(3, 1)
    rates = [torch.full((1, 3), 0.5), torch.tensor([0.2])]
    meta_sgd = l2l.algorithms.MetaSGD(model, lrs=rates)
    torch.testing.assert_close(meta_sgd.lrs[0].detach(), rates[0])
    assert meta_sgd.lrs[0] is not rates[0]
    shared = nn.ParameterList([nn.Parameter(torch.ones(1, 3)), nn.Parameter(torch.ones(1))])
    assert l2l.algorithms.MetaSGD(model, lrs=shared).lrs is shared


def test_metasgd_validates_rates() -> None:
    model = nn.Linear(3, 1)
    with pytest.raises(ValueError, match="got 1 learning rates for the 2 parameters of Linear"):
        l2l.algorithms.MetaSGD(model, lrs=[torch.ones(1, 3)])
    with pytest.raises(ValueError, match=r"for 'bias' has shape \(2,\); expected .* \(1,\)"):
        l2l.algorithms.MetaSGD(model, lrs=[torch.ones(1, 3), torch.ones(2)])
    with pytest.raises(TypeError, match=r"lrs as a sequence of tensors .* got float"):
        l2l.algorithms.MetaSGD(model, lrs=0.1)  # type: ignore[arg-type]


def test_clones_share_the_running_statistics_as_learn2learns() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    statistics = model[1].running_mean
    x = torch.randn(8, 3)
    clone = l2l.clone_module(model)
    assert clone[1].running_mean is statistics
    assert clone[0].weight is not model[0].weight
    for wrapper in (
        l2l.algorithms.MAML(model, lr=0.1),
        l2l.algorithms.MetaSGD(model, lr=0.1),
        l2l.algorithms.GBML(model, l2l.optim.MetaCurvatureTransform, lr=0.1),
    ):
        learner = wrapper.clone()
        before = statistics.clone()
        learner.adapt(learner(x).pow(2).mean())
        assert learner.module[1].running_mean is statistics
        assert not torch.equal(statistics, before)  # the clone's pass moved the model's
    assert int(model[1].num_batches_tracked) == 3


def test_module_utilities_and_layers_are_meta_star_objects() -> None:
    assert l2l.clone_module is l2l.utils.clone_module  # meta_functional's, sharing buffers
    assert l2l.detach_module is meta_functional.detach_module
    assert l2l.update_module is meta_functional.update_module
    assert l2l.magic_box is meta_functional.magic_box
    for name in ("Lambda", "Flatten", "Scale", "KroneckerLinear", "KroneckerRNN", "KroneckerLSTM"):
        assert getattr(l2l.nn, name) is getattr(meta_nn, name)
    for name in ("LearnableOptimizer", "ParameterUpdate", "DifferentiableSGD"):
        assert getattr(l2l.optim, name) is getattr(meta_optim, name)
    for name in ("ModuleTransform", "MetaCurvatureTransform"):
        assert getattr(l2l.optim, name) is getattr(meta_optim, name)
        assert getattr(l2l.optim.transforms, name) is getattr(meta_optim, name)
    # learn2learn's factors for convolution weights: meta-optim's, per filter
    assert l2l.optim.KroneckerTransform is l2l.optim.transforms.KroneckerTransform
    assert issubclass(l2l.optim.KroneckerTransform, meta_optim.KroneckerTransform)
    conv = l2l.optim.KroneckerTransform(meta_nn.KroneckerLinear)(torch.zeros(8, 4, 3, 3))
    assert [tuple(p.shape) for p in conv.parameters()] == [(4, 4), (9, 9)]
    # learn2learn's OmniglotCNN is meta-nn's with output_size=5 by default; its
    # MiniImagenetCNN is CNN4 (learn2learn's alias since 0.1.6)
    assert issubclass(l2l.vision.models.OmniglotCNN, meta_nn.OmniglotCNN)
    assert l2l.vision.models.OmniglotCNN().head.out_features == 5
    assert l2l.vision.models.MiniImagenetCNN is meta_nn.CNN4


def test_docstring_examples_run() -> None:
    failures, tried = doctest.testmod(_algorithms, raise_on_error=False, report=False)[:2]
    assert tried >= 3
    assert failures == 0


def gbml_reference_meta_gradients(
    model: nn.Module, transforms: nn.ModuleList, tasks: list, *, lr: float, steps: int
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """torch.func meta-gradients of p <- p - lr * T_p(grad) for the model and transforms."""
    names = [name for name, _ in model.named_parameters()]

    def task_loss(params: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(functional_call(model, params, (x,)), y)

    def meta_loss(params: dict, transform_params: dict) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64, device=next(iter(params.values())).device)
        for support_x, support_y, query_x, query_y in tasks:
            fast = params
            for _ in range(steps):
                grads = torch.func.grad(task_loss)(fast, support_x, support_y)
                fast = {
                    name: fast[name]
                    - lr
                    * functional_call(
                        transforms[index],
                        {
                            key[len(f"{index}.") :]: value
                            for key, value in transform_params.items()
                            if key.startswith(f"{index}.")
                        },
                        (grads[name],),
                    )
                    for index, name in enumerate(names)
                }
            total = total + task_loss(fast, query_x, query_y)
        return total / len(tasks)

    params = {name: p.detach() for name, p in model.named_parameters()}
    transform_params = {name: p.detach() for name, p in transforms.named_parameters()}
    param_grads, transform_grads = torch.func.grad(meta_loss, argnums=(0, 1))(
        params, transform_params
    )
    return (
        [param_grads[name] for name in names],
        [transform_grads[name] for name, _ in transforms.named_parameters()],
    )


def perturb_(module: nn.Module, scale: float = 0.2) -> None:
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in module.parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype)
            parameter.add_(scale * noise.to(parameter.device))


def test_gbml_metacurvature_meta_gradients_reach_the_transform_exactly(
    device: torch.device,
) -> None:
    model = make_model(device)
    tasks = make_tasks(device, count=2)
    gbml = l2l.algorithms.GBML(model, l2l.optim.MetaCurvatureTransform, lr=0.3)
    transforms = gbml.compute_update.transforms
    assert len(transforms) == len(list(model.parameters()))
    perturb_(transforms)  # away from the identity, so the transform matters
    gbml.zero_grad()
    for support_x, support_y, query_x, query_y in tasks:
        learner = gbml.clone()
        for _ in range(2):
            learner.adapt(F.cross_entropy(learner(support_x), support_y))
        (F.cross_entropy(learner(query_x), query_y) / len(tasks)).backward()
    param_grads, transform_grads = gbml_reference_meta_gradients(
        model, transforms, tasks, lr=0.3, steps=2
    )
    for parameter, expected in zip(model.parameters(), param_grads, strict=True):
        torch.testing.assert_close(parameter.grad, expected, rtol=0, atol=1e-6)
    for parameter, expected in zip(transforms.parameters(), transform_grads, strict=True):
        assert parameter.grad is not None
        torch.testing.assert_close(parameter.grad, expected, rtol=0, atol=1e-6)
        assert parameter.grad.abs().max() > 1e-6


def test_gbml_with_identity_transform_is_maml(device: torch.device) -> None:
    model = make_model(device)
    tasks = make_tasks(device, count=2)
    maml_grads = l2l_meta_gradients(model, tasks, lr=0.3, steps=1, first_order=False)
    gbml = l2l.algorithms.GBML(model, l2l.optim.MetaCurvatureTransform, lr=0.3)
    gbml.zero_grad()
    for support_x, support_y, query_x, query_y in tasks:
        learner = gbml.clone()
        learner.adapt(F.cross_entropy(learner(support_x), support_y))
        (F.cross_entropy(learner(query_x), query_y) / len(tasks)).backward()
    for parameter, expected in zip(model.parameters(), maml_grads, strict=True):
        torch.testing.assert_close(parameter.grad, expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("factory", ["module", "kronecker"])
def test_gbml_with_learn2learn_transform_factories(factory: str) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    transform = (
        l2l.optim.ModuleTransform(nn.Linear)
        if factory == "module"
        else l2l.optim.transforms.KroneckerTransform(l2l.nn.KroneckerLinear)
    )
    gbml = l2l.algorithms.GBML(model, transform, lr=0.1)
    x, y = torch.randn(6, 4), torch.randint(0, 2, (6,))
    learner = gbml.clone()
    learner.adapt(F.cross_entropy(learner(x), y))
    F.cross_entropy(learner(x), y).backward()
    assert all(p.grad is not None for p in model.parameters())
    assert all(p.grad is not None for p in gbml.compute_update.parameters())
    # The factory is configuration: only the model and the transforms are parameters.
    assert len(list(gbml.parameters())) == len(list(model.parameters())) + len(
        list(gbml.compute_update.parameters())
    )
    assert learner.transform is transform


def test_gbml_first_order_still_trains_the_transform() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    gbml = l2l.algorithms.GBML(model, l2l.optim.MetaCurvatureTransform, lr=0.1, first_order=True)
    x = torch.randn(5, 3)
    learner = gbml.clone()
    learner.adapt(learner(x).pow(2).mean())
    updated_weight = learner.module.weight
    learner(x).pow(2).mean().backward()
    assert gbml.compute_update.transforms[0].out_curvature.grad is not None
    # First order: the update carries no graph back through the inner gradient.
    assert updated_weight.grad_fn is not None
    assert model.weight.grad is not None


def test_gbml_adapt_transform_steps_the_transform_from_the_second_step() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    gbml = l2l.algorithms.GBML(
        model, l2l.optim.MetaCurvatureTransform, lr=0.1, adapt_transform=True
    )
    x = torch.randn(6, 3)
    learner = gbml.clone()
    originals = [p.detach().clone() for p in gbml.compute_update.parameters()]
    learner.adapt(learner(x).pow(2).mean())
    # The first loss does not depend on the transform: it stays where it was.
    for value, original in zip(learner.compute_update.parameters(), originals, strict=True):
        torch.testing.assert_close(value.detach(), original, rtol=0, atol=0)
    loss = learner(x).pow(2).mean()
    before = [p.detach().clone() for p in learner.compute_update.parameters()]
    grads = torch.autograd.grad(loss, list(learner.compute_update.parameters()), retain_graph=True)
    learner.adapt(loss)
    after = list(learner.compute_update.parameters())
    for value, start, grad in zip(after, before, grads, strict=True):
        torch.testing.assert_close(value.detach(), start - 0.1 * grad, rtol=0, atol=1e-12)
    assert any(grad.abs().max() > 1e-6 for grad in grads)
    # The meta-model's own transforms are untouched and still receive meta-gradients.
    for value, original in zip(gbml.compute_update.parameters(), originals, strict=True):
        torch.testing.assert_close(value.detach(), original, rtol=0, atol=0)
    learner(x).pow(2).mean().backward()
    assert all(p.grad is not None for p in gbml.compute_update.parameters())


def test_gbml_adapt_transform_steps_the_model_with_the_stepped_transform() -> None:
    # learn2learn's order: the transform is stepped first, the model's step then uses it
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    gbml = l2l.algorithms.GBML(
        model, l2l.optim.MetaCurvatureTransform, lr=0.1, adapt_transform=True
    )
    x = torch.randn(6, 3)
    learner = gbml.clone()
    learner.adapt(learner(x).pow(2).mean())
    loss = learner(x).pow(2).mean()
    head = learner.module[2].weight
    curvatures = list(learner.compute_update.transforms[2].parameters())  # out, in
    found = torch.autograd.grad(loss, [head, *curvatures], retain_graph=True)
    stepped_out, stepped_in = (c - 0.1 * g for c, g in zip(curvatures, found[1:], strict=True))
    expected = head - 0.1 * (stepped_out @ found[0] @ stepped_in)
    learner.adapt(loss)
    torch.testing.assert_close(learner.module[2].weight, expected, rtol=1e-12, atol=1e-12)
    with_old_transform = head - 0.1 * (curvatures[0] @ found[0] @ curvatures[1])
    assert not torch.allclose(learner.module[2].weight, with_old_transform, rtol=0, atol=1e-9)


def test_gbml_adapt_transform_first_order() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    gbml = l2l.algorithms.GBML(
        model, l2l.optim.MetaCurvatureTransform, lr=0.1, adapt_transform=True, first_order=True
    )
    x = torch.randn(6, 3)
    learner = gbml.clone()
    for _ in range(2):
        learner.adapt(learner(x).pow(2).mean())
    learner(x).pow(2).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_gbml_frozen_layer_and_allow_nograd() -> None:
    model = frozen_model(torch.device("cpu"))
    support_x, support_y, _, _ = make_tasks(torch.device("cpu"), count=1)[0]
    gbml = l2l.algorithms.GBML(model, l2l.optim.MetaCurvatureTransform, lr=0.1)
    learner = gbml.clone()
    with pytest.raises(ValueError, match="does not require grad; pass allow_nograd=True"):
        learner.adapt(F.cross_entropy(learner(support_x), support_y))
    learner = gbml.clone(allow_nograd=True)
    frozen = learner.module[0].weight
    learner.adapt(F.cross_entropy(learner(support_x), support_y))
    assert learner.module[0].weight is frozen
    assert learner.module[2].weight.grad_fn is not None


def test_gbml_validates_its_arguments() -> None:
    with pytest.raises(TypeError, match=r"GBML expects transform as a callable .* got int"):
        l2l.algorithms.GBML(nn.Linear(2, 1), 3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"GBML: lr must be a finite real number, got 'x' \(str\)"):
        l2l.algorithms.GBML(nn.Linear(2, 1), l2l.optim.MetaCurvatureTransform, lr="x")  # type: ignore[arg-type]
    learner = l2l.algorithms.GBML(nn.Linear(2, 1), l2l.optim.MetaCurvatureTransform).clone()
    with pytest.raises(ValueError, match=r"GBML\.adapt: loss must be a scalar"):
        learner.adapt(learner(torch.ones(3, 2)))


def test_learnable_optimizer_documented_example() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(6, 3)
    transform = l2l.optim.ModuleTransform(torch.nn.Linear)
    metaopt = l2l.optim.LearnableOptimizer(linear, transform, lr=0.01)
    opt = torch.optim.SGD(metaopt.parameters(), lr=0.001)
    inputs, targets = torch.randn(8, 6), torch.randint(0, 3, (8,))
    losses = []
    for _ in range(3):
        metaopt.zero_grad()
        opt.zero_grad()
        error = F.cross_entropy(linear(inputs), targets)
        losses.append(error.item())
        error.backward()
        opt.step()
        metaopt.step()
    assert all(p.grad is not None for p in metaopt.parameters())
    assert losses[-1] < losses[0]
    assert linear.weight.grad_fn is not None  # differentiably updated in place


def test_vision_models_build_learn2learn_backbones() -> None:
    model = l2l.vision.models.OmniglotCNN(5)
    assert model(torch.randn(2, 1, 28, 28)).shape == (2, 5)
