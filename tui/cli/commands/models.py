"""`lchat models`, `pull` and `rm`: every backend's models from the shell.

The parser and the actions are tui.cli.model_actions'; this gives them the group's shape.
"""

from __future__ import annotations

import argparse

from tui.cli import model_actions
from tui.cli.command import Context

COMMANDS = model_actions.COMMANDS
USES_SERVICES = True


def register(commands: argparse._SubParsersAction) -> None:
    """Add the model commands to lchat's argument parser."""
    model_actions.add_commands(commands)


def run(args: argparse.Namespace, context: Context) -> int:
    """Run one model command on the opened services (it closes them)."""
    import asyncio

    return asyncio.run(model_actions.run(context.services, args))
