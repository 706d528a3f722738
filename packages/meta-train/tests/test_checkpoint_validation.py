"""load_checkpoint refuses bad files before touching state; unwritable paths; temp-file cleanup."""

from __future__ import annotations

import copy
import os
import pickle
import random

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MetaSGD
from meta_tasks import SinusoidTaskSampler
from meta_train import CheckpointError, MetaTrainer
from meta_train import _io as io_module
from torch import nn


def _trainer(device, *, hidden=16, layers=1, optimizer="adam", scheduler="step", groups=1):
    torch.manual_seed(0)
    blocks = [nn.Linear(1, hidden), nn.ReLU()]
    for _ in range(layers - 1):
        blocks += [nn.Linear(hidden, hidden), nn.ReLU()]
    maml = MetaSGD(nn.Sequential(*blocks, nn.Linear(hidden, 1)), inner_lr=0.01).to(device)
    params = list(maml.parameters())
    param_groups = (
        [{"params": params}] if groups == 1 else [{"params": p} for p in (params[:2], params[2:])]
    )
    if optimizer == "adam":
        meta_optimizer = torch.optim.Adam(param_groups, lr=1e-2)
    else:
        meta_optimizer = torch.optim.SGD(param_groups, lr=1e-2, momentum=0.9)
    schedulers = {
        "step": lambda: torch.optim.lr_scheduler.StepLR(meta_optimizer, step_size=3),
        "cosine": lambda: torch.optim.lr_scheduler.CosineAnnealingLR(meta_optimizer, T_max=10),
        None: lambda: None,
    }
    return MetaTrainer(
        maml,
        meta_optimizer,
        F.mse_loss,
        SinusoidTaskSampler(k_support=5, k_query=5, seed=0),
        scheduler=schedulers[scheduler](),
        progress=False,
    )


def _trained(device, **kwargs):
    trainer = _trainer(device, **kwargs)
    trainer.fit(2, 2)
    return trainer


def _snapshot(trainer):
    """Everything load_checkpoint could change, deep-copied."""
    return {
        "module": {k: v.clone() for k, v in trainer.maml.state_dict().items()},
        "optimizer": copy.deepcopy(trainer.meta_optimizer.state_dict()),
        "scheduler": copy.deepcopy(trainer.scheduler.state_dict()) if trainer.scheduler else None,
        "history": copy.deepcopy(trainer.history),
        "iteration": trainer.iteration,
        "torch_rng": torch.get_rng_state(),
        "python_rng": random.getstate(),
        "sampler_rng": trainer.task_sampler.generator.get_state(),
    }


def _assert_equal(before, after, where="state"):
    if isinstance(before, torch.Tensor):
        assert torch.equal(before, after), where
    elif isinstance(before, dict):
        assert before.keys() == after.keys(), where
        for key in before:
            _assert_equal(before[key], after[key], f"{where}[{key!r}]")
    elif isinstance(before, list | tuple):
        assert len(before) == len(after), where
        for index, (a, b) in enumerate(zip(before, after, strict=True)):
            _assert_equal(a, b, f"{where}[{index}]")
    else:
        assert before == after, where


def _refused(trainer, path, message):
    """Load ``path``, expect a CheckpointError matching ``message``, and no state changed."""
    before = _snapshot(trainer)
    with pytest.raises(CheckpointError, match=message) as caught:
        trainer.load_checkpoint(path)
    _assert_equal(before, _snapshot(trainer))
    return caught.value


def _payload(device, tmp_path, **kwargs):
    return torch.load(
        _trained(device, **kwargs).save_checkpoint(tmp_path / "source.pt"), weights_only=True
    )


# ------------------------------------------------------------------ unreadable files
def test_an_empty_file_is_named_and_described(device, tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    error = _refused(
        _trained(device), path, r"cannot load '.*empty\.pt' as a meta-train checkpoint"
    )
    assert "it is empty (0 bytes)" in str(error)


def test_a_truncated_checkpoint_is_named_and_described(device, tmp_path):
    data = _trained(device).save_checkpoint(tmp_path / "good.pt").read_bytes()
    path = tmp_path / "truncated.pt"
    path.write_bytes(data[: len(data) // 2])
    _refused(
        _trained(device),
        path,
        rf"'.*truncated\.pt' .* it is a zip archive of {len(data) // 2} bytes "
        r"\(the torch\.save format\), truncated or corrupt",
    )


def test_a_text_file_is_named_and_described(device, tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello world\nsecond line\n")
    _refused(_trained(device), path, r"it holds 24 bytes of text starting with 'hello world'")


def test_a_plain_pickle_is_described_without_suggesting_unsafe_loading(device, tmp_path):
    path = tmp_path / "plain.pt"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    error = _refused(_trained(device), path, r"it is a plain Python pickle of \d+ bytes")
    assert "weights_only=False" not in str(error)
    assert error.__cause__ is not None  # torch's own error stays reachable


def test_a_saved_module_object_is_named(device, tmp_path):
    path = tmp_path / "module.pt"
    torch.save(nn.Linear(2, 2), path)
    _refused(
        _trained(device),
        path,
        r"it holds a torch\.nn\.modules\.linear\.Linear object, which a checkpoint never does",
    )


def test_a_foreign_dict_says_what_it_holds(device, tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"weights": torch.zeros(1), "epoch": 3}, path)
    _refused(
        _trained(device),
        path,
        r"is not a meta-train checkpoint of format 1 \(found format None\); it holds a dict "
        r"with keys \['epoch', 'weights'\]",
    )
    torch.save(torch.zeros(2, 3), path)
    _refused(_trained(device), path, r"it holds a single tensor of shape \(2, 3\)")


def test_a_directory_is_not_a_checkpoint(device, tmp_path):
    _refused(_trained(device), tmp_path, "is a directory, expected a meta-train checkpoint file")


# --------------------------------------------------------------- malformed sections
@pytest.mark.parametrize("section", ["scheduler", "rng", "history"])
def test_a_missing_section_is_named(device, tmp_path, section):
    payload = _payload(device, tmp_path)
    del payload[section]
    torch.save(payload, tmp_path / "ck.pt")
    _refused(_trained(device), tmp_path / "ck.pt", rf"checkpoint '.*ck\.pt' lacks \['{section}'\]")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda p: p.update(iteration=-4), r"'iteration' must be an int >= 0, got -4"),
        (lambda p: p.update(module=[1, 2]), r"'module' must be a state dict, got a list"),
        (
            lambda p: p.update(meta_optimizer={"state": {}}),
            r"'meta_optimizer' must be an optimizer state dict",
        ),
        (
            lambda p: p["history"].update(eval_loss=[[1, 2.0, 3]]),
            r"the history cannot be read: .*\[iteration, value\]",
        ),
        (
            lambda p: p["history"].update(steps=[1]),
            r"the history cannot be read: .*unknown keys \['steps'\]",
        ),
        (
            lambda p: p["rng"].update(python=[3, [1, 2], None]),
            r"the 'python' RNG state cannot be restored",
        ),
        (
            lambda p: p["rng"].update(torch=torch.zeros(3, dtype=torch.uint8)),
            r"the 'torch' RNG state cannot be restored",
        ),
        (
            lambda p: p["rng"].update(sampler=torch.zeros(5, dtype=torch.uint8)),
            r"the 'sampler' RNG state cannot be restored",
        ),
        (
            lambda p: p["rng"].pop("cuda"),
            r"'rng' must be a dict with keys \['torch', 'cuda', 'python', 'sampler'\]",
        ),
        (
            lambda p: p["rng"].update(sampler=None),
            r"the checkpoint has no sampler RNG state, the task sampler has a",
        ),
    ],
)
def test_a_malformed_section_is_named(device, tmp_path, edit, message):
    payload = _payload(device, tmp_path)
    edit(payload)
    torch.save(payload, tmp_path / "ck.pt")
    _refused(_trained(device), tmp_path / "ck.pt", message)


# ------------------------------------------------------------ another architecture
def test_a_model_of_other_widths_names_the_shapes(device, tmp_path):
    path = _trained(device, hidden=32).save_checkpoint(tmp_path / "wide.pt")
    error = _refused(
        _trained(device),
        path,
        r"the module state does not fit this MetaSGD \(a model of another architecture\?\): "
        r"shape mismatch: 'module\.0\.weight' is \(32, 1\) in the checkpoint, \(16, 1\) in "
        "the model",
    )
    assert "'module.2.weight' is (1, 32) in the checkpoint, (1, 16) in the model" in str(error)


def test_a_model_of_other_depth_names_the_missing_and_unexpected_keys(device, tmp_path):
    path = _trained(device, layers=2, scheduler=None).save_checkpoint(tmp_path / "deep.pt")
    _refused(
        _trained(device, scheduler=None),
        path,
        r"does not fit this MetaSGD .*: unexpected \['module\.4\.bias', 'module\.4\.weight', "
        r"'rates\.4__bias', 'rates\.4__weight'\]; shape mismatch: 'module\.2\.weight' is "
        r"\(16, 16\) in the checkpoint, \(1, 16\) in the model",
    )
    _refused(
        _trained(device, layers=3, scheduler=None),
        path,
        r"missing \['module\.6\.bias', 'module\.6\.weight', 'rates\.6__bias', "
        r"'rates\.6__weight'\]",
    )


# ---------------------------------------------------------------- another optimizer
def test_adam_state_is_refused_by_sgd_with_the_option_names(device, tmp_path):
    path = _trained(device).save_checkpoint(tmp_path / "adam.pt")
    _refused(
        _trained(device, optimizer="sgd"),
        path,
        r"the optimizer state is not one of this SGD \(another optimizer type\?\): parameter "
        r"group 0 options missing \['dampening', 'momentum'.*\]; unexpected \['amsgrad', "
        r"'betas'.*\]",
    )


def test_sgd_state_is_refused_by_adam(device, tmp_path):
    path = _trained(device, optimizer="sgd").save_checkpoint(tmp_path / "sgd.pt")
    _refused(_trained(device), path, r"not one of this Adam .*missing \['amsgrad', 'betas'")


def test_another_param_group_layout_is_refused(device, tmp_path):
    path = _trained(device, groups=2).save_checkpoint(tmp_path / "two_groups.pt")
    _refused(
        _trained(device),
        path,
        r"the optimizer state does not fit this Adam's parameter groups \(1 groups of sizes "
        r"\[\d+\]\): ValueError: loaded state dict has a different number of parameter groups",
    )


def test_per_parameter_state_of_another_kind_is_refused(device, tmp_path):
    payload = _payload(device, tmp_path)
    for state in payload["meta_optimizer"]["state"].values():
        state["momentum_buffer"] = state.pop("exp_avg")
    torch.save(payload, tmp_path / "ck.pt")
    _refused(
        _trained(device),
        tmp_path / "ck.pt",
        r"per-parameter state keys \['exp_avg_sq', 'momentum_buffer', 'step'\], expected "
        r"\['exp_avg', 'exp_avg_sq', 'step'\]",
    )


def test_state_for_a_parameter_the_optimizer_lacks_is_refused(device, tmp_path):
    payload = _payload(device, tmp_path)
    payload["meta_optimizer"]["state"][99] = payload["meta_optimizer"]["state"][0]
    torch.save(payload, tmp_path / "ck.pt")
    _refused(
        _trained(device),
        tmp_path / "ck.pt",
        r"the optimizer state has an entry for parameter index 99, but this Adam has 8 parameters",
    )


# ---------------------------------------------------------------- another scheduler
def test_a_scheduler_of_another_schedule_is_refused(device, tmp_path):
    path = _trained(device).save_checkpoint(tmp_path / "step.pt")
    _refused(
        _trained(device, scheduler="cosine"),
        path,
        r"the scheduler state is not one of this CosineAnnealingLR \(another schedule\?\): "
        r"missing \['T_max', 'eta_min'\]; unexpected \['gamma', 'step_size'\]",
    )


def test_a_scheduler_mismatch_changes_nothing(device, tmp_path):
    path = _trained(device, scheduler=None).save_checkpoint(tmp_path / "none.pt")
    _refused(_trained(device), path, "the checkpoint has no scheduler state, the trainer has a")


def test_a_sampler_mismatch_changes_no_rng(device, tmp_path):
    trainer = _trained(device)
    path = trainer.save_checkpoint(tmp_path / "ck.pt")
    payload = torch.load(path, weights_only=True)
    payload["rng"]["sampler"] = None
    # Another torch RNG state, so a partial restore (the old behaviour) would show.
    payload["rng"]["torch"] = torch.Generator().manual_seed(123).get_state()
    torch.save(payload, path)
    _refused(trainer, path, "has no sampler RNG state, the task sampler has a")


# ------------------------------------------------------------------ load_state_dict
def test_load_state_dict_validates_the_same_way(device, tmp_path):
    trainer = _trained(device)
    state = _trained(device, hidden=8).state_dict()
    before = _snapshot(trainer)
    with pytest.raises(CheckpointError, match=r"^state: the module state does not fit"):
        trainer.load_state_dict(state)
    _assert_equal(before, _snapshot(trainer))
    with pytest.raises(CheckpointError, match=r"state must be a dict of \['format', "):
        trainer.load_state_dict([1, 2])


def test_a_fitting_checkpoint_still_loads_after_refusals(device, tmp_path):
    source = _trained(device)
    source.fit(3, 2)
    path = source.save_checkpoint(tmp_path / "ck.pt")
    trainer = _trained(device)
    (tmp_path / "empty.pt").write_bytes(b"")
    with pytest.raises(CheckpointError):
        trainer.load_checkpoint(tmp_path / "empty.pt")
    trainer.load_checkpoint(path)
    assert trainer.iteration == 5
    _assert_equal(_snapshot(source)["module"], _snapshot(trainer)["module"])
    _assert_equal(_snapshot(source)["optimizer"], _snapshot(trainer)["optimizer"])


# ----------------------------------------------------------- unwritable checkpoints
def _untouched_fit(trainer, path, message):
    before = _snapshot(trainer)
    with pytest.raises(CheckpointError, match=message):
        trainer.fit(3, 2, checkpoint_path=path)
    _assert_equal(before, _snapshot(trainer))  # refused before the first meta-update


def test_fit_refuses_a_directory_as_checkpoint_path_before_training(device, tmp_path):
    _untouched_fit(
        _trained(device),
        tmp_path,
        rf"cannot write checkpoints to '{tmp_path}': is a directory \(IsADirectoryError\); "
        "expected a file path in a writable directory",
    )


def test_fit_refuses_a_checkpoint_path_under_a_file_before_training(device, tmp_path):
    (tmp_path / "plain").write_text("not a directory")
    _untouched_fit(
        _trained(device),
        tmp_path / "plain" / "run" / "ck.pt",
        r"cannot write checkpoints to '.*plain/run/ck\.pt': .*expected a file path in a "
        "writable directory",
    )


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere"
)
def test_fit_refuses_a_read_only_directory_before_training(device, tmp_path):
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o500)
    try:
        _untouched_fit(
            _trained(device), read_only / "ck.pt", r"Permission denied \(PermissionError\)"
        )
    finally:
        read_only.chmod(0o700)


def test_the_writability_probe_leaves_nothing_behind(device, tmp_path):
    trainer = _trainer(device)
    trainer.fit(1, 2, checkpoint_path=tmp_path / "run" / "ck.pt")
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["ck.pt"]


# ------------------------------------------------------------- interrupted writes
@pytest.mark.parametrize("interruption", [KeyboardInterrupt, OSError])
def test_an_interrupted_write_removes_its_temp_file(device, tmp_path, monkeypatch, interruption):
    trainer = _trained(device)
    path = trainer.save_checkpoint(tmp_path / "ck.pt")
    before = path.read_bytes()
    trainer.fit(1, 2)

    def interrupted(*args, **kwargs):
        raise interruption("interrupted (simulated)")

    monkeypatch.setattr(io_module.os, "replace", interrupted)  # after the data is written
    with pytest.raises(interruption, match="simulated"):
        trainer.save_checkpoint(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.pt"]
