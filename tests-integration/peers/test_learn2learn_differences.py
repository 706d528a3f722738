"""Differential tests in float64: learn2learn 0.2.0 beside ``meta_all.compat.learn2learn``.

Both libraries get the same seeded initial weights (one module built and deep-copied), the same
data and, for learnable transforms, the same transform weights (copied across, in each
library's layout), and must give equal outputs and meta-gradients: ``RTOL``/``ATOL``
(1e-10 / 1e-12) for everything computed by autograd; ``QP_TOL`` (1e-9) for ``SVClassifier``,
whose quadratic programme qpth solves iteratively (both agree to about 2e-16 on the data here;
the margin covers the solver amplifying last-bit differences in the matrices). Where
learn2learn and meta-* differ by design (listed in ``docs/migration/learn2learn.md``), the test
asserts the documented behaviour on both sides. Random task sampling differs by design (meta-*
draws from ``torch.Generator`` objects), so the data tests compare task structure, and the
deterministic transforms on the same descriptions.
"""

from __future__ import annotations

import copy
import random
import types
import warnings
from collections.abc import Callable, Iterator, Sequence

import meta_all.compat.learn2learn as ours
import pytest
import torch
from torch import Tensor, nn

RTOL, ATOL = 1e-10, 1e-12
QP_TOL = 1e-9  # SVClassifier: qpth's interior-point iterations (measured: about 2e-16)
LR = 0.3


@pytest.fixture(autouse=True)
def float64() -> Iterator[None]:
    """Every tensor and every module (the transforms too) in float64."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


@pytest.fixture(scope="module")
def theirs(learn2learn: types.ModuleType) -> types.ModuleType:
    """learn2learn 0.2.0 (the session fixture, under a short name)."""
    return learn2learn


def assert_equal(actual: object, expected: object, rtol: float = RTOL, atol: float = ATOL) -> None:
    """``assert_close`` with the suite's tolerances (``None`` entries must match)."""
    torch.testing.assert_close(actual, expected, rtol=rtol, atol=atol)


def grads(params: Iterator[Tensor] | Sequence[Tensor]) -> list[Tensor | None]:
    return [None if p.grad is None else p.grad.detach().clone() for p in params]


def values(params: Iterator[Tensor] | Sequence[Tensor]) -> list[Tensor]:
    return [p.detach().clone() for p in params]


# the models and data ---------------------------------------------------------------------------


class Net(nn.Module):
    """A small MLP, optionally with BatchNorm, a frozen layer and an unused parameter."""

    def __init__(self, *, batchnorm: bool = False, unused: bool = False) -> None:
        super().__init__()
        self.hidden = nn.Linear(4, 6)
        self.norm = nn.BatchNorm1d(6) if batchnorm else nn.Identity()
        self.head = nn.Linear(6, 3)
        self.unused = nn.Parameter(torch.randn(2)) if unused else None

    def forward(self, x: Tensor) -> Tensor:
        return self.head(torch.tanh(self.norm(self.hidden(x))))


def make_net(seed: int = 0, **kwargs: bool) -> Net:
    torch.manual_seed(seed)
    net = Net(**kwargs)
    if isinstance(net.norm, nn.BatchNorm1d):  # not the identity affine map of the default init
        with torch.no_grad():
            net.norm.weight.uniform_(0.5, 1.5)
            net.norm.bias.uniform_(-0.5, 0.5)
    return net


def make_split(seed: int, n: int = 9) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 4, generator=generator, dtype=torch.float64), torch.randint(
        0, 3, (n,), generator=generator
    )


SUPPORT, QUERY = make_split(1), make_split(2)


def loss_on(model: Callable[[Tensor], Tensor], split: tuple[Tensor, Tensor]) -> Tensor:
    return nn.functional.cross_entropy(model(split[0]), split[1])


# MAML ------------------------------------------------------------------------------------------


def run_maml(
    lib: types.ModuleType,
    net: nn.Module,
    *,
    steps: int = 1,
    freeze: str | None = None,
    **options: bool,
) -> dict[str, object]:
    """Adapt a clone ``steps`` times on the support set and back-propagate the query loss."""
    model = copy.deepcopy(net)
    if freeze is not None:
        model.get_parameter(freeze).requires_grad_(False)
    maml = lib.algorithms.MAML(model, lr=LR, **options)
    learner = maml.clone()
    for _ in range(steps):
        learner.adapt(loss_on(learner, SUPPORT))
    query_output = learner(QUERY[0])
    nn.functional.cross_entropy(query_output, QUERY[1]).backward()
    return {
        "query_output": query_output.detach(),
        "adapted": values(learner.parameters()),
        "meta_gradients": grads(model.parameters()),
        "buffers": values(model.buffers()),
    }


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
@pytest.mark.parametrize("steps", [1, 3])
def test_maml(theirs, first_order, steps) -> None:
    net = make_net()
    expected = run_maml(theirs, net, steps=steps, first_order=first_order)
    actual = run_maml(ours, net, steps=steps, first_order=first_order)
    assert_equal(actual, expected)
    assert all(grad is not None for grad in actual["meta_gradients"])


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_maml_with_batchnorm(theirs, first_order) -> None:
    net = make_net(batchnorm=True)
    expected = run_maml(theirs, net, steps=2, first_order=first_order)
    actual = run_maml(ours, net, steps=2, first_order=first_order)
    assert_equal(actual, expected)
    # the running statistics moved in both, by the same three forward passes
    assert not torch.equal(actual["buffers"][0], net.norm.running_mean)


def test_maml_allow_nograd_leaves_a_frozen_parameter(theirs) -> None:
    net = make_net()
    expected = run_maml(theirs, net, steps=2, freeze="hidden.weight", allow_nograd=True)
    actual = run_maml(ours, net, steps=2, freeze="hidden.weight", allow_nograd=True)
    assert_equal(actual, expected)
    assert actual["meta_gradients"][0] is None  # hidden.weight
    assert_equal(actual["adapted"][0], net.hidden.weight.detach())


def test_maml_allow_unused_leaves_an_unused_parameter(theirs) -> None:
    net = make_net(unused=True)
    expected = run_maml(theirs, net, steps=2, allow_unused=True)
    actual = run_maml(ours, net, steps=2, allow_unused=True)
    assert_equal(actual, expected)
    names = [name for name, _ in net.named_parameters()]
    assert actual["meta_gradients"][names.index("unused")] is None


def test_maml_per_call_overrides(theirs) -> None:
    """``clone(first_order=...)`` and ``adapt(first_order=...)`` replace the wrapper's flag."""

    def run(lib: types.ModuleType) -> list[Tensor | None]:
        model = copy.deepcopy(make_net())
        learner = lib.algorithms.MAML(model, lr=LR, first_order=True).clone(first_order=False)
        learner.adapt(loss_on(learner, SUPPORT))
        learner.adapt(loss_on(learner, SUPPORT), first_order=True)
        loss_on(learner, QUERY).backward()
        return grads(model.parameters())

    assert_equal(run(ours), run(theirs))


# MetaSGD ---------------------------------------------------------------------------------------


def run_meta_sgd(lib: types.ModuleType, net: nn.Module, *, first_order: bool) -> dict[str, object]:
    model = copy.deepcopy(net)
    meta_sgd = lib.algorithms.MetaSGD(model, lr=LR, first_order=first_order)
    with torch.no_grad():  # rates that differ per entry, the same in both
        generator = torch.Generator().manual_seed(3)
        for rate in meta_sgd.lrs:
            rate.mul_(torch.rand(rate.shape, generator=generator) + 0.5)
    learner = meta_sgd.clone()
    for _ in range(2):
        learner.adapt(loss_on(learner, SUPPORT))
    query_output = learner(QUERY[0])
    nn.functional.cross_entropy(query_output, QUERY[1]).backward()
    return {
        "query_output": query_output.detach(),
        "meta_gradients": grads(model.parameters()),
        "rate_gradients": grads(meta_sgd.lrs),
    }


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
def test_meta_sgd(theirs, first_order) -> None:
    net = make_net()
    expected = run_meta_sgd(theirs, net, first_order=first_order)
    actual = run_meta_sgd(ours, net, first_order=first_order)
    assert_equal(actual, expected)
    assert all(grad is not None for grad in actual["rate_gradients"])


# the functional updates ------------------------------------------------------------------------


def test_maml_update(theirs) -> None:
    def run(lib: types.ModuleType) -> dict[str, object]:
        model = copy.deepcopy(make_net())
        learner = lib.clone_module(model)
        gradients = torch.autograd.grad(
            loss_on(learner, SUPPORT), list(learner.parameters()), create_graph=True
        )
        lib.algorithms.maml_update(learner, LR, gradients)
        loss_on(learner, QUERY).backward()
        return {"adapted": values(learner.parameters()), "grads": grads(model.parameters())}

    assert_equal(run(ours), run(theirs))


def test_meta_sgd_update(theirs) -> None:
    def run(lib: types.ModuleType) -> dict[str, object]:
        model = copy.deepcopy(make_net())
        generator = torch.Generator().manual_seed(4)
        rates = [
            (torch.rand(p.shape, generator=generator) * LR).requires_grad_()
            for p in model.parameters()
        ]
        learner = lib.clone_module(model)
        gradients = torch.autograd.grad(
            loss_on(learner, SUPPORT), list(learner.parameters()), create_graph=True
        )
        lib.algorithms.meta_sgd_update(learner, rates, gradients)
        loss_on(learner, QUERY).backward()
        return {
            "adapted": values(learner.parameters()),
            "grads": grads(model.parameters()),
            "rate_grads": grads(rates),
        }

    assert_equal(run(ours), run(theirs))


# GBML and its transforms -----------------------------------------------------------------------


def perturb(module: nn.Module, seed: int) -> None:
    """Move every parameter of ``module`` away from its (often identity) initialisation."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in module.parameters():
            param.add_(0.1 * torch.randn(param.shape, generator=generator))


def theirs_to_ours_kronecker(theirs_linear: nn.Module, ours_linear: nn.Module) -> None:
    """Copy a learn2learn ``KroneckerLinear``'s weights into ours (documented layouts).

    The bias is stored ``(n, m)`` by learn2learn and flat by meta-*; with ``psd=True`` the
    factors are ``P^T P`` (learn2learn) and ``P P^T`` (meta-*), so ``P`` is transposed.
    """
    with torch.no_grad():
        for name in ("left", "right"):
            factor = getattr(theirs_linear, name)
            getattr(ours_linear, name).copy_(factor.mT if theirs_linear.psd else factor)
        if theirs_linear.bias is not None:
            ours_linear.bias.copy_(theirs_linear.bias.reshape(-1))


# learn2learn's meta-curvature matrices and ours: ``update = M_out @ G @ M_in`` for a weight;
# for a convolution weight learn2learn's filter matrix multiplies from the other side
META_CURVATURE = {
    "mc": "curvature",
    "mc_in": "out_curvature",
    "mc_out": "in_curvature",
    "mc_f": "filter_curvature",
}


def copy_transform(kind: str, theirs_transform: nn.Module, ours_transform: nn.Module) -> None:
    """Copy one per-parameter transform's weights from learn2learn's into ours."""
    if kind == "kronecker":
        theirs_linear, ours_linear = theirs_transform.transform, ours_transform.module
        theirs_to_ours_kronecker(theirs_linear, ours_linear)
        return
    if kind == "metacurvature":
        with torch.no_grad():
            for theirs_name, theirs_param in theirs_transform.named_parameters():
                ours_param = getattr(ours_transform, META_CURVATURE[theirs_name])
                ours_param.copy_(theirs_param.T if theirs_name == "mc_f" else theirs_param)
        return
    theirs_params = list(theirs_transform.parameters())
    ours_params = list(ours_transform.parameters())
    assert len(theirs_params) == len(ours_params)
    with torch.no_grad():
        for theirs_param, ours_param in zip(theirs_params, ours_params, strict=True):
            ours_param.copy_(theirs_param)


def transform_factory(lib: types.ModuleType, kind: str) -> Callable[[Tensor], nn.Module]:
    transforms = lib.optim.transforms
    if kind == "module":
        return transforms.ModuleTransform(nn.Linear)
    if kind == "kronecker":
        return transforms.KroneckerTransform(lib.nn.KroneckerLinear)
    return transforms.MetaCurvatureTransform


def their_transforms(update: nn.Module) -> list[nn.Module]:
    """learn2learn's ``ParameterUpdate`` keeps its transforms in ``transforms_modules``."""
    return list(update.transforms_modules)


TRANSFORMS = ["module", "kronecker", "metacurvature"]


def transform_gradients(
    kind: str, transforms: Sequence[nn.Module], theirs_layout: bool
) -> list[object]:
    """The gradients of each transform's parameters, in learn2learn's layout."""
    found: list[object] = []
    for transform in transforms:
        if kind == "kronecker":
            linear = transform.transform if theirs_layout else transform.module
            found.append(kronecker_grads(linear, theirs_layout=theirs_layout))
        elif kind == "metacurvature" and not theirs_layout:
            matrices = {name: getattr(transform, name) for name in META_CURVATURE.values()}
            found.append(
                [
                    param.grad.T if name == "filter_curvature" else param.grad
                    for name, param in matrices.items()
                    if param is not None
                ]
            )
        else:
            found.append(grads(transform.parameters()))
    return found


def build_gbml(
    theirs: types.ModuleType, kind: str, net: nn.Module, **options: bool
) -> tuple[nn.Module, nn.Module]:
    """learn2learn's and our ``GBML`` over copies of ``net``, with the same transform weights."""
    theirs_gbml = theirs.algorithms.GBML(
        copy.deepcopy(net), transform_factory(theirs, kind), lr=LR, **options
    )
    perturb(theirs_gbml.compute_update, seed=5)
    ours_gbml = ours.algorithms.GBML(
        copy.deepcopy(net), transform_factory(ours, kind), lr=LR, **options
    )
    pairs = zip(
        their_transforms(theirs_gbml.compute_update),
        ours_gbml.compute_update.transforms,
        strict=True,
    )
    for theirs_transform, ours_transform in pairs:
        copy_transform(kind, theirs_transform, ours_transform)
    return theirs_gbml, ours_gbml


transform_gradients_of = transform_gradients


def run_gbml(gbml: nn.Module, kind: str, steps: int) -> dict[str, object]:
    learner = gbml.clone()
    for _ in range(steps):
        learner.adapt(loss_on(learner, SUPPORT))
    query_output = learner(QUERY[0])
    nn.functional.cross_entropy(query_output, QUERY[1]).backward()
    return {
        "query_output": query_output.detach(),
        "adapted": values(learner.module.parameters()),
        "meta_gradients": grads(gbml.module.parameters()),
        "transform_gradients": transform_gradients(kind, *updates_of(gbml.compute_update)),
    }


def updates_of(update: nn.Module) -> tuple[list[nn.Module], bool]:
    """A ``ParameterUpdate``'s transforms, and whether they are learn2learn's."""
    theirs_layout = hasattr(update, "transforms_modules")
    found = their_transforms(update) if theirs_layout else list(update.transforms)
    return found, theirs_layout


@pytest.mark.parametrize("first_order", [False, True], ids=["second-order", "first-order"])
@pytest.mark.parametrize("kind", TRANSFORMS)
def test_gbml(theirs, kind, first_order) -> None:
    theirs_gbml, ours_gbml = build_gbml(theirs, kind, make_net(), first_order=first_order)
    expected, actual = run_gbml(theirs_gbml, kind, 2), run_gbml(ours_gbml, kind, 2)
    assert_equal(actual, expected)
    assert all(grad is not None for grad in grads(ours_gbml.compute_update.parameters()))


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_gbml_adapt_transform(theirs, kind) -> None:
    """The transform is stepped first and the model's step uses it (learn2learn's order)."""
    theirs_gbml, ours_gbml = build_gbml(theirs, kind, make_net(), adapt_transform=True)
    assert_equal(run_gbml(ours_gbml, kind, 3), run_gbml(theirs_gbml, kind, 3))


def test_gbml_first_order_adapt_transform_adapts_where_learn2learn_fails(theirs, capsys) -> None:
    """Migration guide: learn2learn 0.2.0 frees the graph its second first-order step needs
    (it prints the traceback, then fails with ``UnboundLocalError``); meta-* takes the step."""
    theirs_gbml, ours_gbml = build_gbml(
        theirs, "metacurvature", make_net(), adapt_transform=True, first_order=True
    )
    learner = theirs_gbml.clone()
    learner.adapt(loss_on(learner, SUPPORT))
    with pytest.raises(UnboundLocalError):
        learner.adapt(loss_on(learner, SUPPORT))
    assert "Maybe try with allow_nograd=True" in capsys.readouterr().out
    result = run_gbml(ours_gbml, "metacurvature", 2)
    assert all(grad is not None for grad in result["transform_gradients"][0])


def test_gbml_allow_nograd_and_unused(theirs) -> None:
    net = make_net(unused=True)
    net.hidden.bias.requires_grad_(False)
    theirs_gbml, ours_gbml = build_gbml(
        theirs, "metacurvature", net, allow_nograd=True, allow_unused=True
    )
    actual = run_gbml(ours_gbml, "metacurvature", 2)
    expected = run_gbml(theirs_gbml, "metacurvature", 2)
    assert_equal(actual, expected)
    names = [name for name, _ in net.named_parameters()]
    assert actual["meta_gradients"][names.index("unused")] is None
    assert actual["meta_gradients"][names.index("hidden.bias")] is None


# l2l.optim -------------------------------------------------------------------------------------


def build_parameter_updates(
    theirs: types.ModuleType, kind: str, model: nn.Module
) -> tuple[nn.Module, nn.Module]:
    theirs_update = theirs.optim.ParameterUpdate(
        model.parameters(), transform_factory(theirs, kind)
    )
    perturb(theirs_update, seed=6)
    ours_update = ours.optim.ParameterUpdate(model.parameters(), transform_factory(ours, kind))
    pairs = zip(their_transforms(theirs_update), ours_update.transforms, strict=True)
    for theirs_transform, ours_transform in pairs:
        copy_transform(kind, theirs_transform, ours_transform)
    return theirs_update, ours_update


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_parameter_update_and_differentiable_sgd(theirs, kind) -> None:
    """``ParameterUpdate`` -> ``DifferentiableSGD`` on a clone, then a query loss (GBML by hand)."""
    net = make_net()
    updates = dict(zip(("theirs", "ours"), build_parameter_updates(theirs, kind, net), strict=True))

    def run(lib: types.ModuleType, get_update: nn.Module) -> dict[str, object]:
        model = copy.deepcopy(net)
        learner = lib.clone_module(model)
        step = lib.optim.DifferentiableSGD(LR)
        for _ in range(2):
            loss = loss_on(learner, SUPPORT)
            # learn2learn frees the graph unless asked to keep it (GBML asks)
            found = get_update(loss, learner.parameters(), create_graph=True, retain_graph=True)
            step(learner, found)
        loss_on(learner, QUERY).backward()
        return {
            "adapted": values(learner.parameters()),
            "meta_gradients": grads(model.parameters()),
            "transform_gradients": transform_gradients(kind, *updates_of(get_update)),
        }

    assert_equal(run(ours, updates["ours"]), run(theirs, updates["theirs"]))


def test_differentiable_sgd_reads_grad_attributes(theirs) -> None:
    """With ``gradients=None`` both step every parameter by its ``.grad``."""

    def run(lib: types.ModuleType) -> list[Tensor]:
        model = copy.deepcopy(make_net())
        loss_on(model, SUPPORT).backward()
        lib.optim.DifferentiableSGD(LR)(model)
        return values(model.parameters())

    assert_equal(run(ours), run(theirs))


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_learnable_optimizer(theirs, kind) -> None:
    """Four rounds of hypergradient descent: the model and the transforms move alike."""
    net = make_net()
    theirs_opt = theirs.optim.LearnableOptimizer(
        copy.deepcopy(net), transform_factory(theirs, kind), lr=LR
    )
    perturb(theirs_opt, seed=7)
    ours_opt = ours.optim.LearnableOptimizer(
        copy.deepcopy(net), transform_factory(ours, kind), lr=LR
    )
    for theirs_transform, ours_transform in zip(
        theirs_opt.transforms, ours_opt.transforms, strict=True
    ):
        copy_transform(kind, theirs_transform, ours_transform)

    def run(metaopt: nn.Module, model: nn.Module) -> dict[str, object]:
        opt = torch.optim.SGD(metaopt.parameters(), lr=0.1)
        transform_gradients = []
        for split in (SUPPORT, QUERY, SUPPORT, QUERY):
            metaopt.zero_grad()
            opt.zero_grad()
            loss_on(model, split).backward()
            transform_gradients.append(
                transform_gradients_of(
                    kind, metaopt.transforms, theirs_layout=metaopt is theirs_opt
                )
            )
            opt.step()
            metaopt.step()
        return {
            "model": values(model.parameters()),
            "transform_gradients": transform_gradients,
        }

    expected = run(theirs_opt, theirs_opt.info["model"])
    actual = run(ours_opt, ours_opt.model)
    assert_equal(actual, expected)
    assert all(param.grad is not None for param in ours_opt.parameters())


# l2l.nn ----------------------------------------------------------------------------------------


def kronecker_pair(
    theirs: types.ModuleType, cls: str, *args: int, **options: bool
) -> tuple[nn.Module, nn.Module]:
    """learn2learn's and our ``cls`` with learn2learn's weights (perturbed) copied into ours."""
    theirs_layer = getattr(theirs.nn, cls)(*args, **options)
    perturb(theirs_layer, seed=8)
    ours_layer = getattr(ours.nn, cls)(*args, **options)
    theirs_to_ours_kronecker(theirs_layer, ours_layer)
    return theirs_layer, ours_layer


def kronecker_grads(layer: nn.Module, *, theirs_layout: bool) -> dict[str, Tensor]:
    """The gradients of a ``KroneckerLinear``'s factors and bias, in learn2learn's layout."""
    found = {"left": layer.left.grad, "right": layer.right.grad}
    if layer.psd and not theirs_layout:
        found = {name: None if grad is None else grad.mT for name, grad in found.items()}
    if layer.bias is not None and layer.bias.grad is not None:
        found["bias"] = layer.bias.grad.reshape(layer.left.shape[0], layer.right.shape[0])
    return found


@pytest.mark.parametrize("psd", [False, True])
@pytest.mark.parametrize("shape", [(3, 2), (5, 4, 3, 2)], ids=["matrix", "batched"])
def test_kronecker_linear_on_matrix_input(theirs, psd, shape) -> None:
    theirs_layer, ours_layer = kronecker_pair(theirs, "KroneckerLinear", 3, 2, psd=psd)
    inputs = torch.randn(shape, generator=torch.Generator().manual_seed(9))
    results = {}
    for name, layer in (("theirs", theirs_layer), ("ours", ours_layer)):
        x = inputs.clone().requires_grad_()
        output = layer(x)
        output.pow(3).sum().backward()
        results[name] = {
            "output": output.detach(),
            "input_grad": x.grad,
            "grads": kronecker_grads(layer, theirs_layout=name == "theirs"),
        }
    assert_equal(results["ours"], results["theirs"])


def test_kronecker_linear_on_flat_input_follows_each_documented_layout(theirs) -> None:
    """Migration guide: meta-* flattens row-major, ``kron(L, R) @ x + b``; learn2learn reads a
    1-D input column-major, ``kron(R^T, L) @ x + vec(B)``."""
    theirs_layer, ours_layer = kronecker_pair(theirs, "KroneckerLinear", 3, 2)
    x = torch.randn(6, generator=torch.Generator().manual_seed(10))
    left, right = theirs_layer.left.detach(), theirs_layer.right.detach()
    bias = theirs_layer.bias.detach()  # (n, m)
    assert_equal(ours_layer(x), torch.kron(left, right) @ x + bias.reshape(-1))
    assert_equal(theirs_layer(x), torch.kron(right.T.contiguous(), left) @ x + bias.T.reshape(-1))
    # with a symmetric right factor (psd=True) meta-*'s flat input agrees with the matrix form
    theirs_psd, ours_psd = kronecker_pair(theirs, "KroneckerLinear", 3, 2, psd=True)
    grids = torch.randn(4, 3, 2, generator=torch.Generator().manual_seed(11))
    assert_equal(ours_psd(grids.reshape(4, 6)), theirs_psd(grids).reshape(4, 6))


def copy_recurrent_map(
    input_map: nn.Module, hidden_map: nn.Module, ours_input: nn.Module, ours_hidden: nn.Module
) -> None:
    """learn2learn's pair of biased maps ``W x + b1``, ``U h + b2`` -> ours ``W x``, ``U h + b``.

    The migration guide: meta-*'s cells follow Jose et al., with one bias per pre-activation
    where learn2learn has one per map; the two biases of learn2learn add up to ours.
    """
    theirs_to_ours_kronecker(hidden_map, ours_hidden)
    with torch.no_grad():
        ours_input.left.copy_(input_map.left)
        ours_input.right.copy_(input_map.right)
        ours_hidden.bias.add_(input_map.bias.reshape(-1))


@pytest.mark.parametrize("shape", [(3, 2), (4, 3, 2)], ids=["matrix", "batched"])
def test_kronecker_rnn(theirs, shape) -> None:
    theirs_cell = theirs.nn.KroneckerRNN(3, 2)
    perturb(theirs_cell, seed=12)
    ours_cell = ours.nn.KroneckerRNN(3, 2)
    copy_recurrent_map(theirs_cell.W_h, theirs_cell.U_h, ours_cell.input_map, ours_cell.hidden_map)
    theirs_to_ours_kronecker(theirs_cell.W_y, ours_cell.output_map)
    generator = torch.Generator().manual_seed(13)
    x, h = torch.randn(shape, generator=generator), torch.randn(shape, generator=generator)
    results = {}
    for name, cell in (("theirs", theirs_cell), ("ours", ours_cell)):
        inputs = x.clone().requires_grad_()
        output, new_h = cell(inputs, h)
        (output.pow(2).sum() + new_h.sum()).backward()
        results[name] = {"output": output.detach(), "h": new_h.detach(), "x_grad": inputs.grad}
    assert_equal(results["ours"], results["theirs"])
    assert_equal(  # the output map's gradient, in learn2learn's layout
        kronecker_grads(ours_cell.output_map, theirs_layout=False),
        kronecker_grads(theirs_cell.W_y, theirs_layout=True),
    )


GATES = {"input": "i", "forget": "f", "cell": "g", "output": "o"}


@pytest.mark.parametrize("shape", [(3, 2), (4, 3, 2)], ids=["matrix", "batched"])
def test_kronecker_lstm(theirs, shape) -> None:
    theirs_cell = theirs.nn.KroneckerLSTM(3, 2)
    perturb(theirs_cell, seed=14)
    ours_cell = ours.nn.KroneckerLSTM(3, 2)
    for gate, letter in GATES.items():
        copy_recurrent_map(
            getattr(theirs_cell, f"W_i{letter}"),
            getattr(theirs_cell, f"W_h{letter}"),
            ours_cell.input_maps[gate],
            ours_cell.hidden_maps[gate],
        )
    generator = torch.Generator().manual_seed(15)
    x, h, c = (torch.randn(shape, generator=generator) for _ in range(3))
    results = {}
    for name, cell in (("theirs", theirs_cell), ("ours", ours_cell)):
        inputs = x.clone().requires_grad_()
        output, (new_h, new_c) = cell(inputs, (h, c))
        (output.pow(2).sum() + new_c.sum()).backward()
        results[name] = {
            "output": output.detach(),
            "state": (new_h.detach(), new_c.detach()),
            "x_grad": inputs.grad,
        }
    assert_equal(results["ours"], results["theirs"])


def test_meta_module_with_parameter_transforms(theirs) -> None:
    """learn2learn's ``examples/metamodule_toy.py`` pattern: a learnable scale on every weight."""
    generator = torch.Generator().manual_seed(16)
    scales = [torch.rand(1, generator=generator) + 0.5 for _ in range(4)]

    def run(lib: types.ModuleType) -> dict[str, object]:
        model = copy.deepcopy(make_net())
        meta_model = lib.nn.MetaModule(
            module=model,
            substitutions={
                nn.Linear: lambda linear: lib.nn.ParameterTransform(
                    module=linear, transform=lambda param: lib.nn.Scale()
                )
            },
            freeze_module=True,
        )
        meta_parameters = list(meta_model.meta_parameters())
        with torch.no_grad():
            for param, scale in zip(meta_parameters, scales, strict=True):
                param.copy_(scale)
        output = meta_model(QUERY[0])
        nn.functional.cross_entropy(output, QUERY[1]).backward()
        return {
            "output": output.detach(),
            "meta_gradients": grads(meta_parameters),
            "trainable": sorted(n for n, p in meta_model.named_parameters() if p.requires_grad),
            "model_gradients": grads(model.parameters()),
        }

    actual, expected = run(ours), run(theirs)
    assert len(actual["trainable"]) == 4
    actual_names, expected_names = actual.pop("trainable"), expected.pop("trainable")
    assert_equal(actual, expected)
    # the documented difference: nested names use underscores in ``parameter_transforms`` keys
    assert [name.rsplit(".", 2)[0] for name in actual_names] == [
        name.rsplit(".", 2)[0] for name in expected_names
    ]


def embeddings(seed: int, labels: Sequence[int]) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    targets = torch.tensor(labels)
    return torch.randn(len(labels), 5, generator=generator) + targets[:, None], targets


@pytest.mark.parametrize(
    ("distance", "normalize"), [("euclidean", False), ("euclidean", True), ("cosine", False)]
)
def test_prototypical_classifier(theirs, distance, normalize) -> None:
    # labels out of order, not 0..ways-1, and shots that differ per class
    support, labels = embeddings(17, [7, 2, 7, 5, 2, 5, 5, 7])
    query, _ = embeddings(18, [2, 5, 7, 7, 2])
    results = {}
    for name, lib in (("theirs", theirs), ("ours", ours)):
        head = lib.nn.PrototypicalClassifier(distance=distance, normalize=normalize)
        shots, queries = support.clone().requires_grad_(), query.clone().requires_grad_()
        head.fit_(shots, labels)
        logits = head(queries)
        logits.log_softmax(dim=1)[:, 0].sum().backward()
        results[name] = {"logits": logits.detach(), "shots": shots.grad, "queries": queries.grad}
        # learn2learn's constructor with (support, labels) fits at once
        refit = lib.nn.PrototypicalClassifier(support, labels, distance, normalize)
        assert_equal(refit(query), head(query))
    assert_equal(results["ours"], results["theirs"])


@pytest.mark.parametrize("normalize", [False, True])
def test_sv_classifier(theirs, normalize) -> None:
    """MetaOptNet's SVM head: qpth solves both QPs; equal to ``QP_TOL`` (1e-9)."""
    support, labels = embeddings(19, [0, 1, 2, 0, 1, 2, 0, 1, 2])
    query, _ = embeddings(20, [1, 2, 0, 2])
    results = {}
    for name, lib in (("theirs", theirs), ("ours", ours)):
        shots, queries = support.clone().requires_grad_(), query.clone().requires_grad_()
        head = lib.nn.SVClassifier(shots, labels, ways=3, normalize=normalize, C_reg=0.1)
        logits = head(queries)
        nn.functional.cross_entropy(logits, torch.tensor([1, 2, 0, 2])).backward()
        results[name] = {"logits": logits.detach(), "shots": shots.grad, "queries": queries.grad}
    assert_equal(results["ours"], results["theirs"], rtol=QP_TOL, atol=QP_TOL)


# l2l.data --------------------------------------------------------------------------------------

# 8 classes of 5 items; labels out of order and not 0..7, items interleaved
DATA_LABELS = [31, 4, 17, 4, 9, 31, 22, 60, 17, 8] * 4


@pytest.fixture(scope="module")
def labelled() -> torch.utils.data.TensorDataset:
    """40 items of 3 features whose first feature is the item's index (to find it again)."""
    generator = torch.Generator().manual_seed(21)
    features = torch.randn(len(DATA_LABELS), 3, generator=generator, dtype=torch.float64)
    features[:, 0] = torch.arange(len(DATA_LABELS), dtype=features.dtype)
    return torch.utils.data.TensorDataset(features, torch.tensor(DATA_LABELS))


def test_meta_dataset_bookkeeping(theirs, labelled) -> None:
    theirs_data, ours_data = theirs.data.MetaDataset(labelled), ours.data.MetaDataset(labelled)
    assert list(ours_data.labels) == list(theirs_data.labels)  # first appearance: 31, 4, 17, ...
    assert {label: list(indices) for label, indices in ours_data.labels_to_indices.items()} == {
        label: list(indices) for label, indices in theirs_data.labels_to_indices.items()
    }
    assert dict(ours_data.indices_to_labels) == dict(theirs_data.indices_to_labels)
    assert len(ours_data) == len(theirs_data) == len(DATA_LABELS)
    for index in (0, 7, 39):
        assert_equal(ours_data[index], theirs_data[index])


def task_chain(lib: types.ModuleType, dataset: object, ways: int, shots: int) -> list[object]:
    transforms = lib.data.transforms
    return [
        transforms.NWays(dataset, n=ways),
        transforms.KShots(dataset, k=shots),
        transforms.LoadData(dataset),
        transforms.RemapLabels(dataset),
        transforms.ConsecutiveLabels(dataset),
    ]


def task_structure(task: Sequence[Tensor], ways: int, shots: int) -> list[int]:
    """Check one sampled task's structure; return the dataset indices it holds.

    Both libraries must give ``ways * shots`` distinct items, the remapped labels
    ``0 .. ways-1`` each ``shots`` times, in consecutive groups, one dataset label per remapped
    label and distinct dataset labels for distinct remapped labels.
    """
    inputs, labels = task
    assert inputs.shape == (ways * shots, 3)
    assert labels.shape == (ways * shots,)
    indices = [int(index) for index in inputs[:, 0]]
    assert len(set(indices)) == ways * shots  # KShots samples without replacement
    assert sorted(labels.tolist()) == sorted(list(range(ways)) * shots)
    groups = [labels[start : start + shots].tolist() for start in range(0, ways * shots, shots)]
    assert all(len(set(group)) == 1 for group in groups)  # ConsecutiveLabels
    originals: dict[int, set[int]] = {}
    for index, label in zip(indices, labels.tolist(), strict=True):
        originals.setdefault(label, set()).add(DATA_LABELS[index])
    assert all(len(found) == 1 for found in originals.values())
    assert len(set.union(*originals.values())) == ways
    return indices


@pytest.mark.parametrize("num_tasks", [-1, 5])
def test_task_dataset_structure(theirs, labelled, num_tasks) -> None:
    """Random sampling differs by design (migration guide: ``torch.Generator`` draws), so the
    tasks are compared by structure; learn2learn's must pass the same checks as ours."""
    ways, shots = 3, 2
    for lib in (theirs, ours):
        random.seed(0)
        torch.manual_seed(0)
        dataset = lib.data.MetaDataset(labelled)
        tasks = lib.data.Taskset(dataset, task_chain(lib, dataset, ways, shots), num_tasks)
        sampled = [task_structure(tasks.sample(), ways, shots) for _ in range(6)]
        if num_tasks > 0:
            assert len(tasks) == num_tasks
            sampled = [task_structure(tasks[index], ways, shots) for index in range(num_tasks)]
            # a fixed task set gives the same task for the same index
            assert sampled == [
                task_structure(tasks[index], ways, shots) for index in range(num_tasks)
            ]
        # over several tasks, more than one choice of labels is drawn
        assert len({frozenset(DATA_LABELS[i] for i in task) for task in sampled}) > 1


def fixed_task(lib: types.ModuleType, indices: Sequence[int]) -> Callable[[object], list[object]]:
    """A learn2learn-style first transform: always the same items (no randomness)."""
    description = ours.data.DataDescription if lib is ours else lib.data.DataDescription

    def transform(previous: object) -> list[object]:
        return [description(index) for index in indices]

    return transform


def test_deterministic_transforms_on_the_same_items(theirs, labelled) -> None:
    """``LoadData`` then ``ConsecutiveLabels`` over fixed items load the same task."""
    indices = [7, 2, 9, 4, 0, 12, 17, 5]
    loaded = {}
    for name, lib in (("theirs", theirs), ("ours", ours)):
        dataset = lib.data.MetaDataset(labelled)
        transforms = lib.data.transforms
        chain = [
            fixed_task(lib, indices),
            transforms.LoadData(dataset),
            transforms.ConsecutiveLabels(dataset),
        ]
        loaded[name] = lib.data.Taskset(dataset, chain, num_tasks=1)[0]
    assert_equal(list(loaded["ours"]), list(loaded["theirs"]))
    # grouped by dataset label, in ascending label order, stable within a label
    assert loaded["ours"][1].tolist() == sorted(DATA_LABELS[i] for i in indices)


def test_learnable_optimizer_leaves_the_original_parameters_requiring_grad(theirs) -> None:
    """Migration guide: learn2learn detaches the original parameters in place at the first
    ``step`` (they stop requiring grad); meta-* leaves their flag and the first update's graph
    reaches them, so the next ``backward`` gives them a gradient."""
    net = make_net()
    found = {}
    for name, lib in (("theirs", theirs), ("ours", ours)):
        model = copy.deepcopy(net)
        originals = list(model.parameters())
        metaopt = lib.optim.LearnableOptimizer(model, lib.optim.MetaCurvatureTransform, lr=LR)
        loss_on(model, SUPPORT).backward()
        metaopt.step()
        for param in originals:
            param.grad = None
        loss_on(model, QUERY).backward()
        found[name] = [(param.requires_grad, param.grad is not None) for param in originals]
    assert found["theirs"] == [(False, False)] * 4
    assert found["ours"] == [(True, True)] * 4


def test_parameter_update_with_create_graph_keeps_the_graph(theirs) -> None:
    """Migration guide: ``create_graph=True`` keeps the loss's graph in meta-* (as
    ``torch.autograd.grad`` does); learn2learn frees it unless ``retain_graph=True`` is passed
    too, so a later backward through the updates fails there."""
    for lib in (theirs, ours):
        model = copy.deepcopy(make_net())
        learner = lib.clone_module(model)
        get_update = lib.optim.ParameterUpdate(model.parameters(), lib.optim.MetaCurvatureTransform)
        found = get_update(loss_on(learner, SUPPORT), learner.parameters(), create_graph=True)
        lib.optim.DifferentiableSGD(LR)(learner, found)
        query_loss = loss_on(learner, QUERY)
        if lib is theirs:
            with pytest.raises(RuntimeError, match="backward through the graph a second time"):
                query_loss.backward()
        else:
            query_loss.backward()
            assert all(param.grad is not None for param in model.parameters())


def test_remap_labels_without_shuffle_numbers_labels_by_first_appearance(theirs, labelled) -> None:
    """Migration guide: without ``shuffle`` meta-* numbers a task's labels in order of first
    appearance; learn2learn in the iteration order of a Python ``set`` of them."""
    indices = [7, 2, 9, 4, 0, 12, 17, 5]
    originals = [DATA_LABELS[index] for index in indices]
    tasks = {}
    for name, lib in (("theirs", theirs), ("ours", ours)):
        dataset = lib.data.MetaDataset(labelled)
        transforms = lib.data.transforms
        chain = [
            fixed_task(lib, indices),
            transforms.LoadData(dataset),
            transforms.RemapLabels(dataset, shuffle=False),
        ]
        tasks[name] = lib.data.Taskset(dataset, chain, num_tasks=1)[0]
    assert_equal(tasks["ours"][0], tasks["theirs"][0])  # the same items, in the same order
    first_appearance = list(dict.fromkeys(originals))
    set_order = list(set(originals))
    assert tasks["ours"][1].tolist() == [first_appearance.index(label) for label in originals]
    assert tasks["theirs"][1].tolist() == [set_order.index(label) for label in originals]
    assert first_appearance != set_order  # these labels tell the two numberings apart


def test_meta_curvature_on_a_convolution_weight(theirs) -> None:
    """A convolution weight ``(out, in, kh, kw)``: the same three-mode preconditioning, with
    learn2learn's ``mc_in``/``mc_out`` as our ``out_curvature``/``in_curvature`` and its
    ``mc_f`` as our ``filter_curvature`` transposed (the migration guide)."""
    weight = torch.randn(4, 3, 2, 2, generator=torch.Generator().manual_seed(22))
    theirs_transform = theirs.optim.transforms.MetaCurvatureTransform(weight, lr=0.5)
    perturb(theirs_transform, seed=23)
    ours_transform = ours.optim.transforms.MetaCurvatureTransform(weight, lr=0.5)
    with torch.no_grad():
        ours_transform.out_curvature.copy_(theirs_transform.mc_in)
        ours_transform.in_curvature.copy_(theirs_transform.mc_out)
        ours_transform.filter_curvature.copy_(theirs_transform.mc_f.T)
    grad = torch.randn(weight.shape, generator=torch.Generator().manual_seed(24))
    assert_equal(ours_transform(grad), theirs_transform(grad))


@pytest.mark.parametrize("kind", TRANSFORMS)
def test_parameter_update_on_a_convolution_weight(theirs, kind) -> None:
    """A convolution weight ``(out, in, kh, kw)`` (``KroneckerTransform``: factors ``(in, in)``
    and ``(kh*kw, kh*kw)`` shared by the ``out`` filters, as learn2learn's)."""
    conv = nn.Conv2d(3, 4, 2)
    theirs_update, ours_update = build_parameter_updates(theirs, kind, conv)
    theirs_shapes = [tuple(p.shape) for p in theirs_update.parameters()]
    assert [tuple(p.shape) for p in ours_update.parameters()] == theirs_shapes
    images = torch.randn(5, 3, 4, 4, generator=torch.Generator().manual_seed(25))
    results = {}
    for name, get_update in (("theirs", theirs_update), ("ours", ours_update)):
        model = copy.deepcopy(conv)
        loss = model(images).tanh().pow(2).mean()
        found = get_update(loss, model.parameters(), create_graph=True, retain_graph=True)
        sum(update.pow(2).sum() for update in found).backward()
        results[name] = {
            "updates": [update.detach() for update in found],
            "transform_gradients": transform_gradients(kind, *updates_of(get_update)),
            "weight_gradients": grads(model.parameters()),
        }
    assert_equal(results["ours"], results["theirs"])


def test_update_attribute_protocols(theirs) -> None:
    """``maml_update(model, lr)`` applies each parameter's ``update`` attribute and
    ``meta_sgd_update(model)`` steps each ``.grad`` by its ``_lr``, in both libraries."""

    def run(lib: types.ModuleType) -> dict[str, object]:
        model = copy.deepcopy(make_net())
        learner = lib.clone_module(model)
        gradients = torch.autograd.grad(
            loss_on(learner, SUPPORT), list(learner.parameters()), create_graph=True
        )
        for param, gradient in zip(learner.parameters(), gradients, strict=True):
            param.update = -LR * gradient
        lib.algorithms.maml_update(learner, LR)
        after_maml = values(learner.parameters())
        gradients = torch.autograd.grad(
            loss_on(learner, QUERY), list(learner.parameters()), create_graph=True
        )
        for index, (param, gradient) in enumerate(
            zip(learner.parameters(), gradients, strict=True)
        ):
            param.grad = gradient
            param._lr = 0.1 * (index + 1)
        lib.algorithms.meta_sgd_update(learner)
        loss_on(learner, SUPPORT).backward()
        return {
            "after_maml": after_maml,
            "after_meta_sgd": values(learner.parameters()),
            "meta_gradients": grads(model.parameters()),
        }

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # .grad of non-leaf tensors
        assert_equal(run(ours), run(theirs))


@pytest.mark.parametrize("replacement", [False, True])
def test_kshots_structure(theirs, labelled, replacement) -> None:
    """``KShots`` draws ``k`` items of each chosen label, distinct unless ``replacement``."""
    ways, shots = 2, 7  # more shots than any label has items: only with replacement
    for lib in (theirs, ours):
        random.seed(1)
        torch.manual_seed(1)
        dataset = lib.data.MetaDataset(labelled)
        transforms = lib.data.transforms
        chain = [
            transforms.NWays(dataset, n=ways),
            transforms.KShots(dataset, k=shots if replacement else 4, replacement=replacement),
            transforms.LoadData(dataset),
        ]
        tasks = lib.data.Taskset(dataset, chain, num_tasks=-1)
        for _ in range(4):
            inputs, labels = tasks.sample()
            count = shots if replacement else 4
            assert inputs.shape == (ways * count, 3)
            assert len(set(labels.tolist())) == ways
            assert all(labels.tolist().count(label) == count for label in set(labels.tolist()))
            indices = [int(index) for index in inputs[:, 0]]
            assert all(DATA_LABELS[i] == int(y) for i, y in zip(indices, labels, strict=True))
            if not replacement:
                assert len(set(indices)) == ways * count


# a convolutional net ---------------------------------------------------------------------------


def make_conv_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(2, 3, 3),
        nn.BatchNorm2d(3),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(3 * 3 * 3, 3),
    )


def image_split(seed: int) -> tuple[Tensor, Tensor]:
    generator = torch.Generator().manual_seed(seed)
    images = torch.randn(6, 2, 5, 5, generator=generator, dtype=torch.float64)
    return images, torch.randint(0, 3, (6,), generator=generator)


@pytest.mark.parametrize("kind", ["maml", *TRANSFORMS])
def test_a_conv_net_with_batchnorm(theirs, kind) -> None:
    """MAML and GBML (every transform, conv weights included) on a conv net with BatchNorm."""
    net = make_conv_net()
    support, query = image_split(26), image_split(27)
    if kind == "maml":
        pairs = [lib.algorithms.MAML(copy.deepcopy(net), lr=LR) for lib in (theirs, ours)]
    else:
        pairs = list(build_gbml(theirs, kind, net))
    results = []
    for wrapper in pairs:
        learner = wrapper.clone()
        for _ in range(2):
            learner.adapt(loss_on(learner, support))
        query_output = learner(query[0])
        nn.functional.cross_entropy(query_output, query[1]).backward()
        results.append(
            {
                "query_output": query_output.detach(),
                "meta_gradients": grads(wrapper.module.parameters()),
                "buffers": values(wrapper.module.buffers()),
            }
        )
    assert_equal(results[1], results[0])


# data utilities --------------------------------------------------------------------------------


@pytest.mark.parametrize("shots", [1, 2])
def test_partition_task(theirs, shots) -> None:
    generator = torch.Generator().manual_seed(28)
    data = torch.randn(12, 3, generator=generator, dtype=torch.float64)
    labels = torch.tensor([2, 0, 1, 2, 1, 0, 0, 2, 1, 1, 0, 2])
    found = [lib.data.partition_task(data, labels, shots=shots) for lib in (theirs, ours)]
    assert_equal(
        [tensor for split in found[1] for tensor in split],
        [tensor for split in found[0] for tensor in split],
    )


def test_accuracy(theirs) -> None:
    scores = torch.randn(7, 3, generator=torch.Generator().manual_seed(29), dtype=torch.float64)
    targets = torch.tensor([0, 1, 2, 0, 1, 2, 0])
    assert_equal(ours.utils.accuracy(scores, targets), theirs.utils.accuracy(scores, targets))


@pytest.mark.parametrize("filtered", [False, True])
def test_fused_nways_kshots_structure(theirs, labelled, filtered) -> None:
    """``FusedNWaysKShots`` (optionally over a subset of labels) and ``FilterLabels``."""
    ways, shots = 3, 2
    keep = [4, 17, 22, 60] if filtered else sorted(set(DATA_LABELS))
    for lib in (theirs, ours):
        random.seed(2)
        torch.manual_seed(2)
        dataset = lib.data.MetaDataset(labelled)
        transforms = lib.data.transforms
        chain = [
            transforms.FusedNWaysKShots(
                dataset, n=ways, k=shots, filter_labels=keep if filtered else None
            ),
            transforms.LoadData(dataset),
            transforms.RemapLabels(dataset),
            transforms.ConsecutiveLabels(dataset),
        ]
        tasks = lib.data.Taskset(dataset, chain, num_tasks=-1)
        for _ in range(4):
            indices = task_structure(tasks.sample(), ways, shots)
            assert {DATA_LABELS[index] for index in indices} <= set(keep)
        only = transforms.FilterLabels(dataset, [9, 60])
        kept = lib.data.Taskset(dataset, [only, transforms.LoadData(dataset)], num_tasks=1)[0]
        assert sorted(int(label) for label in kept[1]) == sorted(
            label for label in DATA_LABELS if label in (9, 60)
        )


def test_kronecker_transform_without_psd_uses_the_right_factor_transposed(theirs) -> None:
    """Migration guide: with ``psd=False`` meta-*'s transform of a weight or bias applies
    ``kron(L, R)`` to the row-major flattening, ``L G R^T``; learn2learn's ``L G R``. Copied
    with ``R`` transposed, the two give the same updates and meta-gradients."""
    net = make_net()
    theirs_update = theirs.optim.ParameterUpdate(
        net.parameters(), theirs.optim.KroneckerTransform(theirs.nn.KroneckerLinear, psd=False)
    )
    perturb(theirs_update, seed=30)
    ours_update = ours.optim.ParameterUpdate(
        net.parameters(), ours.optim.KroneckerTransform(ours.nn.KroneckerLinear, psd=False)
    )
    pairs = zip(their_transforms(theirs_update), ours_update.transforms, strict=True)
    with torch.no_grad():
        for theirs_transform, ours_transform in pairs:
            ours_transform.module.left.copy_(theirs_transform.transform.left)
            ours_transform.module.right.copy_(theirs_transform.transform.right.T)
    results = []
    for lib, get_update in ((theirs, theirs_update), (ours, ours_update)):
        model = copy.deepcopy(net)
        learner = lib.clone_module(model)
        loss = loss_on(learner, SUPPORT)
        found = get_update(loss, learner.parameters(), create_graph=True, retain_graph=True)
        lib.optim.DifferentiableSGD(LR)(learner, found)
        loss_on(learner, QUERY).backward()
        results.append(
            {"updates": [u.detach() for u in found], "meta_gradients": grads(model.parameters())}
        )
    assert_equal(results[1], results[0])


@pytest.mark.parametrize("case", ["frozen", "unused"])
def test_maml_without_allow_flags_raises_a_value_error(theirs, case, capsys) -> None:
    """Migration guide: a frozen (unused) parameter without ``allow_nograd`` (``allow_unused``)
    raises a ``ValueError`` naming it; learn2learn prints a traceback and a hint, then fails
    with ``UnboundLocalError``."""
    net = make_net(unused=case == "unused")
    if case == "frozen":
        net.hidden.weight.requires_grad_(False)
    name = "hidden.weight" if case == "frozen" else "unused"
    for lib in (theirs, ours):
        learner = lib.algorithms.MAML(copy.deepcopy(net), lr=LR).clone()
        loss = loss_on(learner, SUPPORT)
        if lib is theirs:
            with pytest.raises(UnboundLocalError):
                learner.adapt(loss)
            assert "Maybe try with allow_nograd=True" in capsys.readouterr().out
        else:
            with pytest.raises(ValueError, match=rf"\['{name}'\]"):
                learner.adapt(loss)
