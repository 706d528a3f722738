"""The commands of docs/guides/running-experiments.md parse with today's `meta-train` CLI.

Every ``$ meta-train ...`` and ``$ torchrun ... -m meta_train ...`` line of the page's console
blocks goes through ``meta_train.cli.build_parser().parse_args``, so a renamed or removed flag
breaks this test; the page's Python block runs against a freshly trained run directory.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from meta_train.cli import build_parser, main

PAGE = Path(__file__).resolve().parents[1] / "docs" / "guides" / "running-experiments.md"
CONSOLE_BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
SHELL_OPERATORS = frozenset({">", ">>", "<", "|", "||", "&&", ";", "&"})


def cli_arguments(command: str) -> list[str] | None:
    """The `meta-train` arguments of one shell command, or None if it does not run meta-train.

    Redirections and pipes end the arguments (``meta-train ... > file`` keeps ``...``).
    """
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    for index, token in enumerate(tokens):
        if token in SHELL_OPERATORS:
            tokens = tokens[:index]
            break
    if tokens[:1] == ["meta-train"]:
        return tokens[1:]
    for index in range(len(tokens) - 1):
        if tokens[index : index + 2] == ["-m", "meta_train"]:
            return tokens[index + 2 :]
    return None


def documented_commands() -> list[tuple[str, list[str], str]]:
    """``(line, arguments, output)`` for every meta-train command in the page's console blocks.

    ``output`` is the first line shown after the command ("" if none).
    """
    commands = []
    for block in CONSOLE_BLOCK.findall(PAGE.read_text()):
        lines = block.splitlines()
        for index, line in enumerate(lines):
            if line.startswith("$ "):
                arguments = cli_arguments(line[2:])
                following = lines[index + 1 : index + 2]
                output = "" if not following or following[0].startswith("$ ") else following[0]
                if arguments is not None:
                    commands.append((line, arguments, output))
    return commands


def test_cli_arguments_reads_launchers_and_stops_at_redirection():
    assert cli_arguments("meta-train sinusoid --print-config > s.toml") == [
        "sinusoid",
        "--print-config",
    ]
    assert cli_arguments("torchrun --nproc-per-node 2 -m meta_train sinusoid --batched") == [
        "sinusoid",
        "--batched",
    ]
    assert cli_arguments("cmp a b && echo identical") is None


def test_page_shows_every_subcommand():
    commands = documented_commands()
    used = {arguments[0] for _, arguments, _ in commands if arguments}
    assert used >= {"sinusoid", "omniglot", "evaluate", "download"}, used
    assert any(line.startswith("$ torchrun") for line, _, _ in commands)


@pytest.mark.parametrize(
    ("line", "arguments", "output"), documented_commands(), ids=lambda value: str(value)[:60]
)
def test_documented_command_parses(line, arguments, output, capsys):
    """A command parses, unless the page shows it rejected by the parser (``error: argument``)."""
    rejected = re.search(r"error: (argument \S+)", output)
    if rejected is not None:
        with pytest.raises(SystemExit) as stopped:
            build_parser().parse_args(arguments)
        assert stopped.value.code == 2
        assert rejected.group(1) in capsys.readouterr().err, line
        return
    try:
        build_parser().parse_args(arguments)
    except SystemExit as error:
        message = capsys.readouterr().err.strip()
        pytest.fail(f"{line!r} no longer parses: {message} ({error})")


def test_loading_snippet_runs_on_a_trained_run(tmp_path, monkeypatch, capsys):
    (snippet,) = PYTHON_BLOCK.findall(PAGE.read_text())
    monkeypatch.chdir(tmp_path)
    arguments = ["sinusoid", "--iterations", "2", "--batched", "--eval-tasks", "5"]
    assert main([*arguments, "--no-progress", "--out", "runs/demo"]) == 0
    capsys.readouterr()
    exec(compile(snippet, str(PAGE), "exec"), {"__name__": "__docs__"})
    assert capsys.readouterr().out == "<All keys matched successfully>\n"
