"""Docstring examples run, and every public name documents an Example."""

from __future__ import annotations

import doctest
import importlib
import importlib.util

import meta_train
import pytest

MODULES = ["meta_train._history", "meta_train._metrics", "meta_train._trainer"]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name):
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"no examples in {module_name}"
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"


def test_plotting_docstring_examples():
    if importlib.util.find_spec("matplotlib") is None:
        pytest.skip("plot examples need the plot extra (matplotlib)")
    module = importlib.import_module("meta_train._plotting")
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize("name", [n for n in meta_train.__all__ if n != "__version__"])
def test_public_names_have_examples(name):
    assert "Example" in (getattr(meta_train, name).__doc__ or "")


def test_all_is_sorted():
    assert meta_train.__all__ == sorted(meta_train.__all__)
