"""MetaTrainer(task_chunk=...): handed to the algorithm, recorded, same training as unchunked."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MAML, ProtoNet
from meta_tasks import SinusoidTaskSampler
from meta_train import MetaTrainer
from torch import nn


def _maml() -> MAML:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)).to(torch.float64)
    return MAML(net, inner_lr=0.1)


def _trainer(maml: nn.Module, **kwargs: object) -> MetaTrainer:
    return MetaTrainer(
        maml,  # type: ignore[arg-type]
        torch.optim.SGD(maml.parameters(), lr=0.05),
        F.mse_loss,
        SinusoidTaskSampler(k_support=4, k_query=4, seed=0, dtype=torch.float64),
        progress=False,
        **kwargs,  # type: ignore[arg-type]
    )


def test_chunked_training_equals_unchunked_and_is_recorded() -> None:
    whole = _trainer(_maml(), batched=True)
    chunked = _trainer(_maml(), batched=True, task_chunk=3)
    assert chunked.task_chunk == 3
    assert chunked.maml.task_chunk == 3
    assert whole.task_chunk is None
    assert whole.maml.task_chunk is None
    whole.fit(3, meta_batch_size=5)
    chunked.fit(3, meta_batch_size=5)  # chunks of 3 and 2
    torch.testing.assert_close(
        chunked.history.meta_loss, whole.history.meta_loss, rtol=1e-10, atol=0.0
    )
    for ours, theirs in zip(chunked.maml.parameters(), whole.maml.parameters(), strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


def test_task_chunk_needs_the_batched_path() -> None:
    with pytest.raises(ValueError, match="task_chunk=2 chunks the batched path"):
        _trainer(_maml(), task_chunk=2)


def test_task_chunk_needs_an_algorithm_that_chunks() -> None:
    protonet = ProtoNet(nn.Linear(1, 4))
    with pytest.raises(TypeError, match="task_chunk=2 needs an algorithm with a task_chunk"):
        _trainer(protonet, batched=True, task_chunk=2)


def test_task_chunk_is_checked_by_the_algorithm() -> None:
    with pytest.raises(ValueError, match="task_chunk must be an int >= 1"):
        _trainer(_maml(), batched=True, task_chunk=0)
