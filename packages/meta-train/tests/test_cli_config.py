"""Configurations of the meta-train command line: --print-config, --config and config.toml."""

from __future__ import annotations

import sys
import tomllib
from pathlib import Path

import pytest
from meta_train.cli import build_parser, main
from meta_train.cli._config import options, subparser, to_toml


def _printed(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    assert main([*argv, "--print-config"]) == 0
    return capsys.readouterr().out


def test_print_config_prints_the_defaults_that_config_reads_back(capsys, tmp_path):
    printed = _printed(capsys, ["sinusoid"])
    table = tomllib.loads(printed)
    assert table["command"] == "sinusoid"
    assert table["iterations"] == 3000
    assert table["meta-batch"] == 25
    assert table["inner-lr"] == 0.01
    assert table["batched"] is False
    assert "eval-steps" not in table  # unset: derived from --inner-steps at run time
    defaults = tmp_path / "defaults.toml"
    defaults.write_text(printed)
    assert _printed(capsys, ["sinusoid", "--config", str(defaults)]) == printed


def test_command_line_overrides_the_config_file(capsys, tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('iterations = 7\nmeta-batch = 2\nbatched = true\nalgo = "anil"\n')
    table = tomllib.loads(
        _printed(capsys, ["sinusoid", "--config", str(config), "--iterations", "3"])
    )
    assert table["iterations"] == 3
    assert table["meta-batch"] == 2
    assert table["batched"] is True
    assert table["algo"] == "anil"


def test_omniglot_config_may_name_the_root(capsys, tmp_path):
    table = tomllib.loads(_printed(capsys, ["omniglot"]))
    assert "root" not in table
    assert table["ways"] == 5
    config = tmp_path / "omniglot.toml"
    config.write_text(f'root = "{tmp_path}"\neval-ways = [5, 20]\n')
    table = tomllib.loads(_printed(capsys, ["omniglot", "--config", str(config)]))
    assert table["root"] == str(tmp_path)
    assert table["eval-ways"] == [5, 20]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("learning-rate = 0.1\n", "unknown key 'learning-rate'; `meta-train sinusoid` takes"),
        # the recorded-only keys are named among those it takes
        (
            "learning-rate = 0.1\n",
            "takes algo, batched, cg-steps, checkpoint-every, checkpoint-inner, command,",
        ),
        ("learning-rate = 0.1\n", ", command, compile, device, devices,"),
        ("learning-rate = 0.1\n", ", shots, strategy, task-chunk, world-size"),
        ("batched = 1\n", "batched must be true or false, got 1"),
        ("eval-tasks = [1, 2]\n", "eval-tasks must be a single value, got [1, 2]"),
        ('command = "omniglot"\n', "is a configuration of `meta-train omniglot`, not of"),
        ("iterations = \n", "is not valid TOML"),
        ("world-size = 0\n", "world-size must be a positive integer, got 0"),
        ('world-size = "2"\n', "world-size must be a positive integer, got '2'"),
    ],
)
def test_bad_config_files_are_refused_in_one_line(tmp_path, content, message, one_line_error):
    config = tmp_path / "bad.toml"
    config.write_text(content)
    line = one_line_error(["sinusoid", "--config", str(config), "--out", str(tmp_path / "x")])
    assert message in line
    assert str(config) in line
    assert not (tmp_path / "x").exists()


def test_missing_config_file_is_refused(tmp_path, one_line_error):
    line = one_line_error(["sinusoid", "--config", str(tmp_path / "none.toml")])
    assert f"cannot read {str(tmp_path / 'none.toml')!r}" in line


def test_config_values_pass_the_option_checks(capsys, tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text("meta-batch = 0\n")
    with pytest.raises(SystemExit) as excinfo:
        main(["sinusoid", "--config", str(config)])
    assert excinfo.value.code == 2
    assert "--meta-batch: expected a positive integer (>= 1), got 0" in capsys.readouterr().err


def test_run_directory_records_every_option(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    out = tmp_path / "run"
    argv = ["sinusoid", "--iterations", "1", "--meta-batch", "2", "--eval-tasks", "2"]
    assert main([*argv, "--grad-clip", "1.5", "--out", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    recorded = (out / "config.toml").read_text()
    table = tomllib.loads(recorded)
    keys = set(options(subparser(build_parser(), "sinusoid")))
    unset = {"eval-every", "checkpoint-every", "msl-iterations", "first-order-iterations"}
    unset |= {"proximal-strength", "cg-steps"}  # --algo imaml only
    unset |= {"devices", "strategy", "precision"}  # --engine lightning only
    unset |= {"task-chunk"}  # --batched only
    assert set(table) == (keys - unset) | {"command", "world-size"}
    assert table["grad-clip"] == 1.5
    assert table["eval-steps"] == 1
    assert table["out"] == str(out)
    assert table["world-size"] == 1  # no torchrun: one process
    assert not list(out.glob(".*.tmp"))
    # Read back as --config, the record sets every option and world-size sets nothing.
    options_only = recorded.replace("world-size = 1\n", "")
    assert _printed(capsys, ["sinusoid", "--config", str(out / "config.toml")]) == options_only


def test_toml_writer_round_trips_awkward_values():
    values = {
        "path": 'a "quoted" \\ path\twith\ncontrol \x7f and ünïcode \U0001f600',
        "small": 1e-05,
        "whole": 2.0,
        "big": 10**18,
        "flag": False,
        "ways": [5, 20],
        "empty": [],
    }
    assert tomllib.loads(to_toml(values)) == values
    assert to_toml({"unset": None}) == ""
    with pytest.raises(TypeError, match=r"cannot write \w*Path"):
        to_toml({"out": Path("x")})
