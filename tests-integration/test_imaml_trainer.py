"""iMAML driven by ``meta_train.MetaTrainer`` (meta-algos' own tests do not install the trainer)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from meta_algos import IMAML
from meta_tasks import SinusoidTaskSampler
from meta_train import MetaTrainer
from torch import nn


def test_meta_trainer_drives_it_on_sinusoid_and_the_loss_goes_down() -> None:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(1, 40), nn.ReLU(), nn.Linear(40, 40), nn.ReLU(), nn.Linear(40, 1))
    imaml = IMAML(net, inner_lr=0.05, inner_steps=5, lam=0.5, cg_steps=3)
    trainer = MetaTrainer(
        imaml,
        torch.optim.Adam(imaml.parameters(), 1e-2),
        F.mse_loss,
        SinusoidTaskSampler(seed=0),
        batched=True,
        progress=False,
    )
    evaluation_tasks = SinusoidTaskSampler(seed=1).sample(20)
    before = trainer.evaluate(evaluation_tasks)
    history = trainer.fit(40, meta_batch_size=4)
    after = trainer.evaluate(evaluation_tasks)
    assert trainer.iteration == 40
    assert imaml.meta_iteration == 40
    # measured: held-out post-adaptation loss 4.55 -> 4.10, meta-loss sums 38.6 -> 31.6
    assert after < 0.95 * before
    assert sum(history.meta_loss[-10:]) < sum(history.meta_loss[:10])
