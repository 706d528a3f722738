"""The CLI builds its models from meta_nn: a checkpoint loads into the documented models."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import meta_train
import pytest
import torch
from meta_nn import MLP, ConvNet4, OmniglotCNN
from meta_train.cli import main
from torch import Tensor, nn

SMALL1 = "images_background_small1.zip"


def _model_state(checkpoint: Path) -> dict[str, Tensor]:
    """The meta-trained network's weights: the ``module.*`` entries of the meta-learner."""
    learner = torch.load(checkpoint, weights_only=True)["module"]
    prefix = "module."
    return {key[len(prefix) :]: value for key, value in learner.items() if key.startswith(prefix)}


def _load_strictly(model: nn.Module, state: dict[str, Tensor]) -> None:
    model.load_state_dict(state)  # strict: every key and shape must match
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    for name, value in state.items():
        assert torch.equal(loaded[name], value), name


@pytest.mark.parametrize("algo", ["maml", "metasgd", "anil"])
def test_sinusoid_checkpoint_loads_into_meta_nn_mlp(capsys, tmp_path, algo):
    out = tmp_path / "run"
    argv = ["sinusoid", "--algo", algo, "--iterations", "2", "--meta-batch", "2"]
    assert main([*argv, "--eval-tasks", "2", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    state = _model_state(out / "checkpoint.pt")
    model = MLP([1, 40, 40, 1])
    fresh = {name: value.clone() for name, value in model.state_dict().items()}
    _load_strictly(model, state)
    # the loaded weights are the meta-trained ones, not an initialisation that happens to fit
    assert any(not torch.equal(fresh[name], state[name]) for name in state)
    x = torch.linspace(-5.0, 5.0, 7).unsqueeze(-1)
    assert model(x).shape == (7, 1)


def test_sinusoid_hidden_widths_build_that_mlp_and_resume_keeps_them(
    capsys, tmp_path, one_line_error
):
    out = tmp_path / "run"
    argv = ["sinusoid", "--hidden", "16", "8", "4", "--iterations", "2", "--meta-batch", "2"]
    argv += ["--eval-tasks", "2", "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    _load_strictly(MLP([1, 16, 8, 4, 1]), _model_state(out / "checkpoint.pt"))
    assert "hidden = [16, 8, 4]" in (out / "config.toml").read_text()
    capsys.readouterr()
    assert "hidden" in one_line_error([*argv[:1], "--hidden", "32", *argv[5:], "--resume"])


@pytest.mark.data
def test_omniglot_checkpoint_loads_into_meta_nn_convnet4(capsys, tmp_path, omniglot_archives):
    root = omniglot_archives(tmp_path, SMALL1)  # no all_runs.zip, so no Lake evaluation
    out = tmp_path / "run"
    argv = ["omniglot", "--root", str(root), "--subset", "background_small1", "--ways", "3"]
    argv += ["--shots", "1", "--query-shots", "1", "--iterations", "1", "--meta-batch", "1"]
    assert main([*argv, "--eval-tasks", "1", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    state = _model_state(out / "checkpoint.pt")
    for model in (ConvNet4(3), OmniglotCNN(3)):
        _load_strictly(model, state)
        assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 3)


def test_meta_train_defines_no_model_classes():
    modules = [meta_train] + [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(meta_train.__path__, prefix="meta_train.")
        if info.name != "meta_train.__main__"
    ]
    assert "meta_train.cli._sinusoid" in {module.__name__ for module in modules}
    models = [
        f"{module.__name__}.{name}"
        for module in modules
        for name, value in vars(module).items()
        if inspect.isclass(value)
        and issubclass(value, nn.Module)
        and value.__module__ == module.__name__
        # a LightningModule drives a meta_nn model through Lightning: it is no network
        and not any(base.__name__ == "LightningModule" for base in value.__mro__)
    ]
    assert models == []
