"""Every docstring example of the package runs and prints what it documents."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import meta_functional
import pytest

EXAMPLE_MODULES = {"_functional", "_modules"}
MODULES = sorted(
    info.name for info in pkgutil.iter_modules(meta_functional.__path__, prefix="meta_functional.")
)


@pytest.mark.parametrize("module_name", MODULES)
def test_docstring_examples(module_name: str) -> None:
    module = importlib.import_module(module_name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {module_name}"
    if module_name.rsplit(".", 1)[1] in EXAMPLE_MODULES:
        assert result.attempted >= 10, f"only {result.attempted} examples ran in {module_name}"


def test_every_public_name_has_a_docstring_with_an_example() -> None:
    for name in meta_functional.__all__:
        if name == "__version__":
            continue
        obj = getattr(meta_functional, name)
        if (callable(obj) and not name[0].isupper()) or isinstance(obj, type):
            assert obj.__doc__, name
            assert "Example" in obj.__doc__, name
