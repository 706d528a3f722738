"""The public surface of meta_optim and the examples in its docstrings."""

from __future__ import annotations

import doctest
import importlib

import meta_optim
import pytest

MODULES = ["_functional", "_learnable", "_transforms", "_typing"]


def test_all_is_sorted_and_importable() -> None:
    assert meta_optim.__all__ == sorted(meta_optim.__all__)
    for name in meta_optim.__all__:
        assert hasattr(meta_optim, name), name
    expected = {
        "AdamState",
        "DifferentiableSGD",
        "GradientTransformation",
        "KroneckerTransform",
        "LearnableOptimizer",
        "MetaCurvatureTransform",
        "ModuleTransform",
        "ParameterUpdate",
        "RMSpropState",
        "SgdState",
        "adam",
        "apply_updates",
        "rmsprop",
        "sgd",
    }
    assert expected <= set(meta_optim.__all__)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples_run(module_name: str) -> None:
    module = importlib.import_module(f"meta_optim.{module_name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
