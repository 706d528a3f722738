"""Checkpoints: exact resume, atomic writes, periodic saving, weights_only loading, errors."""

from __future__ import annotations

import os
import random

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MetaSGD
from meta_tasks import SinusoidTaskSampler
from meta_train import MetaTrainer
from torch import nn


def _trainer(device, *, init_seed=0, sampler_seed=0):
    torch.manual_seed(init_seed)
    # Dropout draws from torch's global RNG during training, so resuming is only exact if
    # that state is restored too; MetaSGD adds learned rates to the state.
    net = nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 1))
    maml = MetaSGD(net, inner_lr=0.01).to(device)
    optimizer = torch.optim.Adam(maml.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.7)
    sampler = SinusoidTaskSampler(k_support=5, k_query=5, seed=sampler_seed)
    return MetaTrainer(maml, optimizer, F.mse_loss, sampler, scheduler=scheduler, progress=False)


def test_resume_reproduces_the_uninterrupted_run_exactly(device, tmp_path):
    eval_tasks = SinusoidTaskSampler(k_support=5, k_query=5, seed=99).sample(3)
    torch.manual_seed(1234)
    random.seed(1234)
    uninterrupted = _trainer(device)
    uninterrupted.fit(40, 3, eval_every=10, eval_tasks=eval_tasks)

    torch.manual_seed(1234)
    random.seed(1234)
    first = _trainer(device)
    first.fit(20, 3, eval_every=10, eval_tasks=eval_tasks, checkpoint_path=tmp_path / "ck.pt")
    # Disturb every RNG and build fresh objects with other seeds: the checkpoint must restore all.
    torch.manual_seed(5)
    random.seed(5)
    resumed = _trainer(device, init_seed=7, sampler_seed=8)
    resumed.load_checkpoint(tmp_path / "ck.pt")
    assert resumed.iteration == 20
    assert resumed.maml.meta_iteration == 20
    resumed.fit(20, 3, eval_every=10, eval_tasks=eval_tasks)

    for (name, a), b in zip(
        uninterrupted.maml.state_dict().items(), resumed.maml.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    assert resumed.history == uninterrupted.history
    assert resumed.scheduler.get_last_lr() == uninterrupted.scheduler.get_last_lr()
    assert resumed.iteration == 40


def test_python_random_state_is_restored(device, tmp_path):
    trainer = _trainer(device)
    random.seed(42)
    trainer.save_checkpoint(tmp_path / "ck.pt")
    expected = [random.random() for _ in range(3)]
    trainer.load_checkpoint(tmp_path / "ck.pt")
    assert [random.random() for _ in range(3)] == expected


def test_failed_write_leaves_the_previous_checkpoint_intact(device, tmp_path, monkeypatch):
    trainer = _trainer(device)
    trainer.fit(2, 2)
    path = trainer.save_checkpoint(tmp_path / "ck.pt")
    before = path.read_bytes()
    trainer.fit(2, 2)

    real_save = torch.save

    def half_then_crash(obj, file, *args, **kwargs):
        real_save(obj, file, *args, **kwargs)
        file.truncate(10)
        raise OSError("no space left on device (simulated)")

    monkeypatch.setattr(torch, "save", half_then_crash)
    with pytest.raises(OSError, match="no space left"):
        trainer.save_checkpoint(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ck.pt"]  # the partial temp file is gone
    fresh = _trainer(device)
    fresh.load_checkpoint(path)
    assert fresh.iteration == 2


def test_fit_saves_periodically(device, tmp_path, monkeypatch):
    trainer = _trainer(device)
    saved_at = []
    real = MetaTrainer.save_checkpoint

    def spy(self, path):
        saved_at.append(self.iteration)
        return real(self, path)

    monkeypatch.setattr(MetaTrainer, "save_checkpoint", spy)
    trainer.fit(7, 2, checkpoint_every=3, checkpoint_path=tmp_path / "run" / "ck.pt")
    assert saved_at == [3, 6, 7]
    fresh = _trainer(device)
    fresh.load_checkpoint(tmp_path / "run" / "ck.pt")
    assert fresh.iteration == 7
    assert fresh.history == trainer.history


def test_checkpoint_is_loadable_with_weights_only(device, tmp_path):
    trainer = _trainer(device)
    trainer.fit(1, 2)
    payload = torch.load(trainer.save_checkpoint(tmp_path / "ck.pt"), weights_only=True)
    assert set(payload) == {
        "format",
        "iteration",
        "module",
        "meta_optimizer",
        "scheduler",
        "history",
        "rng",
    }
    assert set(payload["rng"]) == {"torch", "cuda", "python", "sampler"}
    assert payload["history"]["meta_loss"] == trainer.history.meta_loss


def test_load_errors(device, tmp_path):
    trainer = _trainer(device)
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        trainer.load_checkpoint(tmp_path / "missing.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="is not a meta-train checkpoint of format 1"):
        trainer.load_checkpoint(tmp_path / "other.pt")
    trainer.save_checkpoint(tmp_path / "ck.pt")
    trainer.scheduler = None
    with pytest.raises(
        ValueError, match="the checkpoint has a scheduler state, the trainer has no"
    ):
        trainer.load_checkpoint(tmp_path / "ck.pt")


def test_sampler_without_generator_mismatch(device, tmp_path):
    trainer = _trainer(device)
    trainer.save_checkpoint(tmp_path / "ck.pt")

    class NoGenerator:
        def sample(self, n):
            return SinusoidTaskSampler(seed=0).sample(n)

    trainer.task_sampler = NoGenerator()
    with pytest.raises(ValueError, match="has a sampler RNG state, the task sampler has no"):
        trainer.load_checkpoint(tmp_path / "ck.pt")
