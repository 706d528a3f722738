"""Run configurations as TOML: the ``config.toml`` record, ``--config`` and ``--print-config``.

A configuration is a table of a command's options keyed by their flag without the dashes
(``meta-batch = 25``), plus ``command = "sinusoid"``. Options whose value is ``None`` (unset,
derived at run time) are left out. Reading one back turns it into command-line tokens, so
every value passes the same checks as the flag itself.
"""

from __future__ import annotations

import argparse
import json
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

COMMAND_KEY = "command"
"""The key that records which ``meta-train`` sub-command a configuration belongs to."""

CONTROL_OPTIONS = frozenset({"config", "print_config", "resume", "overwrite"})
"""Destinations of options that steer this invocation and are not part of a run's settings."""

WORLD_SIZE_KEY = "world-size"
"""The key that records how many ``torchrun`` processes trained a run (``1`` without it).

It is a fact about the run, not an option: reading a configuration back checks that it is a
positive integer and sets nothing (``torchrun`` decides the number of processes, and
``--resume`` compares it with the checkpoint's).
"""


class ConfigError(ValueError):
    """A configuration file that cannot be read or holds a key or value the command refuses."""


def subparser(parser: argparse.ArgumentParser, command: str) -> argparse.ArgumentParser:
    """The parser of sub-command ``command`` of the ``meta-train`` parser."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: argparse.ArgumentParser = action.choices[command]
            return found
    raise ValueError(f"{parser.prog!r} has no sub-commands")


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """A command's recordable options keyed by their TOML key (the long flag without ``--``).

    Args:
        parser: The sub-command's parser.

    Returns:
        ``{"meta-batch": action, ...}`` in the parser's order, without ``--help`` and the
        `CONTROL_OPTIONS`.
    """
    found: dict[str, argparse.Action] = {}
    for action in parser._actions:
        if action.dest in CONTROL_OPTIONS or not action.option_strings:
            continue
        if isinstance(action, argparse._HelpAction):
            continue
        found[action.option_strings[0].removeprefix("--")] = action
    return found


def config_values(parser: argparse.ArgumentParser, args: argparse.Namespace) -> dict[str, Any]:
    """The values of ``parser``'s recordable options in ``args``, ``None`` left out.

    Args:
        parser: The sub-command's parser.
        args: Parsed arguments of that sub-command.

    Returns:
        ``{"command": args.task, "<flag>": value, ...}``; paths become strings.
    """
    values: dict[str, Any] = {COMMAND_KEY: args.task}
    for key, action in options(parser).items():
        value = getattr(args, action.dest)
        if value is not None:
            values[key] = str(value) if isinstance(value, Path) else value
    return values


def _toml_string(text: str) -> str:
    # JSON's escapes (\" \\ \n \t and \u001f-style ones for control characters) are valid TOML;
    # TOML also forbids a literal DEL, which JSON leaves alone.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} as a TOML value")


def to_toml(values: Mapping[str, Any]) -> str:
    """Write a flat table of ``str``, ``int``, ``float``, ``bool`` and list values as TOML.

    Args:
        values: Keys (bare TOML keys: letters, digits, ``-`` and ``_``) and values; ``None``
            values are left out (TOML has no null).

    Returns:
        One ``key = value`` line per entry.

    Raises:
        TypeError: If a value has another type.

    Examples:
        >>> print(to_toml({"command": "sinusoid", "meta-lr": 0.001, "batched": True}), end="")
        command = "sinusoid"
        meta-lr = 0.001
        batched = true
    """
    return "".join(
        f"{key} = {_toml_value(value)}\n" for key, value in values.items() if value is not None
    )


def read_config(path: Path) -> dict[str, Any]:
    """Read a TOML configuration file.

    Args:
        path: The file.

    Returns:
        Its top-level table.

    Raises:
        ConfigError: If the file cannot be read or is not valid TOML (naming the file).
    """
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"cannot read {str(path)!r}: {error.strerror or error}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{str(path)!r} is not valid TOML: {error}") from None


def _tokens(key: str, action: argparse.Action, value: Any, source: str) -> list[str]:
    flag = action.option_strings[0]
    if action.nargs == 0:
        if not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false, got {value!r}")
        return [flag] if value else []
    if action.nargs in ("+", "*"):
        if not isinstance(value, list) or any(isinstance(item, list | dict) for item in value):
            raise ConfigError(f"{source}: {key} must be a list of values, got {value!r}")
        return [flag, *(str(item) for item in value)] if value else []
    if isinstance(value, list | dict):
        raise ConfigError(f"{source}: {key} must be a single value, got {value!r}")
    text = _toml_value(value) if isinstance(value, bool) else str(value)
    return [f"{flag}={text}"]


def config_tokens(
    parser: argparse.ArgumentParser, command: str, table: Mapping[str, Any], source: str
) -> list[str]:
    """Command-line tokens that set the options of a configuration table.

    Args:
        parser: The sub-command's parser.
        command: The sub-command being run.
        table: The configuration (see `read_config`).
        source: How messages name the configuration, e.g. ``"--config run.toml"``.

    Returns:
        Tokens such as ``["--meta-batch=25", "--batched"]``, to be parsed before the
        command line's own (which then override them).

    Raises:
        ConfigError: If a key is no option of ``command`` (nor `WORLD_SIZE_KEY`, which sets
            nothing), ``command`` names another sub-command, or a value has the wrong shape
            (a list for a single value, a non-bool for a switch).
    """
    known = options(parser)
    tokens: list[str] = []
    for key, value in table.items():
        if key == WORLD_SIZE_KEY:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{source}: {key} must be a positive integer, got {value!r}")
            continue
        if key == COMMAND_KEY:
            if value != command:
                raise ConfigError(
                    f"{source} is a configuration of `meta-train {value}`, not of "
                    f"`meta-train {command}`"
                )
            continue
        action = known.get(key)
        if action is None:
            raise ConfigError(
                f"{source}: unknown key {key!r}; `meta-train {command}` takes "
                + ", ".join(sorted([*known, COMMAND_KEY, WORLD_SIZE_KEY]))
            )
        tokens += _tokens(key, action, value, source)
    return tokens
