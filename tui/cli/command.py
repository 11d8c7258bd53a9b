"""What every command group of `lchat` is: its shape, what it is given, and the exit codes.

Kept light: `lchat --version` imports this, so the config and services are named for the type
checker only.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from tui.config import Config
    from tui.config.paths import Paths
    from tui.services import Services

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
"""Every command's exit codes: done; the engine, a backend or the history failed (one line on
stderr says why); a usage or config error. Interrupted: 128 + the signal (130 for ctrl+c)."""


@dataclass
class Context:
    """What a command runs with: the installation's paths and config, and the services when the
    group asked for them (its `USES_SERVICES`)."""

    paths: Paths
    config: Config
    opened: Services | None = None
    """The history and the engines, opened by main before `run` for a group that uses them."""

    @property
    def services(self) -> Services:
        """The opened services; asking without USES_SERVICES is a bug in the group."""
        if self.opened is None:
            raise RuntimeError("this command group did not ask for the services (USES_SERVICES)")
        return self.opened


class CommandGroup(Protocol):
    """A module under tui/cli/commands: the subcommands it adds, and how it runs one of them."""

    # Read-only members, so a module's inferred `("list", "show")` matches `tuple[str, ...]`.
    @property
    def COMMANDS(self) -> tuple[str, ...]:
        """The subcommand names it adds to `lchat`; main hands it any of them."""

    @property
    def USES_SERVICES(self) -> bool:
        """Whether main opens the history and the engines for it (their errors then exit 1 or 2)."""

    def register(self, commands: argparse._SubParsersAction) -> None:
        """Add its subcommands (with their help text) to lchat's parser."""

    def run(self, args: argparse.Namespace, context: Context) -> int:
        """Run the subcommand `args.command`; return the exit code."""
