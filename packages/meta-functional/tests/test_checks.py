"""Tests of meta_functional.checks: the argument checks every meta-* package shares."""

from __future__ import annotations

import math
import re

import pytest
import torch
from meta_functional.checks import (
    check_differentiable_loss,
    check_finite_rate,
    check_flag,
    check_module,
    check_non_negative_int,
    check_scalar_loss,
    describe_mismatch,
    describe_names,
)
from torch import nn


@pytest.mark.parametrize("value", ["no", 1, 0, None, torch.tensor(True)])
def test_check_flag_refuses_truthy_stand_ins(value: object) -> None:
    shown = re.escape(f"{value!r} ({type(value).__name__})")
    with pytest.raises(TypeError, match=rf"^first_order must be True or False, got {shown}$"):
        check_flag(value, "first_order")


def test_check_flag_returns_bools() -> None:
    assert check_flag(True, "first_order") is True
    assert check_flag(False, "first_order") is False


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_check_finite_rate_refuses_non_finite_values(value: float) -> None:
    with pytest.raises(
        ValueError, match=rf"^inner_lr must be a finite real number, got {value!r}$"
    ):
        check_finite_rate(value)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        (-0.5, ValueError, r"^eps must be >= 0, got -0.5$"),
        (-1, ValueError, r"^eps must be >= 0, got -1$"),
        (True, TypeError, r"^eps must be a finite real number, got True \(bool\)$"),
        ("0.1", TypeError, r"^eps must be a finite real number, got '0.1' \(str\)$"),
        (torch.tensor(0.1), TypeError, r"^eps must be a finite real number, got .* \(Tensor\)$"),
    ],
)
def test_check_finite_rate_refuses_negatives_and_non_numbers(
    value: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        check_finite_rate(value, "eps")


def test_check_finite_rate_returns_floats() -> None:
    assert check_finite_rate(0) == 0.0
    result = check_finite_rate(2, "lr")
    assert result == 2.0
    assert isinstance(result, float)


@pytest.mark.parametrize(
    ("value", "minimum", "message"),
    [
        (-1, 0, r"^inner_steps must be a non-negative int, got -1$"),
        (1.0, 0, r"^inner_steps must be a non-negative int, got 1.0$"),
        (True, 0, r"^inner_steps must be a non-negative int, got True$"),
        ("2", 0, r"^inner_steps must be a non-negative int, got '2'$"),
        (0, 1, r"^inner_steps must be an int >= 1, got 0$"),
        (2, 3, r"^inner_steps must be an int >= 3, got 2$"),
    ],
)
def test_check_non_negative_int_messages(value: object, minimum: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_non_negative_int(value, "inner_steps", minimum=minimum)


def test_check_non_negative_int_returns_the_value() -> None:
    assert check_non_negative_int(0, "steps") == 0
    assert check_non_negative_int(3, "steps", minimum=3) == 3


def test_check_scalar_loss_and_check_module() -> None:
    loss = torch.ones(1, 1)
    assert check_scalar_loss(loss, "the query loss") is loss
    with pytest.raises(TypeError, match=r"^the query loss must be a torch.Tensor, got float$"):
        check_scalar_loss(0.5, "the query loss")
    with pytest.raises(
        ValueError,
        match=r"^loss must be a scalar \(a 0-dim or single-element tensor\), got shape \(2,\)",
    ):
        check_scalar_loss(torch.ones(2))
    module = nn.Linear(1, 1)
    assert check_module(module, "head") is module
    with pytest.raises(TypeError, match=r"^head must be a torch.nn.Module, got str$"):
        check_module("linear", "head")


def test_check_differentiable_loss() -> None:
    weight = torch.ones(2, requires_grad=True)
    loss = (2 * weight).sum()
    assert check_differentiable_loss(loss, "MAML.adapt: loss") is loss
    with pytest.raises(
        ValueError, match=r"^MAML.adapt: loss does not require grad; expected a loss computed"
    ):
        check_differentiable_loss(torch.ones(()), "MAML.adapt: loss")
    with pytest.raises(ValueError, match=r"^loss must be a scalar"):
        check_differentiable_loss(2 * weight)
    with pytest.raises(TypeError, match=r"^loss must be a torch.Tensor, got float$"):
        check_differentiable_loss(1.0)


def test_describe_names_and_mismatch() -> None:
    assert describe_names(["b", "a"]) == "['a', 'b']"
    assert describe_names([f"n{i}" for i in range(10)], limit=2) == "['n0', 'n1', ... (8 more)]"
    assert describe_mismatch(["x"], ["y", "z"], extra_label="unexpected") == (
        "missing ['x']; unexpected ['y', 'z']"
    )
    assert describe_mismatch([], ["y"], extra_label="extra") == "extra ['y']"
