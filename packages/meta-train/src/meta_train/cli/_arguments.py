"""Where a run's settings come from: defaults, ``--config``, the command line, ``--resume``.

Defaults are overridden by ``--config FILE.toml``, which the command line overrides in turn.
With ``--resume`` the settings are the run directory's ``config.toml``; options given again
must have the values recorded there.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._config import (
    CONTROL_OPTIONS,
    ConfigError,
    config_tokens,
    options,
    read_config,
    subparser,
)
from ._rundir import CHECKPOINT_NAME, CONFIG_NAME, default_out, fail

#: Options that may differ from the recorded configuration when resuming. ``on_nonfinite``
#: changes nothing while updates stay finite, so a run stopped by a NaN may go on skipping.
_NOT_COMPARED = CONTROL_OPTIONS | {"task", "out", "no_progress", "on_nonfinite"}


def _read_tokens(
    parser: argparse.ArgumentParser, command: str, path: Path, source: str
) -> list[str]:
    try:
        return config_tokens(parser, command, read_config(path), source)
    except ConfigError as error:
        fail(parser, str(error))


def _given(build: Callable[[], argparse.ArgumentParser], argv: list[str]) -> dict[str, Any]:
    """The options ``argv`` sets itself (no defaults), by destination."""
    parser = build()
    for action in subparser(parser, argv[0])._actions:
        action.default = argparse.SUPPRESS
    return vars(parser.parse_args(argv))


def _shown(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, list):
        return " ".join(str(item) for item in value) or "none"
    return str(value)


def _same(given: Any, saved: Any) -> bool:
    if isinstance(given, Path) and isinstance(saved, Path):
        return given.resolve() == saved.resolve()
    return bool(given == saved)


def _resumed(
    parser: argparse.ArgumentParser,
    command_parser: argparse.ArgumentParser,
    args: argparse.Namespace,
    given: dict[str, Any],
) -> argparse.Namespace:
    """The run directory's recorded arguments, after checking ``given`` against them."""
    out: Path = args.out if args.out is not None else default_out(args.task, args.algo)
    config_path = out / CONFIG_NAME
    for needed in (out / CHECKPOINT_NAME, config_path):
        if not needed.is_file():
            fail(
                command_parser,
                f"--resume: {str(needed)!r} does not exist, so there is no run to continue in "
                f"--out {str(out)!r}; start one without --resume",
            )
    source = str(config_path)
    saved = parser.parse_args(
        [args.task, *_read_tokens(command_parser, args.task, config_path, source)]
    )
    flags = {action.dest: flag for flag, action in options(command_parser).items()}
    for dest, value in given.items():
        if dest not in _NOT_COMPARED and not _same(value, getattr(saved, dest)):
            fail(
                command_parser,
                f"--resume: --{flags[dest]} {_shown(value)} differs from the run's "
                f"{_shown(getattr(saved, dest))} ({source}); leave --{flags[dest]} out to "
                "continue the run, or start a new one (another --out, or --overwrite)",
            )
    for dest, value in given.items():
        setattr(saved, dest, value)
    saved.out = out
    return saved


def parse_arguments(
    build: Callable[[], argparse.ArgumentParser], argv: Sequence[str]
) -> tuple[argparse.Namespace, argparse.ArgumentParser]:
    """Parse ``argv`` and apply ``--config`` and ``--resume``.

    Args:
        build: Builds the ``meta-train`` parser.
        argv: The arguments without the program name.

    Returns:
        The resolved arguments and the top-level parser.
    """
    parser = build()
    args = parser.parse_args(argv)
    command_parser = subparser(parser, args.task)
    own = list(argv[1:])  # argv[0] is the sub-command: the top level has no other options
    from_config: list[str] = []
    if args.config is not None:
        source = f"--config {str(args.config)!r}"
        from_config = _read_tokens(command_parser, args.task, args.config, source)
        args = parser.parse_args([args.task, *from_config, *own])
    if args.resume:
        given = _given(build, [args.task, *from_config, *own])
        args = _resumed(parser, command_parser, args, given)
    return args, parser
