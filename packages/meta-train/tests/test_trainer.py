"""MetaTrainer: meta-steps, evaluation, fit, batched/loop parity, accuracy, clipping, schedulers."""

from __future__ import annotations

import copy
import io
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from meta_algos import ANIL, MAML, MAMLpp, MetaAlgorithm, MetaGradient, MetaSGD
from meta_tasks import FewShotSampler, SinusoidTaskSampler, Task
from meta_train import History, MetaTrainer
from torch import nn


def _mlp(hidden: int = 16, dtype: torch.dtype = torch.float32) -> nn.Module:
    return nn.Sequential(
        nn.Linear(1, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1)
    ).to(dtype)


def _trainer(
    device, *, seed=0, lr=1e-3, maml_cls=MAML, sampler_seed=0, progress=False, **kwargs
) -> MetaTrainer:
    torch.manual_seed(seed)
    maml = maml_cls(_mlp(), inner_lr=0.01).to(device)
    return MetaTrainer(
        maml,
        torch.optim.Adam(maml.parameters(), lr=lr),
        F.mse_loss,
        SinusoidTaskSampler(k_support=5, k_query=5, seed=sampler_seed),
        progress=progress,
        **kwargs,
    )


class FixedSampler:
    """Serves the same tasks every time (first ``n``)."""

    def __init__(self, tasks):
        self.tasks = tasks

    def sample(self, meta_batch_size):
        return self.tasks[:meta_batch_size]


def _sgd_trainer(maml, tasks, *, lr=0.1, loss_fn=F.mse_loss, **kwargs) -> MetaTrainer:
    """A quiet trainer with plain SGD that always meta-trains on ``tasks``."""
    return MetaTrainer(
        maml,
        torch.optim.SGD(maml.parameters(), lr=lr),
        loss_fn,
        FixedSampler(tasks),
        progress=False,
        **kwargs,
    )


def _params(module):
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _loop_then_batched_step(make_maml, tasks):
    """One SGD meta-step from the same seeded init, looped then batched: [(loss, params)] * 2."""
    results = []
    for batched in (False, True):
        torch.manual_seed(0)
        maml = make_maml()
        loss = _sgd_trainer(maml, tasks, batched=batched).meta_step(tasks)
        results.append((loss, _params(maml)))
    return results


def test_training_lowers_the_post_adaptation_loss(device):
    trainer = _trainer(device, lr=1e-2)
    eval_tasks = SinusoidTaskSampler(k_support=5, k_query=5, seed=123).sample(50)
    before = trainer.evaluate(eval_tasks)
    history = trainer.fit(150, 5, eval_every=50, eval_tasks=eval_tasks)
    after = trainer.evaluate(eval_tasks)
    assert len(history.meta_loss) == 150
    assert [it for it, _ in history.eval_loss] == [50, 100, 150]
    assert history.eval_loss[-1][1] == pytest.approx(after, rel=1e-6)
    assert after < 0.9 * before  # measured on CPU: 3.80 vs 4.76
    # Meta-learning, not only regression to the mean: adaptation helps after training.
    result = trainer.evaluate_tasks(eval_tasks)
    assert sum(result.post_loss) < 0.95 * sum(result.pre_loss)  # measured: 3.80 vs 4.27
    assert history.meta_accuracy == []
    assert history.eval_accuracy == []


def test_meta_step_returns_mean_query_loss_and_updates(device):
    trainer = _trainer(device)
    tasks = SinusoidTaskSampler(k_support=5, k_query=5, seed=1).sample(3)
    expected = (
        sum(
            trainer.maml.query_loss(
                F.mse_loss,
                *(t.to(device).support_x, t.to(device).support_y),
                t.to(device).query_x,
                t.to(device).query_y,
            ).item()
            for t in tasks
        )
        / 3
    )
    before = _params(trainer.maml)
    loss = trainer.meta_step(tasks)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert trainer.maml.meta_iteration == 1
    after = _params(trainer.maml)
    assert any(not torch.equal(before[n], after[n]) for n in before)


def test_loop_meta_gradient_matches_one_backward_of_the_mean(device):
    torch.manual_seed(0)
    maml = MAML(_mlp(dtype=torch.float64), inner_lr=0.05).to(device)
    tasks = [t.to(device, torch.float64) for t in SinusoidTaskSampler(seed=2).sample(4)]
    reference = copy.deepcopy(maml)
    mean = sum(
        reference.query_loss(F.mse_loss, t.support_x, t.support_y, t.query_x, t.query_y)
        for t in tasks
    ) / len(tasks)
    mean.backward()
    optimizer = torch.optim.SGD(maml.parameters(), lr=0.0)  # lr 0: keep the grads to compare
    MetaTrainer(maml, optimizer, F.mse_loss, FixedSampler(tasks), progress=False).meta_step(tasks)
    for (name, p), q in zip(maml.named_parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-10, atol=1e-12, msg=name)


@pytest.mark.parametrize("maml_cls", [MAML, MetaSGD])
def test_batched_equals_loop_after_one_step(device, maml_cls):
    tasks = [t.to(device, torch.float64) for t in SinusoidTaskSampler(seed=3).sample(6)]
    results = _loop_then_batched_step(
        lambda: maml_cls(_mlp(dtype=torch.float64), inner_lr=0.05, inner_steps=2).to(device), tasks
    )
    # float64: the two paths agree to rounding (tolerance 1e-10 relative).
    assert results[0][0] == pytest.approx(results[1][0], rel=1e-10)
    for name, value in results[0][1].items():
        torch.testing.assert_close(results[1][1][name], value, rtol=1e-10, atol=1e-12, msg=name)


def test_batched_falls_back_to_the_loop_for_unequal_tasks(device):
    sampler_a = SinusoidTaskSampler(k_support=5, k_query=5, seed=4)
    sampler_b = SinusoidTaskSampler(k_support=7, k_query=5, seed=5)
    tasks = [t.to(device, torch.float64) for t in sampler_a.sample(2) + sampler_b.sample(2)]
    losses = _loop_then_batched_step(
        lambda: MAML(_mlp(dtype=torch.float64), inner_lr=0.05).to(device), tasks
    )
    assert losses[0][0] == losses[1][0]
    for name, value in losses[0][1].items():
        assert torch.equal(value, losses[1][1][name]), name


def test_evaluate_leaves_parameters_grads_and_buffers_unchanged(device):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1)).to(device)
    maml = MAML(net, inner_lr=0.1, inner_steps=3)
    tasks = SinusoidTaskSampler(k_support=5, k_query=5, seed=6).sample(4)
    trainer = _sgd_trainer(maml, tasks)
    trainer.meta_step(tasks)  # leaves .grad populated
    maml.eval()
    params = _params(maml)
    grads = {n: p.grad.clone() for n, p in maml.named_parameters()}
    buffers = {n: b.clone() for n, b in maml.named_buffers()}
    value = trainer.evaluate(tasks)
    assert isinstance(value, float)
    assert value > 0
    assert not maml.training
    for name, p in maml.named_parameters():
        assert torch.equal(p, params[name]), name
        assert torch.equal(p.grad, grads[name]), name
    for name, b in maml.named_buffers():
        assert torch.equal(b, buffers[name]), name


def test_evaluate_under_no_grad_still_adapts(device):
    trainer = _trainer(device)
    tasks = SinusoidTaskSampler(k_support=5, k_query=5, seed=7).sample(3)
    expected = trainer.evaluate(tasks)
    with torch.no_grad():
        assert trainer.evaluate(tasks) == expected
    assert expected != pytest.approx(sum(trainer.evaluate_tasks(tasks, steps=0).post_loss) / 3)


def test_evaluate_tasks_reports_pre_and_post_per_task(device):
    trainer = _trainer(device)
    tasks = SinusoidTaskSampler(k_support=5, k_query=5, seed=7).sample(3)
    result = trainer.evaluate_tasks(tasks, steps=0)
    # With zero inner steps the adapted model is the initialisation.
    assert result.post_loss == pytest.approx(result.pre_loss, rel=1e-6)
    assert result.pre_accuracy is None
    assert result.post_accuracy is None
    task = tasks[0].to(device)
    with torch.no_grad():
        expected = F.mse_loss(trainer.maml(task.query_x), task.query_y).item()
    assert result.pre_loss[0] == pytest.approx(expected, rel=1e-6)
    assert trainer.evaluate(tasks) == pytest.approx(
        sum(trainer.evaluate_tasks(tasks).post_loss) / 3, rel=1e-12
    )


@pytest.mark.parametrize("algorithm", ["MAML", "MetaSGD", "ANIL", "MAMLpp"])
def test_evaluation_asks_every_algorithm_of_the_family_for_its_predictions(device, algorithm):
    torch.manual_seed(0)
    net = _mlp()
    builders = {
        "MAML": lambda: MAML(net, inner_lr=0.01, inner_steps=2),
        "MetaSGD": lambda: MetaSGD(net, inner_lr=0.01, inner_steps=2),
        "ANIL": lambda: ANIL(net, net[4], inner_lr=0.01, inner_steps=2),
        "MAMLpp": lambda: MAMLpp(net, inner_lr=0.01, inner_steps=2),
    }
    maml = builders[algorithm]().to(device)
    tasks = [t.to(device) for t in SinusoidTaskSampler(k_support=5, k_query=5, seed=13).sample(2)]
    result = _sgd_trainer(maml, tasks).evaluate_tasks(tasks)
    for task, pre, post in zip(tasks, result.pre_loss, result.post_loss, strict=True):
        # steps=0: the meta-parameters themselves; the default: inner_steps adaptation steps.
        with torch.no_grad():
            initial = F.mse_loss(maml(task.query_x), task.query_y).item()
        adapted = F.mse_loss(maml.adapted_predictions(task, F.mse_loss), task.query_y).item()
        assert pre == pytest.approx(initial, rel=1e-6)
        assert post == pytest.approx(adapted, rel=1e-6)
        assert post != pytest.approx(pre, rel=1e-6)


def _labelled_data():
    generator = torch.Generator().manual_seed(0)
    return [(torch.randn(4, generator=generator) + (i % 6), i % 6) for i in range(60)]


def _classification(device):
    sampler = FewShotSampler(_labelled_data(), ways=3, shots=2, query_shots=3, seed=0)
    torch.manual_seed(0)
    maml = MAML(nn.Linear(4, 3), inner_lr=0.5).to(device)
    return maml, sampler


def test_accuracy_is_recorded_for_class_labels(device):
    maml, sampler = _classification(device)
    tasks = sampler.sample(4)
    expected = []
    for task in tasks:
        task = task.to(device)
        learner = maml.clone().adapt_on(F.cross_entropy, task.support_x, task.support_y)
        predicted = learner(task.query_x).argmax(dim=1)
        expected.append((predicted == task.query_y).float().mean().item())
    trainer = _sgd_trainer(maml, tasks, loss_fn=F.cross_entropy)
    history = trainer.fit(2, 4, eval_every=1, eval_tasks=tasks)
    assert history.meta_accuracy[0] == pytest.approx(sum(expected) / 4, abs=1e-12)
    assert len(history.meta_accuracy) == 2
    assert [it for it, _ in history.eval_accuracy] == [1, 2]
    result = trainer.evaluate_tasks(tasks)
    assert history.eval_accuracy[-1][1] == pytest.approx(sum(result.post_accuracy) / 4)
    assert all(0.0 <= a <= 1.0 for a in result.pre_accuracy + result.post_accuracy)


def test_batched_training_records_the_accuracy_of_the_loop(device):
    histories = []
    for batched in (False, True):
        maml, sampler = _classification(device)
        tasks = sampler.sample(4)
        trainer = _sgd_trainer(maml, tasks, loss_fn=F.cross_entropy, batched=batched)
        histories.append(trainer.fit(2, 4, eval_every=2, eval_tasks=tasks))
    loop, batched = histories
    # The predictions come out of the vmap pass (MetaGradient.predictions), so training
    # accuracy is recorded on the batched path too, and equals the loop's.
    assert len(batched.meta_accuracy) == len(batched.meta_loss) == 2
    assert batched.meta_accuracy == pytest.approx(loop.meta_accuracy, abs=1e-12)
    assert [it for it, _ in batched.eval_accuracy] == [2]


class AlternatingSampler:
    """Serves ``batches[0]``, ``batches[1]``, ``batches[0]``, ... (whatever is asked)."""

    def __init__(self, batches):
        self.batches = batches
        self.calls = 0

    def sample(self, meta_batch_size):
        batch = self.batches[self.calls % len(self.batches)]
        self.calls += 1
        return batch


def test_accuracy_stays_aligned_when_batched_meta_batches_fall_back_to_the_loop(device):
    maml, sampler = _classification(device)
    more_shots = FewShotSampler(_labelled_data(), ways=3, shots=3, query_shots=3, seed=1)
    stackable = sampler.sample(2)
    unstackable = sampler.sample(1) + more_shots.sample(1)
    trainer = MetaTrainer(
        maml,
        torch.optim.SGD(maml.parameters(), lr=0.1),
        F.cross_entropy,
        AlternatingSampler([stackable, unstackable]),
        batched=True,
        progress=False,
    )
    history = trainer.fit(4, 2)
    assert len(history.meta_accuracy) == len(history.meta_loss) == 4
    assert all(0.0 <= value <= 1.0 for value in history.meta_accuracy)


def test_regression_targets_record_no_training_accuracy_on_either_path(device):
    for batched in (False, True):
        history = _trainer(device, batched=batched).fit(2, 3)
        assert len(history.meta_loss) == 2
        assert history.meta_accuracy == []


class Reptile(nn.Module):
    """First-order Reptile written against the protocol alone (no meta_algos class).

    The meta-gradient of a task is ``theta - phi``, ``phi`` the parameters after
    ``inner_steps`` plain SGD steps on the support set (Nichol, Achiam and Schulman, 2018).
    """

    def __init__(self, module: nn.Module, inner_lr: float, inner_steps: int) -> None:
        super().__init__()
        self.module = module
        self.inner_lr = inner_lr
        self.inner_steps = inner_steps
        self.iterations = 0

    def adapt(self, task, loss_fn, steps):
        params = {n: p.detach().clone() for n, p in self.module.named_parameters()}
        with torch.enable_grad():
            for _ in range(steps):
                params = {n: p.requires_grad_() for n, p in params.items()}
                prediction = torch.func.functional_call(self.module, params, (task.support_x,))
                grads = torch.autograd.grad(loss_fn(prediction, task.support_y), params.values())
                params = {
                    n: (p - self.inner_lr * g).detach()
                    for (n, p), g in zip(params.items(), grads, strict=True)
                }
        return params

    def _query(self, task, params):
        with torch.no_grad():
            return torch.func.functional_call(self.module, params, (task.query_x,))

    def meta_gradient(self, tasks, loss_fn, *, batched=False):
        del batched  # always task by task
        losses, predictions = [], []
        for task in tasks:
            adapted = self.adapt(task, loss_fn, self.inner_steps)
            prediction = self._query(task, adapted)
            losses.append(loss_fn(prediction, task.query_y))
            predictions.append(prediction)
            for name, param in self.module.named_parameters():
                step = (param.detach() - adapted[name]) / len(tasks)
                param.grad = step if param.grad is None else param.grad + step
        return MetaGradient(torch.stack(losses), predictions)

    def adapted_predictions(self, task, loss_fn, *, steps=None):
        steps = self.inner_steps if steps is None else steps
        return self._query(task, self.adapt(task, loss_fn, steps))

    def advance_iteration(self):
        self.iterations += 1
        return self.iterations


def test_an_algorithm_of_its_own_trains_through_the_protocol(device):
    tasks = [t.to(device) for t in SinusoidTaskSampler(k_support=5, k_query=5, seed=10).sample(3)]
    torch.manual_seed(0)
    reptile = Reptile(_mlp(), inner_lr=0.02, inner_steps=3).to(device)
    assert isinstance(reptile, MetaAlgorithm)
    # With outer SGD at rate 1, one Reptile update moves theta to the mean adapted parameters.
    expected = {
        name: torch.stack([reptile.adapt(t, F.mse_loss, 3)[name] for t in tasks]).mean(0)
        for name, _ in reptile.module.named_parameters()
    }
    expected_loss = sum(
        F.mse_loss(reptile.adapted_predictions(t, F.mse_loss), t.query_y).item() for t in tasks
    )
    trainer = _sgd_trainer(reptile, tasks, lr=1.0)
    # The trainer's meta-loss is the mean of the losses the algorithm measured.
    assert trainer.meta_step(tasks) == pytest.approx(expected_loss / 3, rel=1e-6)
    for name, param in reptile.module.named_parameters():
        torch.testing.assert_close(param.detach(), expected[name], rtol=1e-5, atol=1e-6, msg=name)
    assert reptile.iterations == 1
    history = trainer.fit(4, 3, eval_every=2, eval_tasks=tasks)
    assert reptile.iterations == 5
    assert trainer.iteration == len(history.meta_loss) == 4
    assert [it for it, _ in history.eval_loss] == [2, 4]
    # Evaluation asks the algorithm for its predictions: steps=0 is the initialisation.
    result = trainer.evaluate_tasks(tasks[:1], steps=0)
    with torch.no_grad():
        initial = F.mse_loss(reptile.module(tasks[0].query_x), tasks[0].query_y).item()
    assert result.pre_loss == result.post_loss == [pytest.approx(initial, rel=1e-6)]


def test_an_algorithm_of_its_own_records_classification_accuracy(device):
    _, sampler = _classification(device)
    tasks = sampler.sample(4)
    torch.manual_seed(0)
    reptile = Reptile(nn.Linear(4, 3), inner_lr=0.5, inner_steps=1).to(device)
    expected = []
    for task in tasks:
        task = task.to(device)
        predicted = reptile.adapted_predictions(task, F.cross_entropy).argmax(dim=1)
        expected.append((predicted == task.query_y).float().mean().item())
    trainer = _sgd_trainer(reptile, tasks, loss_fn=F.cross_entropy, batched=True)
    history = trainer.fit(2, 4, eval_every=2, eval_tasks=tasks)
    assert history.meta_accuracy[0] == pytest.approx(sum(expected) / 4, abs=1e-12)
    assert len(history.meta_accuracy) == 2
    assert [it for it, _ in history.eval_accuracy] == [2]


class MissingLoss(Reptile):
    """Returns one loss too few: the trainer must say so instead of misreporting."""

    def meta_gradient(self, tasks, loss_fn, *, batched=False):
        result = super().meta_gradient(tasks, loss_fn, batched=batched)
        return MetaGradient(result.losses[1:], result.predictions)


def test_a_meta_gradient_without_one_loss_per_task_is_an_error(device):
    tasks = SinusoidTaskSampler(k_support=5, k_query=5, seed=11).sample(2)
    algorithm = MissingLoss(_mlp(), inner_lr=0.01, inner_steps=1).to(device)
    with pytest.raises(
        ValueError,
        match=r"MissingLoss\.meta_gradient must return one loss and one prediction per task; "
        r"got losses of shape \(1,\) and 2 predictions for 2 tasks",
    ):
        _sgd_trainer(algorithm, tasks).meta_step(tasks)


def _per_example_mse(prediction, target):
    return F.mse_loss(prediction, target, reduction="none")


@pytest.mark.parametrize("inner_steps", [0, 1])
def test_a_non_scalar_loss_is_the_same_error_in_evaluation_as_in_training(device, inner_steps):
    tasks = SinusoidTaskSampler(k_support=5, k_query=5, seed=12).sample(2)
    torch.manual_seed(0)
    maml = MAML(_mlp(), inner_lr=0.01, inner_steps=inner_steps).to(device)
    trainer = _sgd_trainer(maml, tasks, loss_fn=_per_example_mse)
    scalar = r"must be a scalar \(a 0-dim or single-element tensor\), got shape \(5, 1\)"
    with pytest.raises(ValueError, match=scalar) as training:
        trainer.meta_step(tasks)
    with pytest.raises(ValueError, match=scalar) as evaluation:
        trainer.evaluate(tasks)
    with pytest.raises(ValueError, match=scalar):
        trainer.evaluate_tasks(tasks, steps=2)
    if inner_steps == 0:  # both fail on the first loss they compute: the query loss
        assert str(evaluation.value) == str(training.value)
        assert str(training.value).startswith("the query loss must be a scalar")


def test_mamlpp_iteration_counter_advances_with_meta_steps(device):
    torch.manual_seed(0)
    maml = MAMLpp(
        _mlp(), inner_lr=0.01, inner_steps=2, msl_iterations=4, first_order_iterations=2
    ).to(device)
    trainer = MetaTrainer(
        maml,
        torch.optim.Adam(maml.parameters(), 1e-3),
        F.mse_loss,
        SinusoidTaskSampler(seed=0),
        progress=False,
    )
    trainer.fit(3, 2)
    assert maml.meta_iteration == 3
    assert trainer.iteration == 3


def test_grad_clip_bounds_the_update(device):
    tasks = SinusoidTaskSampler(seed=8).sample(3)
    torch.manual_seed(0)
    maml = MAML(_mlp(), inner_lr=0.01).to(device)
    before = torch.cat([p.detach().reshape(-1).clone() for p in maml.parameters()])
    trainer = _sgd_trainer(maml, tasks, lr=1.0, grad_clip=1e-3)
    trainer.meta_step(tasks)
    after = torch.cat([p.detach().reshape(-1) for p in maml.parameters()])
    assert (after - before).norm().item() == pytest.approx(1e-3, rel=1e-3)


def test_scheduler_steps_once_per_meta_update(device):
    trainer = _trainer(device, lr=0.1)
    trainer.scheduler = torch.optim.lr_scheduler.StepLR(trainer.meta_optimizer, 1, gamma=0.5)
    trainer.fit(3, 2)
    assert trainer.meta_optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**3)


def test_fit_continues_and_calls_back(device):
    trainer = _trainer(device)
    calls = []
    trainer.fit(2, 2, callback=lambda it, loss: calls.append((it, loss)))
    history = trainer.fit(3, 2, callback=lambda it, loss: calls.append((it, loss)))
    assert isinstance(history, History)
    assert history is trainer.history
    assert [it for it, _ in calls] == [1, 2, 3, 4, 5]
    assert [loss for _, loss in calls] == history.meta_loss
    assert trainer.fit(0, 1).iterations == 5


def test_eval_tasks_without_eval_every_evaluate_once_at_the_end(device):
    trainer = _trainer(device)
    eval_tasks = SinusoidTaskSampler(seed=9).sample(3)
    history = trainer.fit(4, 2, eval_tasks=eval_tasks)
    assert [it for it, _ in history.eval_loss] == [4]


def test_progress_bar_shows_meta_and_eval_loss(device, capsys):
    trainer = _trainer(device, progress=True)
    trainer.fit(3, 2, eval_every=1, eval_tasks=SinusoidTaskSampler(seed=9).sample(2))
    err = capsys.readouterr().err
    assert "meta-train" in err
    assert "meta_loss=" in err
    assert "eval_loss=" in err


def test_progress_is_off_when_stderr_is_not_a_tty(device, capsys, monkeypatch):
    monkeypatch.setattr("sys.stderr", io.StringIO())
    trainer = _trainer(device, progress=None)
    trainer.fit(2, 2)
    import sys

    assert sys.stderr.getvalue() == ""


def test_eval_every_without_eval_tasks_is_an_error(device):
    trainer = _trainer(device)
    with pytest.raises(ValueError, match=r"eval_every=5 needs eval_tasks"):
        trainer.fit(10, 2, eval_every=5)
    assert trainer.iteration == 0


def test_checkpoint_every_without_path_is_an_error(device):
    with pytest.raises(ValueError, match=r"checkpoint_every=2 needs checkpoint_path"):
        _trainer(device).fit(4, 2, checkpoint_every=2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"num_iterations": -1, "meta_batch_size": 2},
            "num_iterations must be a non-negative int, got -1",
        ),
        (
            {"num_iterations": 1, "meta_batch_size": 0},
            "meta_batch_size must be an int >= 1, got 0",
        ),
        (
            {"num_iterations": 1, "meta_batch_size": 2.0},
            r"meta_batch_size must be an int >= 1, got 2\.0",
        ),
        (
            {"num_iterations": 1, "meta_batch_size": 2, "eval_every": 0, "eval_tasks": []},
            "eval_every must be an int >= 1, got 0",
        ),
        (
            {"num_iterations": 1, "meta_batch_size": 2, "checkpoint_every": -3},
            "checkpoint_every must be an int >= 1, got -3",
        ),
    ],
)
def test_fit_argument_errors(device, kwargs, message):
    with pytest.raises(ValueError, match=message):
        _trainer(device).fit(**kwargs)


def test_meta_step_input_errors(device):
    trainer = _trainer(device)
    with pytest.raises(ValueError, match="needs at least one task, got an empty sequence"):
        trainer.meta_step([])
    task = SinusoidTaskSampler(seed=0).sample(1)[0]
    with pytest.raises(TypeError, match="expects a sequence of Task, got Task"):
        trainer.meta_step(task)
    with pytest.raises(TypeError, match=r"tasks\[1\] must be a meta_tasks.Task, got tuple"):
        trainer.meta_step([task, (1, 2)])
    with pytest.raises(ValueError, match="needs at least one task"):
        trainer.evaluate([])


def test_constructor_errors():
    maml = MAML(_mlp())
    optimizer = torch.optim.SGD(maml.parameters(), lr=0.1)
    sampler = SinusoidTaskSampler(seed=0)
    with pytest.raises(
        TypeError, match=r"maml must implement meta_algos\.MetaAlgorithm \(.*\).*got Sequential"
    ):
        MetaTrainer(_mlp(), optimizer, F.mse_loss, sampler)
    # Without the state-dict members a checkpoint could not be written: not a MetaAlgorithm.
    no_state = SimpleNamespace(
        training=True,
        **{
            name: getattr(maml, name)
            for name in ("parameters", "train", "meta_gradient", "adapted_predictions")
        },
        advance_iteration=maml.advance_iteration,
    )
    with pytest.raises(
        TypeError,
        match=r"maml must implement meta_algos\.MetaAlgorithm .*"
        r"state_dict.*got SimpleNamespace",
    ):
        MetaTrainer(no_state, optimizer, F.mse_loss, sampler)
    with pytest.raises(
        TypeError, match=r"meta_optimizer must be a torch\.optim\.Optimizer, got dict"
    ):
        MetaTrainer(maml, {}, F.mse_loss, sampler)
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        MetaTrainer(maml, optimizer, "mse", sampler)
    with pytest.raises(TypeError, match=r"task_sampler must have a sample\(meta_batch_size\)"):
        MetaTrainer(maml, optimizer, F.mse_loss, [Task(*[torch.zeros(1, 1)] * 4)])
    with pytest.raises(ValueError, match="grad_clip must be a positive max-norm or None, got 0"):
        MetaTrainer(maml, optimizer, F.mse_loss, sampler, grad_clip=0)
    with pytest.raises(TypeError, match=r"batched must be True or False, got 'yes' \(str\)"):
        MetaTrainer(maml, optimizer, F.mse_loss, sampler, batched="yes")
    with pytest.raises(TypeError, match=r"progress must be True or False, got 1 \(int\)"):
        MetaTrainer(maml, optimizer, F.mse_loss, sampler, progress=1)
