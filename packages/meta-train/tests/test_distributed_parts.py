"""The pieces of torchrun support that need no process group.

Checkpoints of a distributed run (every rank's RNG states, refused by another world size),
the ranks read from torchrun's environment, and each rank's share of the meta-batch. The
launch itself is tested in tests-integration/test_cli_torchrun.py.
"""

from __future__ import annotations

import copy
import itertools
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from meta_algos import MAML
from meta_tasks import SinusoidTaskSampler
from meta_train import CheckpointError, MetaTrainer
from meta_train._checkpoint import (
    RANK_RNG_SECTION,
    SECTIONS,
    capture_rng_state,
    check_trainer_state,
)
from meta_train.cli import main
from meta_train.cli._distributed import Ranks, RankShare, ranks_from_environment, share_bounds


def _trainer() -> MetaTrainer:
    torch.manual_seed(0)
    maml = MAML(torch.nn.Linear(1, 1), inner_lr=0.1)
    return MetaTrainer(
        maml,
        torch.optim.SGD(maml.parameters(), lr=0.1),
        F.mse_loss,
        SinusoidTaskSampler(k_support=2, k_query=2, seed=0),
        progress=False,
    )


def _two_rank_state(trainer: MetaTrainer) -> dict:
    """``trainer``'s state as a 2-rank run saves it: rank 1 with other RNG states."""
    state = trainer.state_dict()
    rank1 = copy.deepcopy(state["rng"])
    rank1["torch"] = torch.Generator().manual_seed(1).get_state()
    rank1["sampler"] = torch.Generator().manual_seed(2).get_state()
    state[RANK_RNG_SECTION] = [state["rng"], rank1]
    return state


def _check(trainer: MetaTrainer, state: dict, *, rank: int = 0, world_size: int = 1):
    return check_trainer_state(
        state,
        module=trainer.maml,
        optimizer=trainer.meta_optimizer,
        scheduler=None,
        generator=trainer.task_sampler.generator,
        source="checkpoint 'ck.pt'",
        rank=rank,
        world_size=world_size,
    )


def test_single_process_checkpoint_layout_is_unchanged() -> None:
    state = _trainer().state_dict()
    assert RANK_RNG_SECTION not in state
    assert tuple(state) == SECTIONS


def test_each_rank_gets_its_own_rng_states() -> None:
    trainer = _trainer()
    state = _two_rank_state(trainer)
    for rank in range(2):
        checked = _check(trainer, state, rank=rank, world_size=2)
        assert torch.equal(checked.rng["torch"], state[RANK_RNG_SECTION][rank]["torch"])
        assert torch.equal(checked.rng["sampler"], state[RANK_RNG_SECTION][rank]["sampler"])
    assert not torch.equal(state[RANK_RNG_SECTION][0]["torch"], state[RANK_RNG_SECTION][1]["torch"])


@pytest.mark.parametrize(("saved", "resuming"), [(2, 1), (1, 2), (2, 3)])
def test_another_world_size_is_refused_naming_both(saved: int, resuming: int) -> None:
    trainer = _trainer()
    state = trainer.state_dict()
    if saved > 1:
        state[RANK_RNG_SECTION] = [capture_rng_state(trainer.task_sampler.generator)] * saved
    message = (
        f"checkpoint 'ck.pt' was saved by a run of world size {saved}, but this run has world "
        f"size {resuming}; resume it with {saved} process(es)"
    )
    with pytest.raises(CheckpointError, match=re.escape(message)):
        _check(trainer, state, world_size=resuming)


def test_load_state_dict_refuses_a_two_rank_state_in_one_process_and_changes_nothing() -> None:
    trainer = _trainer()
    state = _two_rank_state(trainer)
    before = {name: value.clone() for name, value in trainer.maml.state_dict().items()}
    state["module"] = {name: value + 1 for name, value in state["module"].items()}
    with pytest.raises(CheckpointError, match="world size 2, but this run has world size 1"):
        trainer.load_state_dict(state)
    for name, value in trainer.maml.state_dict().items():
        assert torch.equal(value, before[name]), name


@pytest.mark.parametrize(
    ("by_rank", "found"),
    [({"torch": 1}, "a dict with keys"), ([], "a list of 0"), (["x"], "a list of 1")],
)
def test_malformed_rank_section_is_refused(by_rank: object, found: str) -> None:
    trainer = _trainer()
    state = trainer.state_dict()
    state[RANK_RNG_SECTION] = by_rank
    with pytest.raises(CheckpointError, match=f"'rng_by_rank' must be a list .* got {found}"):
        _check(trainer, state, world_size=2)


def test_a_broken_rank_state_is_named() -> None:
    trainer = _trainer()
    state = _two_rank_state(trainer)
    state[RANK_RNG_SECTION][1] = {"torch": torch.zeros(3, dtype=torch.uint8)}
    with pytest.raises(CheckpointError, match=r"\(rank 1 of 2\): 'rng' must be a dict with keys"):
        _check(trainer, state, world_size=2)


def test_ranks_from_torchrun_environment() -> None:
    assert ranks_from_environment({}) == Ranks(rank=0, world_size=1, local_rank=0)
    found = ranks_from_environment({"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1"})
    assert found == Ranks(rank=3, world_size=4, local_rank=1)
    assert found.distributed
    assert not found.writer
    with pytest.raises(ValueError, match=r"RANK='one' is not an integer; launch with torchrun"):
        ranks_from_environment({"WORLD_SIZE": "2", "RANK": "one"})
    with pytest.raises(ValueError, match=r"RANK=2 of WORLD_SIZE=2 .* expected 0 <= RANK"):
        ranks_from_environment({"WORLD_SIZE": "2", "RANK": "2", "LOCAL_RANK": "0"})


def test_shares_cover_the_meta_batch_like_the_trainer_splits_it() -> None:
    for total, world_size in [(4, 2), (7, 3), (5, 5), (9, 2)]:
        bounds = [share_bounds(total, Ranks(rank, world_size)) for rank in range(world_size)]
        assert bounds[0][0] == 0
        assert bounds[-1][1] == total
        assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
        sizes = [stop - start for start, stop in bounds]
        # MetaTrainer._local_batch_size: B // N, plus one for the first B % N ranks.
        assert sizes == [total // world_size + (r < total % world_size) for r in range(world_size)]


def test_rank_shares_together_are_the_one_process_meta_batch() -> None:
    single = SinusoidTaskSampler(k_support=2, k_query=2, seed=5)
    ranks = [Ranks(rank, 3) for rank in range(3)]
    shares = [RankShare(SinusoidTaskSampler(k_support=2, k_query=2, seed=5), 7, r) for r in ranks]
    for _ in range(2):  # the samplers stay in step across meta-updates
        expected = single.sample(7)
        drawn = []
        for share, rank in zip(shares, ranks, strict=True):
            start, stop = share_bounds(7, rank)
            drawn += share.sample(stop - start)
        assert len(drawn) == 7
        for got, want in zip(drawn, expected, strict=True):
            assert torch.equal(got.support_x, want.support_x)
            assert torch.equal(got.query_y, want.query_y)
    assert shares[0].generator is shares[0].sampler.generator
    with pytest.raises(ValueError, match="rank 0 of 3 was asked for 2 tasks, but its share of"):
        shares[0].sample(2)


@pytest.mark.parametrize(
    ("environment", "argv", "expected"),
    [
        (
            {"WORLD_SIZE": "4", "RANK": "0", "LOCAL_RANK": "0"},
            ["--meta-batch", "2"],
            "--meta-batch 2 is smaller than the 4 torchrun processes; expected at least one task",
        ),
        (
            {"WORLD_SIZE": "2", "RANK": "x", "LOCAL_RANK": "0"},
            [],
            "the environment variable RANK='x' is not an integer",
        ),
    ],
)
def test_cli_refuses_a_bad_launch_in_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    environment: dict[str, str],
    argv: list[str],
    expected: str,
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as excinfo:
        main(["sinusoid", "--iterations", "1", *argv, "--out", str(tmp_path / "run")])
    assert excinfo.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert expected in lines[0]
    assert not (tmp_path / "run").exists()
