"""``meta-train --algo protonet|reptile|imaml``: Omniglot runs, evaluate, resume and errors."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import pytest
import torch
from meta_train.cli import main

SMALL1 = "images_background_small1.zip"

pytestmark = pytest.mark.usefixtures("no_plots")


def _omniglot(root: Path, out: Path, algo: str, *extra: str) -> list[str]:
    return [
        "omniglot",
        "--root",
        str(root),
        "--subset",
        "background_small1",
        "--algo",
        algo,
        "--ways",
        "3",
        "--shots",
        "1",
        "--query-shots",
        "2",
        "--iterations",
        "2",
        "--meta-batch",
        "2",
        "--eval-tasks",
        "3",
        "--eval-ways",
        "5",
        "--no-progress",
        "--out",
        str(out),
        *extra,
    ]


@pytest.mark.data
@pytest.mark.parametrize(
    ("algo", "extra"),
    [
        ("protonet", ()),
        ("metaoptnet", ()),
        ("reptile", ("--inner-steps", "2")),
        ("reptile", ("--batched",)),
        ("imaml", ("--inner-steps", "2", "--proximal-strength", "2", "--cg-steps", "3")),
    ],
    ids=["protonet", "metaoptnet", "reptile-loop", "reptile-batched", "imaml"],
)
def test_omniglot_run_evaluate_and_resume(capsys, tmp_path, omniglot_archives, algo, extra):
    root = omniglot_archives(tmp_path, SMALL1)
    out = tmp_path / "run"
    assert main(_omniglot(root, out, algo, *extra)) == 0
    printed = capsys.readouterr().out
    assert f"meta-train omniglot: {algo}, 2 iterations" in printed
    assert "3-way 1-shot Omniglot, held-out characters (3 tasks" in printed
    assert "5-way 1-shot Omniglot, held-out characters (3 tasks" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["algo"] == algo
    assert metrics["iterations"] == 2
    test = metrics["test"]
    assert 0.0 <= test["post_accuracy"]["mean"] <= 1.0
    assert math.isfinite(test["post_loss"]["mean"])
    state = torch.load(out / "checkpoint.pt", weights_only=True)["module"]
    if algo in ("protonet", "metaoptnet"):
        # the conv blocks of ConvNet4 only: no head; before adaptation nothing is known
        assert "embedding.block0.conv.weight" in state
        assert not any("head" in key for key in state)
        assert test["pre_loss"]["mean"] == pytest.approx(math.log(3), abs=1e-6)
        assert metrics["test_by_ways"]["5"]["pre_loss"]["mean"] == pytest.approx(math.log(5))
        head = {"protonet": "prototypes (no head)", "metaoptnet": "an SVM per task (no head)"}
        assert metrics["test_by_ways"]["5"]["head"] == head[algo]
    else:
        assert "module.head.weight" in state
    assert int(state["meta_iteration_count"]) == 2

    assert main(["evaluate", str(out)]) == 0
    evaluated = json.loads((out / "eval.json").read_text())
    assert evaluated["algo"] == algo
    assert evaluated["test"] == test

    # a finished run resumed loads its checkpoint (algorithm and Adam state) and only evaluates
    assert main([*_omniglot(root, out, algo, *extra), "--resume"]) == 0
    assert json.loads((out / "metrics.json").read_text())["test"] == test


@pytest.mark.parametrize("algo", ["protonet", "metaoptnet"])
def test_head_free_classifiers_are_refused_for_regression(tmp_path, one_line_error, algo):
    line = one_line_error(["sinusoid", "--algo", algo, "--out", str(tmp_path / "x")])
    assert line == (
        f"meta-train sinusoid: error: --algo {algo} classifies by a head fitted to each task's "
        "classes, but sinusoid is regression (no classes); use maml, metasgd, anil, mamlpp, "
        "reptile or imaml"
    )
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(
    ("algo", "why"),
    [
        ("protonet", "has no inner loop"),
        ("metaoptnet", "has no inner loop (it differentiates through the SVM's solution)"),
        ("reptile", "is first-order by construction"),
        ("imaml", "differentiates the inner optimum implicitly, not through the inner loop"),
    ],
)
def test_first_order_is_refused_where_it_does_not_apply(tmp_path, one_line_error, algo, why):
    argv = ["omniglot", "--root", str(tmp_path), "--algo", algo, "--first-order"]
    line = one_line_error([*argv, "--out", str(tmp_path / "x")])
    assert line.endswith(f"--first-order does not apply to --algo {algo}, which {why}")


def test_sinusoid_reptile_run(capsys, tmp_path):
    out = tmp_path / "run"
    argv = ["sinusoid", "--algo", "reptile", "--iterations", "2", "--meta-batch", "2"]
    assert main([*argv, "--inner-steps", "3", "--eval-tasks", "3", "--out", str(out)]) == 0
    assert "meta-train sinusoid: reptile, 2 iterations" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["algo"] == "reptile"
    assert math.isfinite(metrics["test"]["post_loss"]["mean"])


def test_sinusoid_imaml_run_records_its_settings(capsys, tmp_path):
    out = tmp_path / "run"
    argv = ["sinusoid", "--algo", "imaml", "--iterations", "2", "--meta-batch", "2"]
    argv += ["--proximal-strength", "0.5", "--cg-steps", "2", "--eval-tasks", "3"]
    assert main([*argv, "--out", str(out)]) == 0
    assert "meta-train sinusoid: imaml, 2 iterations" in capsys.readouterr().out
    config = tomllib.loads((out / "config.toml").read_text())
    assert config["proximal-strength"] == 0.5
    assert config["cg-steps"] == 2
    metrics = json.loads((out / "metrics.json").read_text())
    assert math.isfinite(metrics["test"]["post_loss"]["mean"])


@pytest.mark.parametrize("flag", [["--proximal-strength", "1"], ["--cg-steps", "3"]])
def test_imaml_options_are_refused_for_other_algorithms(tmp_path, one_line_error, flag):
    line = one_line_error(["sinusoid", *flag, "--out", str(tmp_path / "x")])
    assert line == (
        "meta-train sinusoid: error: --proximal-strength and --cg-steps apply to --algo imaml "
        "only, got --algo maml"
    )


def test_help_and_print_config_know_the_algorithms(capsys):
    with pytest.raises(SystemExit):
        main(["omniglot", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "maml, metasgd, anil, mamlpp, protonet, metaoptnet, reptile, imaml" in help_text
    assert "metaoptnet fits a linear multiclass SVM to the support features" in help_text
    assert "class means of the model's features (the conv blocks without the linear head" in (
        help_text
    )
    assert main(["sinusoid", "--algo", "reptile", "--print-config"]) == 0
    assert 'algo = "reptile"' in capsys.readouterr().out
