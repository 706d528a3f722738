"""Fixtures of the differential suite: MetaNN 0.3.2 and learn2learn 0.2.0 beside our compat.

MetaNN 0.3.2 imports ``torch._six`` (removed in torch 2.0) for one name, ``string_classes``;
the stand-in below provides it here, in the tests, never in the library. ``nox -s peers``
installs MetaNN (``pip install --no-deps metann==0.3.2``) and learn2learn 0.2.0 (built from its
sdist) and sets ``META_PEERS_REQUIRED=1``, so a missing peer fails there instead of skipping;
elsewhere (the plain integration run) these tests skip.

learn2learn imports ``torchvision`` at package import time, and PyPI's torchvision does not load
beside the CPU torch wheel (``../shared/pitfalls``); when it does not import, a stand-in package
provides the names learn2learn imports, each a class that raises when used (none of the tested
names calls torchvision).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import importlib.metadata
import os
import pkgutil
import sys
import types
import warnings
from pathlib import Path
from typing import Any

import pytest
import torch

METANN_VERSION = "0.3.2"
METANN_MODULES = [
    "metann",
    "metann.dependentmodule",
    "metann.proto",
    "metann.meta",
    "metann.utils",
    "metann.utils.containers",
    "metann.utils.numpy",
]


def _stand_in_for_torch_six() -> None:
    if "torch._six" not in sys.modules:
        six = types.ModuleType("torch._six")
        six.string_classes = (str, bytes)  # type: ignore[attr-defined]
        sys.modules["torch._six"] = six
    torch._six = sys.modules["torch._six"]  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def metann() -> types.ModuleType:
    """MetaNN 0.3.2 with all its modules imported."""
    try:
        version = importlib.metadata.version("metann")
    except importlib.metadata.PackageNotFoundError:
        if os.environ.get("META_PEERS_REQUIRED") == "1":
            raise
        pytest.skip("MetaNN is not installed; `nox -s peers` installs metann==0.3.2")
    assert version == METANN_VERSION, f"the suite compares with MetaNN {METANN_VERSION}"
    _stand_in_for_torch_six()
    for name in METANN_MODULES:
        importlib.import_module(name)
    return sys.modules["metann"]


@pytest.fixture(scope="session")
def compat() -> types.ModuleType:
    """``meta_all.compat.metann`` with all its modules imported."""
    for name in METANN_MODULES:
        importlib.import_module(name.replace("metann", "meta_all.compat.metann", 1))
    return sys.modules["meta_all.compat.metann"]


@pytest.fixture(params=["metann", "compat"])
def either(request: pytest.FixtureRequest) -> types.ModuleType:
    """Each library in turn, for checks that must hold for both."""
    return request.getfixturevalue(request.param)


LEARN2LEARN_VERSION = "0.2.0"
TORCHVISION_MODULES = [
    "torchvision",
    "torchvision.datasets",
    "torchvision.datasets.folder",
    "torchvision.datasets.omniglot",
    "torchvision.transforms",
]


def _unavailable(module: str, name: str) -> type:
    """A class standing in for ``module.name`` that raises as soon as it is used."""

    def fail(self: object, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError(f"{module}.{name} is a test stand-in: torchvision is not installed")

    return type(name, (), {"__init__": fail, "__module__": module})


def _stand_in_module(name: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)

    def attribute(attr: str) -> object:
        if attr.startswith("__"):
            raise AttributeError(attr)
        return _unavailable(name, attr)

    module.__getattr__ = attribute  # type: ignore[method-assign]
    return module


def _drop_torchvision() -> None:
    for name in [name for name in sys.modules if name.split(".")[0] == "torchvision"]:
        del sys.modules[name]


def _import_with_torchvision(name: str) -> types.ModuleType:
    """Import ``name`` with the real torchvision, or with a stand-in while it imports.

    The stand-in leaves ``sys.modules`` afterwards, and Lightning (which checks for torchvision
    once and caches the answer) is imported before it, so no other library takes it for the
    real one.
    """
    try:
        importlib.import_module("torchvision")
    except (ImportError, RuntimeError):  # not installed, or its compiled ops do not load
        _drop_torchvision()
    else:
        return importlib.import_module(name)
    for optional in ("lightning", "pytorch_lightning"):
        with contextlib.suppress(ImportError):
            importlib.import_module(optional)
    _register_torchvision_stand_in()
    try:
        return importlib.import_module(name)
    finally:
        _drop_torchvision()


def _register_torchvision_stand_in() -> None:
    for name in TORCHVISION_MODULES:
        sys.modules[name] = _stand_in_module(name)
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, sys.modules[name])
    sys.modules["torchvision"].__version__ = "0.0.0+stand-in"  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def learn2learn() -> types.ModuleType:
    """learn2learn 0.2.0 (with a torchvision stand-in where the real one does not load)."""
    try:
        version = importlib.metadata.version("learn2learn")
    except importlib.metadata.PackageNotFoundError:
        if os.environ.get("META_PEERS_REQUIRED") == "1":
            raise
        pytest.skip("learn2learn is not installed; `nox -s peers` builds learn2learn==0.2.0")
    assert version == LEARN2LEARN_VERSION, (
        f"the suite compares with learn2learn {LEARN2LEARN_VERSION}"
    )
    with warnings.catch_warnings():
        # its gym and Lightning imports warn about their own deprecations
        warnings.simplefilter("ignore")
        return _import_with_torchvision("learn2learn")


LEARN2LEARN_SKIPPED_PACKAGES = ("gym", "text")
"""learn2learn's subpackages the compat layer leaves out (the gym and text stacks)."""


@pytest.fixture(scope="session")
def learn2learn_modules(learn2learn: types.ModuleType) -> dict[str, types.ModuleType]:
    """Every public module of the installed learn2learn outside ``gym`` and ``text``, imported.

    Keys are the paths below ``learn2learn`` (``"algorithms.maml"``); a module is public when
    no part of its path starts with ``_``. Found with ``pkgutil.walk_packages`` over the
    installed package (so the compiled ``.pyx`` modules count) and imported like the package.
    """
    found: dict[str, types.ModuleType] = {}
    with warnings.catch_warnings():
        # walking imports each subpackage, gym's and Lightning's warn about their deprecations
        warnings.simplefilter("ignore")
        for info in pkgutil.walk_packages(learn2learn.__path__, "learn2learn."):
            path = info.name.removeprefix("learn2learn.")
            parts = path.split(".")
            if parts[0] in LEARN2LEARN_SKIPPED_PACKAGES or any(p.startswith("_") for p in parts):
                continue
            found[path] = _import_with_torchvision(info.name)
    return found


@pytest.fixture(scope="session")
def learn2learn_examples() -> Path:
    """The ``examples/`` folder of learn2learn 0.2.0's unpacked sdist.

    ``nox -s peers`` keeps the sdist it builds learn2learn from and names its folder in
    ``META_LEARN2LEARN_SDIST``; unset, the tests that use it skip (fail where
    ``META_PEERS_REQUIRED=1``).
    """
    source = os.environ.get("META_LEARN2LEARN_SDIST")
    if not source:
        message = (
            "META_LEARN2LEARN_SDIST is not set: it names learn2learn 0.2.0's unpacked sdist "
            "(the learn2learn-0.2.0/ folder holding examples/), which `nox -s peers` keeps"
        )
        if os.environ.get("META_PEERS_REQUIRED") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    folder = Path(source)
    metadata = folder / "PKG-INFO"
    examples = folder / "examples"
    if not metadata.is_file() or not examples.is_dir():
        pytest.fail(
            f"META_LEARN2LEARN_SDIST={source!r} is not an unpacked learn2learn sdist: expected "
            f"a folder holding PKG-INFO and examples/",
            pytrace=False,
        )
    versions = [
        line.removeprefix("Version:").strip()
        for line in metadata.read_text("utf-8").splitlines()
        if line.startswith("Version:")
    ]
    assert versions == [LEARN2LEARN_VERSION], (
        f"{metadata} says version {versions}; the suite runs learn2learn "
        f"{LEARN2LEARN_VERSION}'s examples"
    )
    return examples
