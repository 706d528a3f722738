"""``meta-train --compile``: a compiled run equals the eager one, records its compile time."""

from __future__ import annotations

import json
import tomllib

import pytest
import torch
from meta_train.cli import main

pytestmark = pytest.mark.usefixtures("no_plots")

_RUN = ["--iterations", "2", "--meta-batch", "3", "--eval-tasks", "4", "--no-progress"]


def _state(out):
    return torch.load(out / "checkpoint.pt", weights_only=True)["module"]


def test_compiled_sinusoid_run_equals_the_eager_run(capsys, tmp_path):
    eager, compiled = tmp_path / "eager", tmp_path / "compiled"
    assert main(["sinusoid", "--batched", *_RUN, "--out", str(eager)]) == 0
    assert main(["sinusoid", "--batched", *_RUN, "--compile", "--out", str(compiled)]) == 0
    printed = capsys.readouterr().out
    assert "of which compiling the meta-gradient took" in printed
    assert tomllib.loads((compiled / "config.toml").read_text())["compile"] is True
    metrics = json.loads((compiled / "metrics.json").read_text())
    assert metrics["compile_seconds"] > 0
    assert json.loads((eager / "metrics.json").read_text())["compile_seconds"] == 0
    expected, got = _state(eager), _state(compiled)
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        # float32: compiled kernels may sum in another order
        torch.testing.assert_close(got[key], value, rtol=1e-4, atol=1e-6, msg=key)


@pytest.mark.parametrize("algo", ["protonet", "reptile", "imaml"])
def test_compile_is_refused_where_the_meta_gradient_is_not_compiled(tmp_path, one_line_error, algo):
    command = "sinusoid" if algo != "protonet" else "omniglot"
    argv = [command, "--algo", algo, "--compile", "--out", str(tmp_path / "x")]
    if command == "omniglot":
        argv += ["--root", str(tmp_path)]
    line = one_line_error(argv)
    assert line.endswith(
        f"--compile applies to maml, metasgd, anil and mamlpp, got --algo {algo} "
        "(its meta-gradient is not one pure function yet)"
    )
