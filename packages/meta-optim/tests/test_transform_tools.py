"""TransformDictionary and ReshapedTransform (learn2learn's optim.transforms helpers)."""

from __future__ import annotations

import doctest
import importlib

import pytest
import torch
from meta_optim import ModuleTransform, ParameterUpdate, ReshapedTransform, TransformDictionary

F64 = torch.float64


@pytest.mark.parametrize("module_name", ["meta_optim._dictionary", "meta_optim._reshaped"])
def test_docstring_examples_run(module_name: str) -> None:
    result = doctest.testmod(importlib.import_module(module_name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_reshaped_transform_views_the_gradient_and_back() -> None:
    linear = torch.nn.Linear(4, 4, bias=False).double()
    with torch.no_grad():
        linear.weight.copy_(torch.diag(torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=F64)))
    transform = ReshapedTransform(linear, (1, 4))
    assert transform.transform is linear
    assert transform.in_shape == (1, 4)
    grad = torch.tensor([[1.0, 1.0], [1.0, 1.0]], dtype=F64)
    torch.testing.assert_close(transform(grad), torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=F64))


def test_reshaped_transform_rejects_an_output_of_another_size() -> None:
    transform = ReshapedTransform(torch.nn.Linear(4, 3), (1, 4))
    message = r"of shape \(1, 4\) to \(1, 3\); expected 4 elements to reshape to the gradient's"
    with pytest.raises(ValueError, match=message):
        transform(torch.ones(2, 2))


def test_transform_dictionary_dispatches_by_module_and_parameter() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    calls: list[tuple[int, float]] = []

    def by_module(param: torch.Tensor, factor: float = 1.0) -> torch.nn.Module:
        calls.append((param.numel(), factor))
        return torch.nn.Identity()

    dictionary = TransformDictionary({model[0]: by_module, model[1].bias: by_module})
    built = [dictionary(param, factor=2.0) for param in model.parameters()]
    assert [b is None for b in built] == [False, False, True, False]
    assert calls == [(4, 2.0), (2, 2.0), (1, 2.0)]
    assert dictionary(torch.nn.Parameter(torch.ones(1))) is None


def test_transform_dictionary_rejects_other_keys() -> None:
    with pytest.raises(ValueError, match=r"only accepts modules or parameters .* got Tensor"):
        TransformDictionary({torch.ones(1): ModuleTransform(torch.nn.Linear)})


def test_parameter_update_with_a_transform_dictionary_transforms_only_the_listed_module() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(1, 1), torch.nn.Linear(1, 1)).double()
    with torch.no_grad():
        for param in model.parameters():
            param.fill_(1.0)
    update = ParameterUpdate(
        model.parameters(), TransformDictionary({model[1]: ModuleTransform(torch.nn.Linear)})
    ).double()
    with torch.no_grad():
        for transform_param in update.parameters():
            transform_param.fill_(0.5)
    x = torch.tensor([[2.0]], dtype=F64)
    loss = model(x).sum()  # w2 (w1 x + b1) + b2 = 1 * 3 + 1
    updates = update(loss, list(model.parameters()))
    # an unlisted parameter gets None from the dictionary: its gradient comes back as it is
    torch.testing.assert_close(updates[0], torch.tensor([[2.0]], dtype=F64))  # w2 x
    torch.testing.assert_close(updates[1], torch.tensor([1.0], dtype=F64))  # w2
    # dloss/dw2 = 3, dloss/db2 = 1; the 1x1 Linear maps g to 0.5 g + 0.5
    torch.testing.assert_close(updates[2], torch.tensor([[2.0]], dtype=F64))
    torch.testing.assert_close(updates[3], torch.tensor([1.0], dtype=F64))
