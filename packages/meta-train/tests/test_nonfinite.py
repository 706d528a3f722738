"""Non-finite meta-updates: NonFiniteError, on_nonfinite="skip", finite checkpoints, statistics."""

from __future__ import annotations

import dataclasses
import math
import pickle

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MAML
from meta_tasks import SinusoidTaskSampler, Task
from meta_train import History, MetaTrainer, NonFiniteError, mean_confidence_interval
from torch import nn


def _poisoned(task: Task) -> Task:
    """The task with NaN query targets: its query loss (the meta-objective) is NaN."""
    return dataclasses.replace(task, query_y=torch.full_like(task.query_y, math.nan))


class ScriptedSampler:
    """Serves fresh sinusoid tasks; at the listed calls (1-based), task 1 gets NaN targets."""

    def __init__(self, poison_calls=(), seed=0):
        self.inner = SinusoidTaskSampler(k_support=5, k_query=5, seed=seed)
        self.poison_calls = set(poison_calls)
        self.calls = 0

    def sample(self, meta_batch_size):
        self.calls += 1
        tasks = self.inner.sample(meta_batch_size)
        if self.calls in self.poison_calls:
            tasks[1] = _poisoned(tasks[1])
        return tasks


class PoisonedGradient(MAML):
    """MAML whose meta-gradient of ``module.0.bias`` gets one inf entry at chosen calls."""

    def __init__(self, *args, poison_calls=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.poison_calls = set(poison_calls)
        self.calls = 0

    def meta_gradient(self, tasks, loss_fn, *, batched=False):
        result = super().meta_gradient(tasks, loss_fn, batched=batched)
        self.calls += 1
        if self.calls in self.poison_calls:
            with torch.no_grad():
                self.module[0].bias.grad[0] = math.inf
        return result


def _trainer(device, *, sampler=None, maml=None, scheduler=False, **kwargs) -> MetaTrainer:
    torch.manual_seed(0)
    if maml is None:
        maml = MAML(nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Linear(16, 1)), inner_lr=0.01)
    maml = maml.to(device)
    optimizer = torch.optim.Adam(maml.parameters(), lr=1e-2)
    return MetaTrainer(
        maml,
        optimizer,
        F.mse_loss,
        sampler if sampler is not None else ScriptedSampler(),
        scheduler=torch.optim.lr_scheduler.StepLR(optimizer, 2) if scheduler else None,
        progress=False,
        **kwargs,
    )


def _params(trainer):
    return {name: p.detach().clone() for name, p in trainer.maml.named_parameters()}


def _optimizer_state(trainer):
    return {
        index: {key: value.clone() for key, value in state.items()}
        for index, state in trainer.meta_optimizer.state_dict()["state"].items()
    }


def _assert_same(before, after):
    assert before.keys() == after.keys()
    for key in before:
        if isinstance(before[key], dict):
            _assert_same(before[key], after[key])
        else:
            assert torch.equal(before[key], after[key]), key


def _all_finite(state_dict):
    return all(
        torch.isfinite(value).all() for value in state_dict.values() if value.is_floating_point()
    )


@pytest.mark.parametrize("value", ["ignore", "RAISE", None, 0])
def test_on_nonfinite_accepts_only_raise_or_skip(device, value):
    with pytest.raises(ValueError, match=r"on_nonfinite must be 'raise' .* or 'skip' .*, got "):
        _trainer(device, on_nonfinite=value)


def test_a_nan_meta_loss_stops_the_run_and_keeps_the_last_good_checkpoint(device, tmp_path):
    path = tmp_path / "ck.pt"
    trainer = _trainer(device, sampler=ScriptedSampler(poison_calls={3}))
    trainer.fit(2, 3, checkpoint_every=1, checkpoint_path=path)
    saved = path.read_bytes()
    params, optimizer_state = _params(trainer), _optimizer_state(trainer)

    with pytest.raises(NonFiniteError, match="non-finite meta-loss at meta-iteration 3") as caught:
        trainer.fit(3, 3, checkpoint_every=1, checkpoint_path=path)
    assert caught.value.iteration == 3
    assert caught.value.quantity == "meta-loss"
    assert "the meta-objectives of tasks [1] are not finite" in str(caught.value)
    assert "on_nonfinite='skip'" in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert path.read_bytes() == saved  # the last good checkpoint, untouched
    _assert_same(params, _params(trainer))  # no optimizer step was made
    _assert_same(optimizer_state, _optimizer_state(trainer))
    assert trainer.iteration == 2
    assert len(trainer.history.meta_loss) == 2
    checkpoint = torch.load(path, weights_only=True)
    assert checkpoint["iteration"] == 2
    assert _all_finite(checkpoint["module"])


def test_a_nonfinite_meta_gradient_names_the_parameter(device):
    maml = PoisonedGradient(
        nn.Sequential(nn.Linear(1, 16), nn.ReLU(), nn.Linear(16, 1)),
        inner_lr=0.01,
        poison_calls={2},
    )
    trainer = _trainer(device, maml=maml)
    trainer.fit(1, 2)
    params, optimizer_state = _params(trainer), _optimizer_state(trainer)
    with pytest.raises(
        NonFiniteError,
        match=r"non-finite meta-gradient of 'module\.0\.bias' at meta-iteration 2: "
        r"1 of 16 entries are inf",
    ) as caught:
        trainer.fit(1, 2)
    assert caught.value.quantity == "meta-gradient of 'module.0.bias'"
    _assert_same(params, _params(trainer))
    _assert_same(optimizer_state, _optimizer_state(trainer))
    assert trainer.maml.meta_iteration == 1


def test_a_huge_inner_learning_rate_stops_before_writing_anything(device, tmp_path):
    # The library half of the issue's `--inner-lr 1e6` run, which used to save NaN weights.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 1))
    maml = MAML(net, inner_lr=1e6, inner_steps=5)
    trainer = _trainer(device, maml=maml, sampler=SinusoidTaskSampler(seed=0))
    path = tmp_path / "run" / "ck.pt"
    with pytest.raises(NonFiniteError, match="non-finite meta-loss at meta-iteration 1: it is nan"):
        trainer.fit(50, 4, checkpoint_every=1, checkpoint_path=path)
    assert list(path.parent.iterdir()) == []  # no NaN checkpoint, no leftover temp file
    assert _all_finite(trainer.maml.state_dict())


def test_skip_makes_no_step_and_counts_the_skipped_iterations(device, tmp_path):
    trainer = _trainer(
        device, sampler=ScriptedSampler(poison_calls={3, 5}), on_nonfinite="skip", scheduler=True
    )
    snapshots = {}

    def record(iteration, loss):
        snapshots[iteration] = (_params(trainer), [p.grad for p in trainer.maml.parameters()])

    history = trainer.fit(6, 3, callback=record)
    assert history.skipped == [3, 5]
    assert trainer.iteration == 6
    assert len(history.meta_loss) == 6
    assert math.isnan(history.meta_loss[2])
    assert math.isnan(history.meta_loss[4])
    assert all(math.isfinite(history.meta_loss[i]) for i in (0, 1, 3, 5))
    for skipped in (3, 5):
        _assert_same(snapshots[skipped - 1][0], snapshots[skipped][0])
        assert all(grad is None for grad in snapshots[skipped][1])  # gradients dropped
    # The next finite meta-update steps again.
    assert not torch.equal(snapshots[3][0]["module.0.weight"], snapshots[4][0]["module.0.weight"])
    # Neither the scheduler nor the algorithm's own counter counted the skipped updates.
    assert trainer.scheduler.last_epoch == 4
    assert trainer.maml.meta_iteration == 4
    # The count survives the history's files and the checkpoint.
    assert History.from_csv(history.to_csv(tmp_path / "h.csv")).skipped == [3, 5]
    assert History.from_json(history.to_json(tmp_path / "h.json")).skipped == [3, 5]
    header = (tmp_path / "h.csv").read_text().splitlines()[0]
    assert header == "iteration,meta_loss,meta_accuracy,eval_loss,eval_accuracy,skipped"


def test_skip_in_meta_step_returns_the_nonfinite_loss_and_keeps_parameters(device):
    trainer = _trainer(device, on_nonfinite="skip")
    tasks = SinusoidTaskSampler(k_support=5, k_query=5, seed=3).sample(2)
    tasks[0] = _poisoned(tasks[0])
    params = _params(trainer)
    assert math.isnan(trainer.meta_step(tasks))
    _assert_same(params, _params(trainer))
    assert trainer.meta_optimizer.state_dict()["state"] == {}


def test_a_step_that_makes_parameters_nonfinite_raises_in_both_modes(device, tmp_path):
    for mode in ("raise", "skip"):
        torch.manual_seed(0)
        maml = MAML(nn.Sequential(nn.Linear(1, 8), nn.ReLU(), nn.Linear(8, 1)), inner_lr=0.01)
        trainer = MetaTrainer(
            maml.to(device),
            torch.optim.SGD(maml.parameters(), lr=math.inf),  # finite gradient, infinite step
            F.mse_loss,
            SinusoidTaskSampler(seed=0),
            progress=False,
            on_nonfinite=mode,
        )
        path = tmp_path / f"{mode}.pt"
        with pytest.raises(
            NonFiniteError,
            match=r"non-finite parameter '.*' at meta-iteration 1: .* after an optimizer step "
            "with a finite meta-gradient",
        ):
            trainer.fit(3, 2, checkpoint_path=path)
        assert not path.exists()


def test_save_checkpoint_refuses_nonfinite_parameters(device, tmp_path):
    trainer = _trainer(device)
    path = trainer.save_checkpoint(tmp_path / "ck.pt")
    saved = path.read_bytes()
    with torch.no_grad():
        trainer.maml.module[2].weight[0, 3] = math.nan
    with pytest.raises(
        NonFiniteError,
        match=r"non-finite parameter 'module\.2\.weight' at meta-iteration 0: 1 of 16 entries "
        r"are nan; refusing to save a checkpoint",
    ):
        trainer.save_checkpoint(path)
    assert path.read_bytes() == saved
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck.pt"]


def test_nonfinite_error_pickles_with_its_fields():
    error = NonFiniteError(7, "meta-loss", "it is nan")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), str(copy), copy.iteration, copy.quantity) == (
        NonFiniteError,
        "non-finite meta-loss at meta-iteration 7: it is nan",
        7,
        "meta-loss",
    )


def test_evaluation_and_statistics_survive_nonfinite_values(device):
    trainer = _trainer(device)
    tasks = SinusoidTaskSampler(k_support=5, k_query=5, seed=4).sample(3)
    tasks[1] = _poisoned(tasks[1])
    result = trainer.evaluate_tasks(tasks)
    assert math.isnan(result.post_loss[1])
    assert math.isfinite(result.post_loss[0])
    assert math.isnan(trainer.evaluate(tasks))
    mean, half = mean_confidence_interval(result.post_loss)
    assert math.isnan(mean)
    assert math.isnan(half)
    mean, half = mean_confidence_interval([math.inf, 1.0, 2.0])
    assert mean == math.inf
    assert math.isnan(half)
    assert mean_confidence_interval([1.0, 2.0, 3.0])[0] == 2.0  # finite values unchanged
