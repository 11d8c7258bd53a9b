"""The `lchat` command: the TUI by default, or one of the command groups in tui/cli/commands.

This parses the arguments, sets up the paths, log and config, opens the services a group asks
for, runs it, and ends as a pipeline expects. Kept light: heavy imports (Textual, the engines)
happen only once a command needs them, so `lchat --version` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from tui import __version__
from tui.cli.command import EXIT_FAILED, EXIT_OK, EXIT_USAGE, Context
from tui.cli.commands import GROUPS, group_of
from tui.guard.safe_text import echo

if TYPE_CHECKING:
    from tui.services import Services

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lchat", description="Chat with LLMs running on your own hardware.")
    parser.add_argument("--version", action="version", version=f"lchat {__version__}")
    parser.add_argument(
        "--data-dir", type=Path, help="history and models folder (default: platform data dir, or $LCHAT_HOME/data)"
    )
    parser.add_argument(
        "--config", type=Path, help="config file (default: platform config dir, or $LCHAT_HOME/config.toml)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for group in GROUPS:
        group.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        code = _main(argv)
        sys.stdout.flush()  # A reader that left shows here, not in Python's own flush at exit.
        return code
    except BrokenPipeError:
        if not _output_reader_gone():
            print("lchat: a pipe lchat writes to was closed (broken pipe)", file=sys.stderr)
            return EXIT_FAILED
        return _end_quietly()
    except KeyboardInterrupt:
        print("\nlchat: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - a bug shows as one line, never as a traceback
        from tui.guard.safe_text import echo, one_line

        echo(f"lchat: unexpected error: {type(error).__name__}: {one_line(str(error), 300)}", file=sys.stderr)
        return EXIT_FAILED


def _output_reader_gone() -> bool:
    """Whether stdout's (or stderr's) reader has gone away, as `lchat list | head -1` does; a broken
    pipe to something else (a tool server, say) is an error to report, not the user's choice."""
    import select

    for stream in (sys.stdout, sys.stderr):
        try:
            poller = select.poll()
            poller.register(stream.fileno(), select.POLLOUT)
            if any(event & select.POLLERR for _, event in poller.poll(0)):
                return True
        except (AttributeError, OSError, ValueError):
            return True  # No way to tell (a closed or odd stream): the reader is the likely one.
    return False


def _end_quietly() -> int:
    """End as a pipeline expects when the reader stops reading: no line, exit 0 (as `lchat stats
    --watch | head` always has). Python would flush stdout again at exit and complain, so stdout
    now points at /dev/null (the Python docs' note on SIGPIPE)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):
        pass
    return EXIT_OK


def _main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from tui.config import ConfigError
    from tui.config.paths import resolve_paths
    from tui.config.read import load_config
    from tui.store import StoreError

    group = group_of(args.command)  # None: the TUI
    paths = resolve_paths(data_dir=args.data_dir, config_file=args.config)
    try:
        paths.create()
        from tui.cli.logs import setup_logging

        setup_logging(paths.log_dir, tell=bool(args.command))  # The TUI: the log only.
        loaded = load_config(paths.config_file)
        context = Context(paths, loaded.config)
        if group is not None and not group.USES_SERVICES:  # the config, or the history file: no engines
            return group.run(args, context)
        from tui.engines.registry import build_engines
        from tui.services import Services

        # The TUI's engine leaves a core for the UI; the config itself keeps "auto" (0), so
        # saving it (a theme, a favourite) never pins `lchat ask` to fewer threads.
        engines = partial(build_engines, for_tui=args.command != "ask")
        context.opened = Services.open(paths, loaded.config, engines=engines, warnings=loaded.warnings)
    except ConfigError as error:
        echo(f"lchat: {error}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        raise  # The reader went away (`| head`): main ends quietly.
    except (StoreError, OSError) as error:
        echo(f"lchat: {error}", file=sys.stderr)
        return EXIT_FAILED
    if group is not None:
        return group.run(args, context)
    return _run_tui(context.services)


def _run_tui(services: Services) -> int:
    import os

    # Textual reads its frame cap when it is imported; an explicit TEXTUAL_FPS still wins.
    os.environ.setdefault("TEXTUAL_FPS", str(services.config.ui.max_fps))
    from tui.ui.app import LchatApp

    app = LchatApp(services)
    try:
        app.run(mouse=services.config.ui.mouse)
    finally:
        services.close()  # Quitting closed it already; this is for an app that died.
    return app.return_code or 0  # 143 when SIGTERM quit it; 1 when it died.
