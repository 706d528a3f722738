from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "meta_tasks._task",
    "meta_tasks._sinusoid",
    "meta_tasks._fewshot",
    "meta_tasks._metadataset",
    "meta_tasks._transforms",
    "meta_tasks._taskdataset",
    "meta_tasks._quickdraw",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
