"""The docstring examples of MetaNN's module machinery run and print what they document.

(The layers and backbones are doctested in ``test_layers.py``.)
"""

from __future__ import annotations

import doctest
import importlib

import meta_nn
import pytest

# Moved here from meta-functional, where each module had to run at least ten examples.
MODULES = ["meta_nn._containers", "meta_nn._dependent", "meta_nn._proto"]
METANN_NAMES = ["DefaultList", "DependentModule", "MultipleList", "ProtoModule", "SubDict"]


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
    assert result.attempted >= 10, f"only {result.attempted} examples ran in {module_name}"


@pytest.mark.parametrize("name", METANN_NAMES)
def test_metann_names_are_exported_with_a_docstring_example(name: str) -> None:
    assert name in meta_nn.__all__
    obj = getattr(meta_nn, name)
    assert obj.__doc__, name
    assert "Example" in obj.__doc__, name
