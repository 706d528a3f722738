"""The ``meta-train`` sub-commands that meta-train, by name (``evaluate`` rebuilds their runs)."""

from __future__ import annotations

from . import _omniglot, _sinusoid
from ._training import Command

TRAINING_COMMANDS: dict[str, Command] = {
    command.name: command for command in (_sinusoid.COMMAND, _omniglot.COMMAND)
}
"""``{"sinusoid": ..., "omniglot": ...}``: each command's parser, checks and setup."""
