"""``meta-train --task-chunk`` and ``--checkpoint-inner``: same runs, recorded, refused."""

from __future__ import annotations

import tomllib

import pytest
import torch
from meta_train.cli import main

pytestmark = pytest.mark.usefixtures("no_plots")

_RUN = ["--iterations", "2", "--meta-batch", "3", "--eval-tasks", "4", "--no-progress"]


def _state(out):
    return torch.load(out / "checkpoint.pt", weights_only=True)["module"]


def _assert_same_run(got, expected) -> None:
    expected_state, got_state = _state(expected), _state(got)
    assert expected_state.keys() == got_state.keys()
    for key, value in expected_state.items():
        # float32: chunks and recomputed steps may round differently
        torch.testing.assert_close(got_state[key], value, rtol=1e-5, atol=1e-6, msg=key)


@pytest.mark.parametrize(
    ("plain", "option", "key", "recorded"),
    [
        (["--batched"], ["--task-chunk", "2"], "task-chunk", 2),
        (["--inner-steps", "2"], ["--checkpoint-inner"], "checkpoint-inner", True),
    ],
    ids=["task-chunk", "checkpoint-inner"],
)
def test_memory_options_give_the_same_run_and_are_recorded(
    tmp_path, plain, option, key, recorded
) -> None:
    reference, run = tmp_path / "reference", tmp_path / "run"
    assert main(["sinusoid", *plain, *_RUN, "--out", str(reference)]) == 0
    assert main(["sinusoid", *plain, *option, *_RUN, "--out", str(run)]) == 0
    assert tomllib.loads((run / "config.toml").read_text())[key] == recorded
    # off: a switch is recorded as false, an unset number is left out
    assert tomllib.loads((reference / "config.toml").read_text()).get(key) in (None, False)
    _assert_same_run(run, reference)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--task-chunk", "2"], "--task-chunk applies to --batched only"),
        (
            ["--batched", "--task-chunk", "2", "--algo", "reptile"],
            "--task-chunk apply to maml, metasgd, anil and mamlpp, got --algo reptile",
        ),
        (
            ["--checkpoint-inner", "--algo", "imaml"],
            "--checkpoint-inner apply to maml, metasgd, anil and mamlpp, got --algo imaml",
        ),
        (
            ["--checkpoint-inner", "--batched"],
            "--checkpoint-inner applies to the per-task loop only, got --batched",
        ),
        (
            ["--checkpoint-inner", "--compile"],
            "--checkpoint-inner applies to the per-task loop only, got --compile",
        ),
        (["--batched", "--task-chunk", "0"], "expected a positive integer (>= 1), got 0"),
    ],
)
def test_memory_options_are_refused_where_they_do_not_apply(
    tmp_path, one_line_error, argv, message
) -> None:
    line = one_line_error(["sinusoid", *argv, "--out", str(tmp_path / "x")])
    assert message in line
