"""Every public name of learn2learn 0.2.0 resolves at the same path in our compat package.

The walk covers learn2learn's public modules outside ``gym`` and ``text``. A public name is an
attribute without a leading underscore that is not a module and that learn2learn itself
defines (its ``__module__`` is under ``learn2learn``): 114 names. ``KNOWN_MISSING`` lists what
is still to come; the test fails on a missing name that is not listed *and* on a listed name
that now exists, so the list stays honest.

A second walk takes every submodule file of the installed learn2learn (``pkgutil``; the
``learn2learn_modules`` fixture), so ``from learn2learn.algorithms.maml import maml_update``
style imports work too: the same module path must exist under the compat package with each of
that module's public names (the same definition, so a module's re-exports of learn2learn's
own names count), except the few in ``NOT_PROVIDED``, each with the reason it cannot be.
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


# Names of learn2learn's submodules that have no meta-* object to re-export, and why. Each is a
# private helper of one learn2learn implementation that meta-* implements differently; adding
# one here would mean a second copy of a rule meta-* already has. The test fails on an entry
# that now resolves or that learn2learn does not define.
_GOOGLE_DRIVE = (
    "learn2learn's Google Drive download (cookie confirm-token scraping); meta-tasks downloads "
    "from plain URLs only, resumable and SHA-256 checked (data.utils.download_file)"
)
NOT_PROVIDED: dict[str, str] = {
    **{
        f"{module}.{name}": _GOOGLE_DRIVE
        for module, names in {
            "data.utils": ("download_file_from_google_drive", "get_confirm_token"),
            "vision.datasets.cifarfs": ("download_file_from_google_drive",),
            "vision.datasets.cu_birds200": ("download_file_from_google_drive",),
            "vision.datasets.fc100": ("download_file_from_google_drive",),
            "vision.datasets.mini_imagenet": ("download_file_from_google_drive",),
            "vision.datasets.tiered_imagenet": ("download_file_from_google_drive",),
        }.items()
        for name in names
    },
    "data.utils.save_response_content": _GOOGLE_DRIVE,
    "vision.datasets.mini_imagenet.download_pkl": (
        "fetches mini-ImageNet's pickles from Google Drive (see above); MiniImagenet downloads "
        "with meta-tasks' downloader"
    ),
    "vision.datasets.mini_imagenet.index_classes": (
        "MiniImagenet's own label index of learn2learn's pickles; meta-tasks indexes labels in "
        "MetaDataset"
    ),
    "nn.metaoptnet.kronecker": (
        "a step of learn2learn's own QP set-up for the SVM head; meta-nn's SVClassifier builds "
        "its (dual) problem differently and has no such function"
    ),
    "nn.metaoptnet.onehot": "as nn.metaoptnet.kronecker (meta-nn uses torch's one_hot)",
    "nn.metaoptnet.svm_logits": "as nn.metaoptnet.kronecker (SVClassifier.forward is the logits)",
    "optim.transforms.kronecker_transform.get_kronecker_dims": (
        "the per-filter factor sizes are computed inside meta-optim's "
        "KroneckerTransform(per_filter=True); its public kronecker_dims is the whole-bank rule"
    ),
    "vision.models.cnn4.LinearBlock": "meta-nn keeps the linear block of OmniglotFC private",
    "vision.models.cnn4.truncated_normal_": (
        "learn2learn's hand-written initialiser; meta-nn's maml_init_/fc_init_ are the model's"
    ),
    "vision.models.resnet12.BasicBlock": "meta-nn keeps ResNet12's block private",
    "vision.models.resnet12.conv3x3": "meta-nn keeps ResNet12's convolution helper private",
    "vision.models.wrn28.WideResNet": (
        "learn2learn's general wide ResNet; meta-nn has only the WRN-28-10 (WRN28Backbone)"
    ),
    "vision.models.wrn28.wide_basic": "meta-nn keeps WRN28's block private",
    "vision.models.wrn28.conv3x3": "meta-nn keeps WRN28's convolution helper private",
    "vision.models.wrn28.conv_init": "meta-nn initialises WRN28 in its constructor",
}


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


def _submodule_names(modules: dict[str, types.ModuleType]) -> dict[str, list[str]]:
    return {path: _public_names(module) for path, module in sorted(modules.items())}


def test_the_submodule_walk_finds_every_learn2learn_module_file(
    learn2learn_modules: dict[str, types.ModuleType],
) -> None:
    names = _submodule_names(learn2learn_modules)
    assert len(names) == 61
    assert sum(len(found) for found in names.values()) == 259
    # the modules the examples import, and the compiled (.pyx) ones
    assert "BaseLearner" in names["algorithms.base_learner"]
    assert "maml_update" in names["algorithms.maml"]
    assert "fc_init_" in names["vision.models.cnn4"]
    assert "TrackTestAccuracyCallback" in names["utils.lightning"]
    assert "CythonTaskDataset" in names["data.task_dataset"]
    assert not any(path.split(".")[0] in ("gym", "text") for path in names)


def test_every_learn2learn_submodule_exists_with_its_public_names(
    learn2learn_modules: dict[str, types.ModuleType],
) -> None:
    absent_modules, absent_names = [], []
    for path, names in _submodule_names(learn2learn_modules).items():
        try:
            compat_module = importlib.import_module(f"{COMPAT}.{path}")
        except ImportError:
            absent_modules.append(path)
            continue
        absent_names += [
            f"{path}.{name}"
            for name in names
            if not hasattr(compat_module, name) and f"{path}.{name}" not in NOT_PROVIDED
        ]
    assert not absent_modules, f"learn2learn modules missing from {COMPAT}: {absent_modules}"
    assert not absent_names, f"learn2learn names missing from {COMPAT}: {absent_names}"


def test_not_provided_lists_only_learn2learn_names_still_absent(
    learn2learn_modules: dict[str, types.ModuleType],
) -> None:
    names = _submodule_names(learn2learn_modules)
    listed = {qualified: qualified.rpartition(".") for qualified in NOT_PROVIDED}
    unknown = sorted(q for q, (path, _, name) in listed.items() if name not in names.get(path, []))
    assert not unknown, f"not public names of learn2learn's modules: {unknown}"
    present = sorted(q for q, (path, _, name) in listed.items() if _resolves(path, name))
    assert not present, f"now provided, remove them from NOT_PROVIDED: {present}"
    assert all(reason.strip() for reason in NOT_PROVIDED.values())


def test_submodule_names_are_our_objects_at_their_package_path(
    learn2learn_modules: dict[str, types.ModuleType],
) -> None:
    """A submodule re-exports; where its package has the name too, it is the same object."""
    differing = []
    for path, names in _submodule_names(learn2learn_modules).items():
        package = path.rpartition(".")[0]
        if not package:
            continue
        ours = importlib.import_module(f"{COMPAT}.{path}")
        parent = importlib.import_module(f"{COMPAT}.{package}")
        differing += [
            f"{path}.{name}"
            for name in names
            if hasattr(ours, name)
            and hasattr(parent, name)
            and getattr(ours, name) is not getattr(parent, name)
        ]
    assert not differing, f"second objects under a submodule path: {differing}"
