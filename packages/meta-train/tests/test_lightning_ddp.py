"""Two CPU processes under Lightning's DDPStrategy make the meta-updates of one process."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("lightning")

from meta_algos import MAML
from meta_nn import MLP
from meta_tasks import SinusoidTaskSampler
from meta_train.lightning import MetaLightningModule, TaskStream, rank_share

META_BATCH, EPOCH_LENGTH, SEED = 5, 3, 7  # 5 tasks: rank 0 takes 3, rank 1 takes 2

# Lightning's "ddp" launcher starts rank 1 by running this same script again.
SCRIPT = textwrap.dedent(
    f"""
    import sys

    import lightning as L
    import torch
    import torch.nn.functional as F
    from meta_algos import MAML
    from meta_nn import MLP
    from meta_tasks import SinusoidTaskSampler
    from meta_train.lightning import MetaDataModule, MetaLightningModule

    torch.manual_seed(0)
    algorithm = MAML(MLP([1, 40, 40, 1]), inner_lr=0.01)
    module = MetaLightningModule(algorithm, F.mse_loss, meta_lr=0.01)
    data = MetaDataModule(
        SinusoidTaskSampler(), meta_batch_size={META_BATCH}, epoch_length={EPOCH_LENGTH},
        seed={SEED},
    )
    trainer = L.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )
    trainer.fit(module, data)
    parameters = [param.detach() for param in module.algorithm.parameters()]
    torch.save(parameters, sys.argv[1] + f".rank{{trainer.global_rank}}")
    """
)


@pytest.mark.slow
def test_two_ddp_processes_equal_one_process_over_the_same_tasks(tmp_path):
    script = tmp_path / "ddp_fit.py"
    script.write_text(SCRIPT)
    out = tmp_path / "parameters.pt"
    result = subprocess.run(
        [sys.executable, str(script), str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    by_rank = [torch.load(f"{out}.rank{rank}", weights_only=True) for rank in (0, 1)]

    torch.manual_seed(0)
    algorithm = MAML(MLP([1, 40, 40, 1]), inner_lr=0.01)
    native = MetaLightningModule(algorithm, F.mse_loss, meta_lr=0.01).engine
    initial = [param.detach().clone() for param in algorithm.parameters()]
    streams = [
        TaskStream(
            SinusoidTaskSampler(),
            tasks_per_batch=rank_share(META_BATCH, rank, 2),
            epoch_length=EPOCH_LENGTH,
            seed=SEED,
            rank=rank,
        )
        for rank in (0, 1)
    ]
    for index in range(EPOCH_LENGTH):
        native.meta_step([task for stream in streams for task in stream.meta_batch(index)])
    expected = [param.detach() for param in native.maml.parameters()]
    for parameters in by_rank:
        for got, want in zip(parameters, expected, strict=True):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    assert not any(torch.equal(a, b) for a, b in zip(initial, expected, strict=True))
