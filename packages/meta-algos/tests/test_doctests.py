"""The docstring examples of the MAML family run and print what they document."""

from __future__ import annotations

import doctest
import importlib

import meta_algos
import pytest

MODULES = ["meta_algos._maml", "meta_algos._mamlpp", "meta_algos._batchnorm"]
NAMES = ["ANIL", "MAML", "MAMLpp", "MetaSGD", "Learner", "head_names"]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"


@pytest.mark.parametrize("name", NAMES)
def test_public_names_are_documented_with_examples(name: str) -> None:
    obj = getattr(meta_algos, name)
    assert name in meta_algos.__all__
    assert obj.__doc__
    assert "Example" in obj.__doc__
