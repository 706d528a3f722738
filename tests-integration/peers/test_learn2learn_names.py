"""Every public name of learn2learn 0.2.0 resolves at the same path in our compat package.

The walk covers learn2learn's public modules outside ``gym`` and ``text``. A public name is an
attribute without a leading underscore that is not a module and that learn2learn itself
defines (its ``__module__`` is under ``learn2learn``): 114 names. ``KNOWN_MISSING`` lists what
is still to come; the test fails on a missing name that is not listed *and* on a listed name
that now exists, so the list stays honest.
"""

from __future__ import annotations

import importlib
import types

import pytest

MODULES = [
    "",
    "algorithms",
    "nn",
    "optim",
    "optim.transforms",
    "utils",
    "data",
    "data.transforms",
    "vision.models",
    "vision.datasets",
    "vision.benchmarks",
    "vision.transforms",
]

COMPAT = "meta_all.compat.learn2learn"

# Names still to come: none since issue 17 added the vision data sets, benchmarks and helpers.
KNOWN_MISSING: set[str] = set()


def _qualified(module: str, name: str) -> str:
    return f"{module}.{name}" if module else name


def _public_names(module: types.ModuleType) -> list[str]:
    """learn2learn's own public attributes of ``module`` (no modules, nothing re-exported)."""
    names = []
    for name in dir(module):
        value = getattr(module, name)
        owner = getattr(value, "__module__", None) or ""
        public = not name.startswith("_") and not isinstance(value, types.ModuleType)
        if public and owner.split(".")[0] == "learn2learn":
            names.append(name)
    return sorted(names)


def _resolves(module: str, name: str) -> bool:
    path = f"{COMPAT}.{module}" if module else COMPAT
    try:
        compat_module = importlib.import_module(path)
    except ImportError:
        return False
    return hasattr(compat_module, name)


@pytest.fixture(scope="module")
def learn2learn_names(learn2learn: types.ModuleType) -> list[str]:
    """Every public name of the walked modules, as ``"module.name"`` (``"name"`` at the top)."""
    names = []
    for module in MODULES:
        path = f"learn2learn.{module}" if module else "learn2learn"
        names += [_qualified(module, name) for name in _public_names(importlib.import_module(path))]
    return names


def test_the_walk_finds_learn2learns_114_public_names(learn2learn_names: list[str]) -> None:
    assert len(learn2learn_names) == 114
    assert "nn.MetaModule" in learn2learn_names
    assert "data.transforms.CythonNWays" in learn2learn_names


def test_every_public_name_resolves_at_learn2learns_path(learn2learn_names: list[str]) -> None:
    missing = []
    for qualified in learn2learn_names:
        module, _, name = qualified.rpartition(".")
        if not _resolves(module, name):
            missing.append(qualified)
    unlisted = sorted(set(missing) - KNOWN_MISSING)
    assert not unlisted, f"learn2learn names missing from {COMPAT}: {unlisted}"


def test_known_missing_lists_only_names_still_missing(learn2learn_names: list[str]) -> None:
    present = sorted(
        qualified for qualified in KNOWN_MISSING if _resolves(*qualified.rpartition(".")[::2])
    )
    assert not present, f"now provided, remove them from KNOWN_MISSING: {present}"
    not_learn2learns = sorted(KNOWN_MISSING - set(learn2learn_names))
    assert not not_learn2learns, f"not learn2learn names: {not_learn2learns}"
