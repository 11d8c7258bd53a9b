"""lchat's command groups, one module each, all of one shape (tui.cli.command.CommandGroup).

A new command goes in a module here, with `COMMANDS`, `USES_SERVICES`, `register` and `run`, and
in GROUPS below; tests/test_cli_layout.py checks both. Each imports only what its parser needs,
so `lchat --version` stays instant.
"""

from __future__ import annotations

from tui.cli.command import CommandGroup
from tui.cli.commands import ask, history, mcp, models, stats

GROUPS: tuple[CommandGroup, ...] = (ask, stats, history, models, mcp)
"""In the order `lchat --help` lists them."""


def group_of(command: str | None) -> CommandGroup | None:
    """The group that runs `command`; None for no command (the TUI)."""
    return next((group for group in GROUPS if command in group.COMMANDS), None)
