"""Distributed meta-training: 2 CPU processes (gloo) match one process on all the tasks.

The test launches this file twice as a script (``python test_distributed.py worker RANK
...``), one process per rank, rendezvousing through a ``file://`` store in ``tmp_path``.
Each rank trains on its deterministic share of fixed tasks; the final parameters, meta-losses
and (for classification) training accuracies must equal those of a single process that
trains on every task (float64, tolerance 1e-10 relative: the only difference is the order in
which per-task meta-gradients and statistics are summed).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MAML, MetaSGD
from meta_tasks import FewShotSampler, SinusoidTaskSampler
from meta_train import MetaTrainer
from torch import nn

WORLD_SIZE = 2
ITERATIONS = 3
# Scenario name -> (meta-learner class, meta-batch size, batched, classification).
SCENARIOS = {
    "even-loop": (MAML, 8, False, False),
    "uneven-batched": (MetaSGD, 7, True, False),
    "uneven-batched-classification": (MAML, 5, True, True),
}
WAYS = 3
FEATURES = 4


class WithUnusedParameter(nn.Module):
    """An MLP plus a parameter that no forward pass uses: its grad must stay None."""

    def __init__(self, inputs: int = 1, outputs: int = 1) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(inputs, 16), nn.ReLU(), nn.Linear(16, outputs))
        self.unused = nn.Parameter(torch.ones(3))

    def forward(self, x):
        return self.net(x)


class ShareSampler:
    """Serves, at every iteration, this rank's share of that iteration's fixed tasks."""

    def __init__(self, batches, rank: int, world_size: int) -> None:
        self.batches = batches
        self.rank = rank
        self.world_size = world_size
        self.calls = 0

    def sample(self, meta_batch_size: int):
        tasks = self.batches[self.calls]
        self.calls += 1
        # The same split as MetaTrainer: the first len % world ranks get one task more.
        base, extra = divmod(len(tasks), self.world_size)
        start = self.rank * base + min(self.rank, extra)
        share = tasks[start : start + base + (1 if self.rank < extra else 0)]
        assert len(share) == meta_batch_size, (len(share), meta_batch_size)
        return share


def _fixed_batches(meta_batch_size: int, classification: bool):
    if classification:
        generator = torch.Generator().manual_seed(0)
        data = [
            (torch.randn(FEATURES, generator=generator) + label, label)
            for label in [i % 6 for i in range(60)]
        ]
        sampler = FewShotSampler(data, ways=WAYS, shots=2, query_shots=3, seed=0)
    else:
        sampler = SinusoidTaskSampler(k_support=5, k_query=5, seed=0)
    return [
        [task.to(dtype=torch.float64) for task in sampler.sample(meta_batch_size)]
        for _ in range(ITERATIONS)
    ]


def _train(scenario: str, rank: int, world_size: int) -> dict[str, torch.Tensor]:
    maml_cls, meta_batch_size, batched, classification = SCENARIOS[scenario]
    torch.manual_seed(0)
    shape = (FEATURES, WAYS) if classification else (1, 1)
    net = WithUnusedParameter(*shape).to(torch.float64)
    maml = maml_cls(net, inner_lr=0.05, inner_steps=2)
    trainer = MetaTrainer(
        maml,
        # AdamW decays every parameter that has a grad, even a zero one: the unused parameter
        # only stays put if its grad stays None.
        torch.optim.AdamW(maml.parameters(), lr=1e-2, weight_decay=0.1),
        F.cross_entropy if classification else F.mse_loss,
        ShareSampler(_fixed_batches(meta_batch_size, classification), rank, world_size),
        batched=batched,
        progress=False,
    )
    history = trainer.fit(ITERATIONS, meta_batch_size)
    state = {name: value.detach().clone() for name, value in maml.state_dict().items()}
    state["meta_loss"] = torch.tensor(history.meta_loss, dtype=torch.float64)
    state["meta_accuracy"] = torch.tensor(history.meta_accuracy, dtype=torch.float64)
    return state


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    dist.init_process_group(
        "gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD_SIZE
    )
    for scenario in SCENARIOS:
        state = _train(scenario, rank, WORLD_SIZE)
        torch.save(state, Path(out_dir) / f"{scenario}-rank{rank}.pt")
    # Fewer tasks than ranks is refused before anything is sampled or communicated.
    maml = MAML(nn.Linear(1, 1))
    trainer = MetaTrainer(
        maml, torch.optim.SGD(maml.parameters(), lr=0.1), F.mse_loss, SinusoidTaskSampler(seed=0)
    )
    with pytest.raises(
        ValueError, match="meta_batch_size=1 is smaller than the distributed world size 2"
    ):
        trainer.fit(1, 1)
    # Leave together: a rank that tears gloo down while its peer still talks to it can make
    # the peer abort ("terminate called without an active exception").
    dist.barrier()
    dist.destroy_process_group()
    # Even so, once (a CI rehearsal on a loaded machine) rank 0 died with that message and no
    # Python traceback, which points at C++ destructors run at interpreter exit. Everything
    # this worker owes is on disk by now, so it leaves without running them.
    sys.stdout.flush()
    os._exit(0)


def test_two_gloo_ranks_match_one_process(tmp_path):
    init_file = tmp_path / "rendezvous"
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "worker", str(rank), str(init_file), str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for rank in range(WORLD_SIZE)
    ]
    outputs = []
    for process in processes:
        try:
            output, _ = process.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            for other in processes:
                other.kill()
            raise
        outputs.append(output)
    for rank, process in enumerate(processes):
        assert process.returncode == 0, f"rank {rank} failed:\n{outputs[rank]}"

    for scenario in SCENARIOS:
        single = _train(scenario, rank=0, world_size=1)
        for rank in range(WORLD_SIZE):
            distributed = torch.load(tmp_path / f"{scenario}-rank{rank}.pt", weights_only=True)
            assert distributed.keys() == single.keys()
            for name, value in single.items():
                torch.testing.assert_close(
                    distributed[name],
                    value,
                    rtol=1e-10,
                    atol=1e-12,
                    msg=f"{scenario}, rank {rank}, {name}",
                )
        # The run did move the used parameters (so the comparison is not vacuous), and the
        # unused one kept grad None on every rank, so Adam left it alone.
        torch.manual_seed(0)
        classification = SCENARIOS[scenario][3]
        initial = WithUnusedParameter(*((FEATURES, WAYS) if classification else (1, 1)))
        initial = initial.to(torch.float64)
        assert not torch.allclose(single["module.net.0.weight"], initial.net[0].weight)
        assert torch.equal(single["module.unused"], initial.unused)
        # Training accuracy is reduced across ranks like the loss: one value per meta-update
        # for class labels, none for regression.
        assert single["meta_accuracy"].shape == ((ITERATIONS,) if classification else (0,))


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "worker":
        _worker(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    else:
        raise SystemExit(f"usage: {sys.argv[0]} worker RANK INIT_FILE OUT_DIR")
