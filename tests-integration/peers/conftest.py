"""Fixtures of the differential suite: MetaNN 0.3.2 itself beside ``meta_all.compat.metann``.

MetaNN 0.3.2 imports ``torch._six`` (removed in torch 2.0) for one name, ``string_classes``;
the stand-in below provides it here, in the tests, never in the library. ``nox -s peers``
installs MetaNN (``pip install --no-deps metann==0.3.2``) and sets ``META_PEERS_REQUIRED=1``,
so a missing MetaNN fails there instead of skipping; elsewhere (the plain integration run)
these tests skip.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import os
import sys
import types

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
