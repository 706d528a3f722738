"""Lambda, Flatten and Scale: behaviour, functional use and input errors."""

from __future__ import annotations

import doctest

import meta_nn
import pytest
import torch
from meta_nn import Flatten, Lambda, Scale, _backbones, _kronecker, _layers
from torch.func import functional_call, grad, vmap


@pytest.mark.parametrize("module", [_layers, _kronecker, _backbones])
def test_docstring_examples_run(module):
    torch.manual_seed(0)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_public_names_sorted_and_importable():
    # isort-style order (what ruff's RUF022 enforces): CONSTANTS, then Classes, then the rest
    def group(name: str) -> tuple[int, str]:
        kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return kind, name

    assert meta_nn.__all__ == sorted(meta_nn.__all__, key=group)
    assert set(meta_nn.__all__) == {
        "CNN4",
        "CNN4Backbone",
        "ConvBase",
        "ConvBlock",
        "ConvNet4",
        "DefaultList",
        "DependentModule",
        "DropBlock",
        "Flatten",
        "KroneckerLSTM",
        "KroneckerLinear",
        "KroneckerRNN",
        "Lambda",
        "MLP",
        "MetaModule",
        "MiniImagenetCNN",
        "MultipleList",
        "OmniglotCNN",
        "OmniglotFC",
        "ParameterTransform",
        "ProtoModule",
        "PrototypicalClassifier",
        "ResNet12",
        "ResNet12Backbone",
        "SVClassifier",
        "Scale",
        "SubDict",
        "WRN28",
        "WRN28Backbone",
        "__version__",
        "fc_init_",
        "freeze",
        "kronecker_addmm",
        "maml_init_",
        "unfreeze",
    }
    for name in meta_nn.__all__:
        assert hasattr(meta_nn, name)


def test_lambda_forwards_args_and_kwargs(device):
    add = Lambda(lambda a, b, *, scale: (a + b) * scale)
    a = torch.ones(2, device=device)
    out = add(a, a, scale=3.0)
    torch.testing.assert_close(out, torch.full((2,), 6.0, device=device))
    assert list(add.parameters()) == []


def test_lambda_rejects_non_callable():
    with pytest.raises(TypeError, match=r"Lambda expects a callable lmb, got int"):
        Lambda(3)


def test_flatten_non_contiguous_and_vmap(device):
    x = torch.randn(4, 3, 5, device=device).transpose(1, 2)
    assert not x.is_contiguous()
    torch.testing.assert_close(Flatten()(x), x.reshape(4, 15))
    batched = torch.randn(3, 4, 2, 2, device=device)
    out = vmap(Flatten())(batched)
    torch.testing.assert_close(out, batched.reshape(3, 4, 4))


def test_flatten_errors():
    with pytest.raises(TypeError, match=r"Flatten expects input to be a torch.Tensor, got list"):
        Flatten()([1, 2])
    with pytest.raises(ValueError, match=r"batch dimension.*got a 0-d tensor"):
        Flatten()(torch.tensor(1.0))


def test_scale_int_shape_broadcasts_and_learns(device):
    scale = Scale(1, alpha=2.0).to(device)
    x = torch.arange(4.0, device=device).reshape(2, 2)
    torch.testing.assert_close(scale(x), 2.0 * x)
    params = {"alpha": torch.tensor([3.0], device=device)}
    gradient = grad(lambda p: functional_call(scale, p, (x,)).sum())(params)
    torch.testing.assert_close(gradient["alpha"], x.sum().reshape(1))


def test_scale_default_alpha_is_one():
    scale = Scale((2, 3))
    assert scale.alpha.shape == (2, 3)
    assert torch.equal(scale.alpha.detach(), torch.ones(2, 3))


def test_scale_errors():
    with pytest.raises(TypeError, match=r"shape to be an int or a sequence of ints, got 'abc'"):
        Scale("abc")
    with pytest.raises(TypeError, match=r"shape to be an int or a sequence of ints, got 2.5"):
        Scale(2.5)
    with pytest.raises(ValueError, match=r"non-negative sizes in shape, got \(2, -1\)"):
        Scale((2, -1))
    with pytest.raises(TypeError, match=r"alpha to be a real number, got 'x'"):
        Scale(2, alpha="x")
    with pytest.raises(TypeError, match=r"Scale expects input to be a torch.Tensor, got float"):
        Scale(2)(1.0)
