"""The `lchat` command's layout: every module under tui/cli/commands is a command group of one shape,
each is registered, and `lchat --help` lists what each adds."""

from __future__ import annotations

import argparse
import importlib
import inspect
import os
import pkgutil
import subprocess
import sys
from types import ModuleType, SimpleNamespace

import tui.cli.commands
from tui.cli.commands import GROUPS, group_of


def command_modules() -> list[ModuleType]:
    """Every module of tui/cli/commands, found by walking the package."""
    return [
        importlib.import_module(f"tui.cli.commands.{info.name}")
        for info in pkgutil.iter_modules(tui.cli.commands.__path__)
        if not info.name.startswith("_")
    ]


def shape_problems(module: object) -> list[str]:
    """What keeps `module` from being a command group (tui.cli.command.CommandGroup)."""
    problems = []
    commands = getattr(module, "COMMANDS", None)
    if not (isinstance(commands, tuple) and commands and all(isinstance(name, str) for name in commands)):
        problems.append("COMMANDS is not a non-empty tuple of names")
    if not isinstance(getattr(module, "USES_SERVICES", None), bool):
        problems.append("USES_SERVICES is not a bool")
    for name, parameters in (("register", ["commands"]), ("run", ["args", "context"])):
        function = getattr(module, name, None)
        if not callable(function):
            problems.append(f"no {name}()")
        elif list(inspect.signature(function).parameters) != parameters:
            problems.append(f"{name}() does not take ({', '.join(parameters)})")
        elif inspect.iscoroutinefunction(function):
            problems.append(f"{name}() is async")
    return problems


def added_by(module: object) -> list[str]:
    """The subcommands a group's `register` adds to a parser of its own."""
    commands = argparse.ArgumentParser().add_subparsers(dest="command")
    module.register(commands)  # type: ignore[attr-defined]
    return list(commands.choices)


def test_every_command_module_has_the_one_shape_and_is_registered() -> None:
    modules = command_modules()
    assert {module.__name__ for module in modules} >= {
        f"tui.cli.commands.{name}" for name in ("ask", "history", "mcp", "models", "stats")
    }
    for module in modules:
        assert shape_problems(module) == [], module.__name__
        assert added_by(module) == list(module.COMMANDS), module.__name__
    assert sorted(module.__name__ for module in modules) == sorted(group.__name__ for group in GROUPS)  # type: ignore[attr-defined]
    every = [name for group in GROUPS for name in group.COMMANDS]
    assert len(every) == len(set(every)), "two groups add the same command"
    assert all(group_of(name) in GROUPS and name in group_of(name).COMMANDS for name in every)  # type: ignore[union-attr]
    assert group_of(None) is None


def test_the_shape_check_catches_a_module_that_strays() -> None:
    """The walk above can fail: a group missing `run`, or with another signature, is named."""

    def register(commands: argparse._SubParsersAction) -> None: ...

    async def run(args: argparse.Namespace, context: object) -> int:
        return 0

    stray = SimpleNamespace(COMMANDS=("odd",), USES_SERVICES="yes", register=register)
    assert shape_problems(stray) == ["USES_SERVICES is not a bool", "no run()"]
    stray = SimpleNamespace(COMMANDS=(), USES_SERVICES=False, register=lambda parser: None, run=run)
    assert shape_problems(stray) == [
        "COMMANDS is not a non-empty tuple of names",
        "register() does not take (commands)",
        "run() is async",
    ]


def test_help_lists_every_group() -> None:
    wide = {**os.environ, "COLUMNS": "200"}  # One line per command: its name, then its help.
    result = subprocess.run(
        [sys.executable, "-m", "tui", "--help"], capture_output=True, text=True, timeout=60, env=wide
    )
    assert result.returncode == 0
    listed = [line.split()[0] for line in result.stdout.splitlines() if line.startswith("    ")]
    assert listed == [name for group in GROUPS for name in group.COMMANDS]


def test_the_think_choices_of_ask_are_the_chat_s() -> None:
    from tui.chat.thinking import ASK_CHOICES
    from tui.cli.commands.ask import THINK_CHOICES

    assert THINK_CHOICES == ASK_CHOICES
