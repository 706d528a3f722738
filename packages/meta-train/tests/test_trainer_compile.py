"""MetaTrainer(compile=...): handed to the algorithm, recorded, same training as eager."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MAML
from meta_tasks import SinusoidTaskSampler
from meta_train import MetaTrainer
from torch import nn

# inductor imports torch.jit.script_method, deprecated in torch 2.13 (warnings are errors)
pytestmark = pytest.mark.filterwarnings(
    "ignore:`torch.jit.script_method` is deprecated:DeprecationWarning"
)


def _maml(**kwargs: object) -> MAML:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).to(torch.float64)
    return MAML(net, inner_lr=0.1, **kwargs)  # type: ignore[arg-type]


def _trainer(maml: MAML, **kwargs: object) -> MetaTrainer:
    return MetaTrainer(
        maml,
        torch.optim.SGD(maml.parameters(), lr=0.05),
        F.mse_loss,
        SinusoidTaskSampler(k_support=4, k_query=4, seed=0, dtype=torch.float64),
        progress=False,
        batched=True,
        **kwargs,  # type: ignore[arg-type]
    )


def test_compiled_training_equals_eager_and_records_compile_time() -> None:
    eager = _trainer(_maml())
    compiled = _trainer(_maml(), compile=True)
    assert compiled.compile is True
    assert compiled.maml.compile_options == {"dynamic": False, "fullgraph": True}
    assert eager.compile is False
    assert eager.compile_seconds == 0.0
    eager.fit(3, meta_batch_size=2)
    compiled.fit(3, meta_batch_size=2)
    for ours, theirs in zip(compiled.maml.parameters(), eager.maml.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)
    assert compiled.history.meta_loss == pytest.approx(eager.history.meta_loss, rel=1e-10)
    assert compiled.compile_seconds > 0.0
    assert compiled.compile_seconds == compiled.maml.compile_seconds


def test_compile_false_keeps_the_algorithms_own_setting() -> None:
    trainer = _trainer(_maml(compile={"mode": "default"}))
    assert trainer.maml.compile_options == {"dynamic": False, "fullgraph": True, "mode": "default"}


def test_compile_options_are_checked_by_the_algorithm() -> None:
    with pytest.raises(TypeError, match="compile must be a bool or a dict"):
        _trainer(_maml(), compile="yes")


class _Delegating(nn.Module):
    """A MetaAlgorithm without set_compile (it only forwards to a MAML)."""

    def __init__(self, maml: MAML) -> None:
        super().__init__()
        self.inner = maml

    def meta_gradient(self, tasks, loss_fn, *, batched=False):
        return self.inner.meta_gradient(tasks, loss_fn, batched=batched)

    def adapted_predictions(self, task, loss_fn, *, steps=None):
        return self.inner.adapted_predictions(task, loss_fn, steps=steps)

    def advance_iteration(self) -> int:
        return self.inner.advance_iteration()


def test_compile_needs_an_algorithm_that_can_compile() -> None:
    algorithm = _Delegating(_maml())
    with pytest.raises(TypeError, match="_Delegating has none - pass compile=False"):
        _trainer(copy.deepcopy(algorithm), compile=True)  # type: ignore[arg-type]
    assert _trainer(algorithm).compile_seconds == 0.0  # type: ignore[arg-type]
