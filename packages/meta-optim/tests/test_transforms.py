"""ModuleTransform, KroneckerTransform and MetaCurvatureTransform: shapes, maths and errors."""

from __future__ import annotations

import pytest
import torch
from meta_nn import KroneckerLinear
from meta_optim import KroneckerTransform, MetaCurvatureTransform, ModuleTransform, kronecker_dims
from torch import nn

SHAPES = [(), (5,), (4, 3), (4, 2, 3, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_module_transform_output_has_parameter_shape(
    shape: tuple[int, ...], device: torch.device
) -> None:
    param = torch.randn(shape, dtype=torch.float64, device=device)
    transform = ModuleTransform(nn.Linear)(param)
    numel = param.numel()
    assert isinstance(transform.module, nn.Linear)
    assert (transform.module.in_features, transform.module.out_features) == (numel, numel)
    assert transform.module.weight.dtype == torch.float64
    assert transform.module.weight.device == param.device
    grad = torch.randn_like(param)
    update = transform(grad)
    assert update.shape == param.shape
    expected = transform.module(grad.reshape(1, numel)).reshape(shape)
    torch.testing.assert_close(update, expected)


def test_kronecker_dims() -> None:
    assert kronecker_dims(()) == (1, 1)
    assert kronecker_dims((7,)) == (7, 1)
    assert kronecker_dims((7, 3)) == (7, 3)
    assert kronecker_dims((8, 3, 5, 5)) == (8, 75)
    assert kronecker_dims(torch.Size([2, 3, 4])) == (2, 12)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("psd", [True, False])
def test_kronecker_transform_equals_explicit_kron(
    shape: tuple[int, ...], psd: bool, device: torch.device
) -> None:
    generator = torch.Generator().manual_seed(0)
    param = torch.zeros(shape, dtype=torch.float64, device=device)
    transform = KroneckerTransform(KroneckerLinear, bias=True, psd=psd)(param)
    n, m = kronecker_dims(shape)
    module = transform.module
    assert isinstance(module, KroneckerLinear)
    assert (module.n, module.m, module.psd) == (n, m, psd)
    assert module.bias is not None
    assert module.left.shape == (n, n)
    assert module.right.shape == (m, m)
    grad = torch.randn(shape, generator=generator, dtype=torch.float64).to(device)
    torch.testing.assert_close(transform(grad), grad)  # identity at initialisation
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64).to(device))
    left, right = module.left, module.right
    if psd:
        left, right = left @ left.T, right @ right.T
    expected = (torch.kron(left, right) @ grad.reshape(-1) + module.bias).reshape(shape)
    update = transform(grad)
    assert update.shape == param.shape
    torch.testing.assert_close(update, expected, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("psd", [True, False])
def test_kronecker_transform_per_filter_factors_each_convolution_filter(
    psd: bool, device: torch.device
) -> None:
    generator = torch.Generator().manual_seed(1)
    param = torch.zeros(4, 2, 3, 3, dtype=torch.float64, device=device)
    transform = KroneckerTransform(KroneckerLinear, bias=True, psd=psd, per_filter=True)(param)
    module = transform.module
    assert isinstance(module, KroneckerLinear)
    assert (module.n, module.m) == (2, 9)
    grad = torch.randn(param.shape, generator=generator, dtype=torch.float64).to(device)
    torch.testing.assert_close(transform(grad), grad)  # identity at initialisation
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64).to(device))
    left, right = module.left, module.right
    if psd:
        left, right = left @ left.T, right @ right.T
    assert module.bias is not None
    # every output filter, viewed as (in, kh * kw), gets L @ G_o @ R + B with shared factors
    filters = grad.reshape(4, 2, 9)
    expected = (left @ filters @ right + module.bias.reshape(2, 9)).reshape(param.shape)
    torch.testing.assert_close(transform(grad), expected, atol=1e-10, rtol=1e-10)
    # parameters of at most two dimensions keep the default layout
    for shape in [(5,), (4, 3)]:
        weight = torch.zeros(shape, dtype=torch.float64)
        built = KroneckerTransform(KroneckerLinear, per_filter=True)(weight).module
        assert (built.n, built.m) == kronecker_dims(shape)


def test_kronecker_transform_defaults_are_psd_without_bias() -> None:
    transform = KroneckerTransform(KroneckerLinear)(torch.zeros(3, 4))
    assert transform.module.psd is True
    assert transform.module.bias is None


def test_meta_curvature_identity_init_and_lr(device: torch.device) -> None:
    for shape in SHAPES:
        param = torch.zeros(shape, dtype=torch.float64, device=device)
        transform = MetaCurvatureTransform(param, lr=0.5)
        grad = torch.randn(shape, dtype=torch.float64, device=device)
        torch.testing.assert_close(transform(grad), 0.5 * grad)
        assert all(p.dtype == torch.float64 for p in transform.parameters())


def test_meta_curvature_parameters_per_rank() -> None:
    names = {
        shape: [
            (name, tuple(p.shape))
            for name, p in MetaCurvatureTransform(torch.zeros(shape)).named_parameters()
        ]
        for shape in SHAPES
    }
    assert names[()] == [("curvature", ())]
    assert names[(5,)] == [("curvature", (5,))]
    assert names[(4, 3)] == [("out_curvature", (4, 4)), ("in_curvature", (3, 3))]
    assert names[(4, 2, 3, 3)] == [
        ("out_curvature", (4, 4)),
        ("in_curvature", (2, 2)),
        ("filter_curvature", (9, 9)),
    ]


def test_meta_curvature_matches_definition(device: torch.device) -> None:
    generator = torch.Generator().manual_seed(1)

    def randomise(module: nn.Module) -> None:
        with torch.no_grad():
            for p in module.parameters():
                p.copy_(torch.randn(p.shape, generator=generator, dtype=torch.float64).to(device))

    vector = MetaCurvatureTransform(torch.zeros(5, dtype=torch.float64, device=device), lr=0.3)
    randomise(vector)
    grad = torch.randn(5, generator=generator, dtype=torch.float64).to(device)
    torch.testing.assert_close(vector(grad), 0.3 * vector.curvature * grad)

    matrix = MetaCurvatureTransform(torch.zeros(4, 3, dtype=torch.float64, device=device), lr=0.3)
    randomise(matrix)
    grad = torch.randn(4, 3, generator=generator, dtype=torch.float64).to(device)
    expected = 0.3 * matrix.out_curvature @ grad @ matrix.in_curvature
    torch.testing.assert_close(matrix(grad), expected)

    conv = MetaCurvatureTransform(torch.zeros(4, 2, 3, 3, dtype=torch.float64, device=device))
    randomise(conv)
    grad = torch.randn(4, 2, 3, 3, generator=generator, dtype=torch.float64).to(device)
    # Row-major vec of the (out, in, f) tensor: kron(M_out, M_in^T, M_f^T) @ vec(G).
    assert conv.out_curvature is not None
    assert conv.in_curvature is not None
    assert conv.filter_curvature is not None
    out_c, in_c, filter_c = (
        m.detach().clone() for m in (conv.out_curvature, conv.in_curvature, conv.filter_curvature)
    )
    operator = torch.kron(torch.kron(out_c, in_c.T.contiguous()), filter_c.T.contiguous())
    expected = (operator @ grad.reshape(-1)).reshape(4, 2, 3, 3)
    torch.testing.assert_close(conv(grad), expected, atol=1e-10, rtol=1e-10)


def test_transform_errors() -> None:
    with pytest.raises(TypeError, match=r"ModuleTransform expects a callable .* got int"):
        ModuleTransform(3)  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(TypeError, match=r"module_cls\(2, 2\) returned str; expected a torch.nn"):
        ModuleTransform(lambda n, m: "linear")(torch.zeros(2))  # type: ignore[arg-type,return-value]  # wrong on purpose
    with pytest.raises(TypeError, match="ModuleTransform expects a parameter tensor, got list"):
        ModuleTransform(nn.Linear)([1.0])  # type: ignore[arg-type]  # wrong on purpose
    transform = ModuleTransform(nn.Linear)(torch.zeros(2, 3))
    with pytest.raises(ValueError, match=r"parameter of shape \(2, 3\), got a gradient of shape"):
        transform(torch.zeros(3, 2))
    shrinking = ModuleTransform(lambda n, m: nn.Linear(n, 2))(torch.zeros(2, 3))
    with pytest.raises(
        ValueError, match=r"maps gradients of shape \(1, 6\) to \(1, 2\); expected 6"
    ):
        shrinking(torch.zeros(2, 3))
    with pytest.raises(TypeError, match=r"KroneckerTransform expects a callable .* got NoneType"):
        KroneckerTransform(None)  # type: ignore[arg-type]  # wrong on purpose
    with pytest.raises(TypeError, match=r"kronecker_cls\(3, 1, bias=False, psd=True\) returned"):
        KroneckerTransform(lambda n, m, bias, psd: None)(torch.zeros(3))
    kronecker = KroneckerTransform(KroneckerLinear)(torch.zeros(3))
    with pytest.raises(ValueError, match=r"built for a parameter of shape \(3,\), got a gradient"):
        kronecker(torch.zeros(4))
    with pytest.raises(TypeError, match="expects a gradient tensor, got float"):
        kronecker(1.0)
    with pytest.raises(ValueError, match="MetaCurvatureTransform: lr must be >= 0, got -1"):
        MetaCurvatureTransform(torch.zeros(3), lr=-1.0)
    with pytest.raises(
        TypeError,
        match="MetaCurvatureTransform: lr must be a finite real number, got '1' \\(str\\)",
    ):
        MetaCurvatureTransform(torch.zeros(3), lr="1")  # type: ignore[arg-type]  # on purpose
    with pytest.raises(ValueError, match=r"MetaCurvatureTransform was built for a parameter of"):
        MetaCurvatureTransform(torch.zeros(3, 2))(torch.zeros(2, 3))
