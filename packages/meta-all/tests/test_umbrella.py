"""The umbrella exports exactly what the packages promise, as the very same objects."""

from __future__ import annotations

import importlib
import types
from collections.abc import Iterable

import meta_all
import pytest
import torch
import torch.nn.functional as F
from torch import nn

SUBMODULES = {
    "functional": "meta_functional",
    "nn": "meta_nn",
    "optim": "meta_optim",
    "algos": "meta_algos",
    "tasks": "meta_tasks",
    "train": "meta_train",
}

# The main names promised at the top level, and the package each one comes from.
TOP_LEVEL = {
    "MAML": "meta_algos",
    "MetaSGD": "meta_algos",
    "ANIL": "meta_algos",
    "MAMLpp": "meta_algos",
    "Learner": "meta_algos",
    "head_names": "meta_algos",
    "MetaTrainer": "meta_train",
    "History": "meta_train",
    "Task": "meta_tasks",
    "TaskBatch": "meta_tasks",
    "TaskSampler": "meta_tasks",
    "SinusoidTaskSampler": "meta_tasks",
    "FewShotSampler": "meta_tasks",
    "Omniglot": "meta_tasks",
    "functional_forward": "meta_functional",
    "inner_step": "meta_functional",
    "adapt": "meta_functional",
    "named_params": "meta_functional",
    "named_buffers": "meta_functional",
    "clone_module": "meta_functional",
    "detach_module": "meta_functional",
    "update_module": "meta_functional",
    "magic_box": "meta_functional",
}


@pytest.mark.parametrize(("submodule", "package_name"), sorted(SUBMODULES.items()))
def test_submodule_exports_exactly_the_package_all(submodule: str, package_name: str) -> None:
    umbrella = importlib.import_module(f"meta_all.{submodule}")
    package = importlib.import_module(package_name)
    assert getattr(meta_all, submodule) is umbrella
    # Same promise, same order: the submodule's __all__ is the package's own list.
    assert umbrella.__all__ == package.__all__
    for name in package.__all__:
        assert getattr(umbrella, name) is getattr(package, name), name
    # Nothing public beyond the promise leaks into the submodule's namespace.
    public = {
        name
        for name, value in vars(umbrella).items()
        if not name.startswith("_") and name != "annotations"
    }
    assert public == {name for name in package.__all__ if not name.startswith("_")}


def test_submodule_all_has_no_duplicates() -> None:
    for submodule in SUBMODULES:
        names = importlib.import_module(f"meta_all.{submodule}").__all__
        assert len(set(names)) == len(names), submodule


def _clashes(packages: Iterable[types.ModuleType]) -> dict[str, list[str]]:
    """Names exported (in ``__all__``) by two or more packages bound to different objects."""
    exporters: dict[str, dict[int, list[str]]] = {}
    for package in packages:
        for name in package.__all__:
            if name == "__version__":  # every distribution has its own, by design
                continue
            by_object = exporters.setdefault(name, {})
            by_object.setdefault(id(getattr(package, name)), []).append(package.__name__)
    return {
        name: sorted(owner for owners in by_object.values() for owner in owners)
        for name, by_object in exporters.items()
        if len(by_object) > 1
    }


def test_no_name_clash_across_packages() -> None:
    # A name the top level (or a reader moving between submodules) could take from either of two
    # packages must be one object; two different objects under one name is a clash.
    packages = [importlib.import_module(name) for name in SUBMODULES.values()]
    assert _clashes(packages) == {}


def test_clash_check_catches_a_clash() -> None:
    first, second = types.ModuleType("first"), types.ModuleType("second")
    shared = object()
    first.__dict__.update(__all__=["Same", "Shared", "__version__"], Same=object(), Shared=shared)
    second.__dict__.update(__all__=["Same", "Shared", "__version__"], Same=object(), Shared=shared)
    first.__dict__["__version__"], second.__dict__["__version__"] = "1", "2"
    assert _clashes([first, second]) == {"Same": ["first", "second"]}


@pytest.mark.parametrize(("name", "package_name"), sorted(TOP_LEVEL.items()))
def test_top_level_name_is_the_package_object(name: str, package_name: str) -> None:
    package = importlib.import_module(package_name)
    assert name in package.__all__, f"{package_name} does not export {name}"
    assert name in meta_all.__all__
    assert getattr(meta_all, name) is getattr(package, name)


def test_top_level_all_is_the_main_names_and_submodules() -> None:
    expected = {*TOP_LEVEL, *SUBMODULES, "__version__"}
    assert set(meta_all.__all__) == expected
    for submodule in SUBMODULES:
        assert isinstance(getattr(meta_all, submodule), types.ModuleType)


def test_version_is_the_distribution_version() -> None:
    from meta_all.__about__ import __version__

    assert meta_all.__version__ == __version__
    assert meta_all.functional.__version__ == importlib.import_module("meta_functional").__version__


def test_docstring_example_runs() -> None:
    import doctest

    failures, tried = doctest.testmod(meta_all, raise_on_error=False, report=False)[:2]
    assert tried >= 1
    assert failures == 0


def test_sinusoid_meta_training_through_the_umbrella(device: torch.device) -> None:
    # The pieces fit together when reached only through meta_all.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 32), nn.ReLU(), nn.Linear(32, 1)).to(device)
    maml = meta_all.MAML(model, inner_lr=0.01)
    sampler = meta_all.SinusoidTaskSampler(seed=0, device=device)
    trainer = meta_all.MetaTrainer(
        maml, torch.optim.Adam(maml.parameters(), lr=1e-3), F.mse_loss, sampler, progress=False
    )
    eval_tasks = meta_all.SinusoidTaskSampler(seed=1, device=device).sample(8)
    before = trainer.evaluate(eval_tasks)
    history = trainer.fit(60, 5)
    assert isinstance(history, meta_all.History)
    assert len(history.meta_loss) == 60
    assert trainer.evaluate(eval_tasks) < before
