"""Two CPU processes under Lightning's DDPStrategy make the meta-updates of one process."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

pytest.importorskip("lightning")

from meta_train.lightning import MetaLightningModule, TaskStream, rank_share

META_BATCH, EPOCH_LENGTH, SEED = 5, 2, 7  # 5 tasks: rank 0 takes 3, rank 1 takes 2
REPO_ROOT = Path(__file__).resolve().parents[3]
OMNIGLOT_ROOT = Path(
    os.environ.get("META_OMNIGLOT_ROOT", REPO_ROOT.parent / "shared" / "data" / "omniglot")
)

# The workloads, built alike by the 2-process script and by the 1-process reference below.
WORKLOADS = textwrap.dedent(
    """
    import torch
    import torch.nn.functional as F
    from meta_algos import MAML
    from meta_nn import MLP, ConvNet4
    from meta_tasks import (
        OMNIGLOT_IMAGE_SIZE, FewShotSampler, Omniglot, SinusoidTaskSampler,
    )

    def build(workload, root):
        torch.manual_seed(0)
        if workload == "sinusoid":
            algorithm = MAML(MLP([1, 40, 40, 1]), inner_lr=0.01)
            return algorithm, F.mse_loss, SinusoidTaskSampler
        dataset = Omniglot(root, "background_small1", image_size=OMNIGLOT_IMAGE_SIZE)
        model = ConvNet4(5, hidden_size=8, image_size=OMNIGLOT_IMAGE_SIZE)
        algorithm = MAML(model, inner_lr=0.4)
        return algorithm, F.cross_entropy, lambda: FewShotSampler(dataset, 5, 1, 1)
    """
)

# Lightning's "ddp" launcher starts rank 1 by running this same script again.
SCRIPT = WORKLOADS + textwrap.dedent(
    f"""
    import sys

    import lightning as L
    from meta_train.lightning import MetaDataModule, MetaLightningModule

    workload, root, out = sys.argv[1:]
    algorithm, loss_fn, sampler = build(workload, root)
    module = MetaLightningModule(algorithm, loss_fn, meta_lr=0.01)
    data = MetaDataModule(
        sampler(), meta_batch_size={META_BATCH}, epoch_length={EPOCH_LENGTH}, seed={SEED}
    )

    class LastMetaGradient(L.Callback):
        # Adam's step hides a wrong scale of the meta-gradient, so it is compared as well.
        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
            named = module.algorithm.named_parameters()
            self.grads = {{name: param.grad.clone() for name, param in named}}

    last = LastMetaGradient()
    trainer = L.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        callbacks=[last],
    )
    trainer.fit(module, data)
    named = module.algorithm.named_parameters()
    saved = {{name: (param.detach(), last.grads[name]) for name, param in named}}
    torch.save(saved, out + f".rank{{trainer.global_rank}}")
    """
)


def _one_process(workload: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Parameters and last meta-gradient after the same meta-updates in one process."""
    namespace: dict[str, object] = {}
    exec(WORKLOADS, namespace)  # the script's own workload code, not a copy
    algorithm, loss_fn, sampler = namespace["build"](workload, str(OMNIGLOT_ROOT))
    native = MetaLightningModule(algorithm, loss_fn, meta_lr=0.01).engine
    streams = [
        TaskStream(
            sampler(),
            tasks_per_batch=rank_share(META_BATCH, rank, 2),
            epoch_length=EPOCH_LENGTH,
            seed=SEED,
            rank=rank,
        )
        for rank in (0, 1)
    ]
    initial = {name: param.detach().clone() for name, param in algorithm.named_parameters()}
    for index in range(EPOCH_LENGTH):
        native.meta_step([task for stream in streams for task in stream.meta_batch(index)])
    final = {name: (p.detach(), p.grad) for name, p in algorithm.named_parameters()}
    assert all(not torch.equal(initial[name], final[name][0]) for name in final)
    return final


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["sinusoid", pytest.param("omniglot", marks=pytest.mark.data)])
def test_two_ddp_processes_equal_one_process_over_the_same_tasks(tmp_path, workload):
    if workload == "omniglot":
        if not (OMNIGLOT_ROOT / "images_background_small1.zip").is_file():
            pytest.skip(f"Omniglot archives not found in {OMNIGLOT_ROOT} (set META_OMNIGLOT_ROOT)")
        pytest.importorskip("PIL", reason="Omniglot decoding needs Pillow (meta-tasks[images])")
    script = tmp_path / "ddp_fit.py"
    script.write_text(SCRIPT)
    out = tmp_path / "parameters.pt"
    result = subprocess.run(
        [sys.executable, str(script), workload, str(OMNIGLOT_ROOT), str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    expected = _one_process(workload)
    for rank in (0, 1):
        got = torch.load(f"{out}.rank{rank}", weights_only=True)
        assert set(got) == set(expected)
        for name, (want, want_grad) in expected.items():
            if name.endswith("conv.bias"):
                # A convolution's bias before BatchNorm has a meta-gradient of exactly 0 in
                # theory: both runs hold rounding noise there, which Adam's normalised step
                # turns into moves of +-meta_lr in either direction.
                assert max(got[name][1].abs().max(), want_grad.abs().max()) < 1e-4
                continue
            # float32 sums over two ranks' tasks and over all of them differ in rounding: on
            # the conv net measured up to 4.4e-6 of a tensor's largest meta-gradient entry
            scale = float(want_grad.abs().max())
            torch.testing.assert_close(got[name][1], want_grad, rtol=1e-5, atol=1e-5 * scale)
            torch.testing.assert_close(got[name][0], want, rtol=1e-5, atol=1e-6)
