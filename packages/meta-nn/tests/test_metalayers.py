"""MetaModule, ParameterTransform, freeze/unfreeze, kronecker_addmm and Scale() (learn2learn's)."""

from __future__ import annotations

import doctest

import pytest
import torch
from meta_nn import (
    KroneckerLinear,
    MetaModule,
    ParameterTransform,
    Scale,
    _metalayers,
    freeze,
    kronecker_addmm,
    unfreeze,
)


def test_docstring_examples_run():
    result = doctest.testmod(_metalayers, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5
    assert result.failed == 0


def test_scale_without_shape_is_one_scalar_factor():
    scale = Scale(alpha=0.5)
    assert scale.alpha.shape == (1,)
    x = torch.tensor([[2.0, 4.0], [6.0, 8.0]], dtype=torch.float64)
    torch.testing.assert_close(scale.double()(x), x * 0.5)
    assert Scale((2, 3)).alpha.shape == (2, 3)  # our shape argument keeps working


def test_kronecker_addmm_hand_computed():
    left = torch.tensor([[1.0, 2.0], [0.0, 1.0]], dtype=torch.float64)
    right = torch.tensor([[3.0]], dtype=torch.float64)
    mat = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    bias = torch.tensor([[10.0], [20.0]], dtype=torch.float64)
    # left @ mat = [[5], [2]]; @ right = [[15], [6]]; alpha 2 -> [[30], [12]]; + 0.5 * bias
    out = kronecker_addmm(left, right, mat, bias, alpha=2.0, beta=0.5)
    torch.testing.assert_close(out, torch.tensor([[35.0], [22.0]], dtype=torch.float64))
    plain = kronecker_addmm(left, right, mat)
    torch.testing.assert_close(plain, torch.tensor([[15.0], [6.0]], dtype=torch.float64))


def test_kronecker_addmm_is_the_kronecker_product_on_column_major_vec():
    torch.manual_seed(0)
    left, right = torch.randn(3, 3, dtype=torch.float64), torch.randn(2, 2, dtype=torch.float64)
    mat = torch.randn(3, 2, dtype=torch.float64)
    vec = mat.t().reshape(-1)  # column-major vec
    expected = (torch.kron(right.t().contiguous(), left) @ vec).reshape(2, 3).t()
    torch.testing.assert_close(kronecker_addmm(left, right, mat), expected)


def test_kronecker_linear_matrix_input_uses_kronecker_addmm():
    torch.manual_seed(1)
    layer = KroneckerLinear(3, 2).double()
    with torch.no_grad():
        for param in layer.parameters():
            param.normal_()
    x = torch.randn(4, 3, 2, dtype=torch.float64)
    expected = layer.left @ x @ layer.right + layer.bias.view(3, 2)
    torch.testing.assert_close(layer(x), expected)


def test_freeze_and_unfreeze_switch_requires_grad_in_place():
    linear = torch.nn.Linear(3, 2)
    assert freeze(linear) is linear
    assert [p.requires_grad for p in linear.parameters()] == [False, False]
    assert unfreeze(linear) is linear
    assert [p.requires_grad for p in linear.parameters()] == [True, True]


def test_parameter_transform_hand_computed_and_module_untouched():
    linear = torch.nn.Linear(2, 1).double()
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, 2.0]]))
        linear.bias.fill_(3.0)
    wrapped = ParameterTransform(linear, lambda param: Scale(alpha=2.0).double())
    x = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    out = wrapped(x)
    # weight 2*[1, 2], bias 2*3: 2 + 4 + 6 = 12
    torch.testing.assert_close(out, torch.tensor([[12.0]], dtype=torch.float64))
    assert linear.weight.tolist() == [[1.0, 2.0]]  # the module keeps its own parameters
    out.sum().backward()
    alphas = dict(wrapped.parameter_transforms.named_parameters())
    # d out / d alpha_weight = weight . x = 3; d out / d alpha_bias = bias = 3
    three = torch.tensor([3.0], dtype=torch.float64)
    torch.testing.assert_close(alphas["weight.alpha"].grad, three)
    torch.testing.assert_close(alphas["bias.alpha"].grad, three)
    assert list(wrapped.meta_parameters()) == [alphas["weight.alpha"], alphas["bias.alpha"]]


def test_parameter_transform_of_nested_module_keys_without_dots():
    net = torch.nn.Sequential(torch.nn.Linear(2, 2))
    wrapped = ParameterTransform(net, lambda param: Scale())
    assert sorted(wrapped.parameter_transforms) == ["0_bias", "0_weight"]
    torch.testing.assert_close(wrapped(torch.ones(1, 2)), net(torch.ones(1, 2)))


def test_parameter_transform_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"expects module to be a torch\.nn\.Module, got int"):
        ParameterTransform(3, lambda param: Scale())
    with pytest.raises(TypeError, match="expects transform to be callable, got int"):
        ParameterTransform(torch.nn.Linear(1, 1), 3)
    with pytest.raises(TypeError, match=r"transform\('weight'\) returned float"):
        ParameterTransform(torch.nn.Linear(1, 1), lambda param: 1.0)


def _metamodule_toy():
    original = torch.nn.Sequential(
        torch.nn.Linear(3, 3), torch.nn.ReLU(), torch.nn.Linear(3, 3), torch.nn.ReLU()
    )
    wrapped = MetaModule(
        module=original,
        substitutions={
            torch.nn.Linear: lambda linear: torch.nn.Sequential(
                linear, torch.nn.LayerNorm(linear.in_features)
            ),
            torch.nn.ReLU: lambda relu: torch.nn.GELU(),
        },
        freeze_module=True,
    )
    return original, wrapped


def test_metamodule_substitutes_and_freezes_like_learn2learns_toy_example():
    original, wrapped = _metamodule_toy()
    trainable = {name: p.requires_grad for name, p in wrapped.named_parameters()}
    assert trainable == {
        "wrapped_module.0.0.weight": False,
        "wrapped_module.0.0.bias": False,
        "wrapped_module.0.1.weight": True,
        "wrapped_module.0.1.bias": True,
        "wrapped_module.2.0.weight": False,
        "wrapped_module.2.0.bias": False,
        "wrapped_module.2.1.weight": True,
        "wrapped_module.2.1.bias": True,
    }
    assert isinstance(wrapped.wrapped_module[1], torch.nn.GELU)
    # learn2learn's walk rewires the given container in place
    assert wrapped.wrapped_module is original


def test_metamodule_forward_equals_the_hand_built_model():
    torch.manual_seed(2)
    _, wrapped = _metamodule_toy()
    wrapped = wrapped.double()
    first, second = wrapped.wrapped_module[0], wrapped.wrapped_module[2]
    x = torch.randn(5, 3, dtype=torch.float64)
    gelu = torch.nn.functional.gelu
    expected = gelu(second[1](second[0](gelu(first[1](first[0](x))))))
    torch.testing.assert_close(wrapped(x), expected)


def test_metamodule_meta_parameters_and_module_unwrap_parameter_transforms():
    linear = torch.nn.Linear(2, 2)
    model = torch.nn.Sequential(linear, torch.nn.ReLU())
    wrapped = MetaModule(
        model,
        {torch.nn.Linear: lambda layer: ParameterTransform(layer, lambda param: Scale())},
    )
    metas = list(wrapped.meta_parameters())
    assert [p.shape for p in metas] == [(1,), (1,)]
    assert not any(p.requires_grad for p in linear.parameters())
    assert all(p.requires_grad for p in metas)
    unwrapped = wrapped.module()
    assert unwrapped[0] is linear


def test_metamodule_rejects_bad_arguments():
    with pytest.raises(TypeError, match=r"expects module to be a torch\.nn\.Module, got str"):
        MetaModule("net", {})
    with pytest.raises(TypeError, match="substitution for Linear returned int"):
        MetaModule(torch.nn.Linear(1, 1), {torch.nn.Linear: lambda layer: 0})
