"""The `lchat` command: the TUI by default, `ask` for one headless question.

Kept light: heavy imports (Textual, the engines) happen only once a command needs them,
so `lchat --version` answers at once.
"""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path

from tui import __version__, history_cli, models_cli
from tui.chat.thinking import ASK_CHOICES
from tui.safe_text import echo
from tui.tools import mcp_cli


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
    ask = commands.add_parser("ask", help="ask one question, stream the answer to stdout")
    ask.add_argument("prompt", help="the question")
    ask.add_argument(
        "--model", "-m", help="model name, file name or a unique part of one; BACKEND/NAME picks the backend"
    )
    ask.add_argument(
        "--backend", "-b", help="the backend to ask (a name as lchat shows it: embedded, ollama, a [[servers]] name)"
    )
    ask.add_argument("--json", action="store_true", help="print one JSON object: answer and stats (and tool calls)")
    ask.add_argument(
        "--file",
        "-f",
        action="append",
        type=Path,
        default=[],
        metavar="PATH",
        help="attach a text file or an image (repeatable)",
    )
    ask.add_argument(
        "--no-stdin",
        action="store_true",
        help="do not attach what is piped in (by default a pipe's text is attached as `stdin`)",
    )
    ask.add_argument("--system", metavar="TEXT", help="the system prompt")
    which = ask.add_mutually_exclusive_group()
    which.add_argument(
        "--continue", "-c", dest="continue_latest", action="store_true", help="continue the latest conversation"
    )
    which.add_argument("--conversation", type=int, metavar="ID", help="continue conversation ID (see `lchat list`)")
    ask.add_argument("--tools", action="store_true", help="offer the tools of the configured MCP servers")
    ask.add_argument(
        "--allow-tool",
        action="append",
        default=[],
        metavar="NAME",
        help="let one tool run without asking: server.tool, of a configured server (repeatable)",
    )
    thinking = ask.add_mutually_exclusive_group()
    thinking.add_argument(
        "--think",
        choices=ASK_CHOICES,
        metavar="LEVEL",
        help=f"how the model thinks: {', '.join(ASK_CHOICES)} (default: [chat] think, else the model's own)",
    )
    thinking.add_argument(
        "--no-think",
        dest="think",
        action="store_const",
        const="off",
        help="ask the model not to think (same as --think off)",
    )
    ask.add_argument(
        "--hide-reasoning", action="store_true", help="do not show the model's reasoning on a terminal's stderr"
    )
    stats = commands.add_parser("stats", help="print the GPU, CPU and memory figures of the stats pane")
    stats.add_argument("--json", action="store_true", help="one JSON object per snapshot")
    stats.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=0.0,
        metavar="SECONDS",
        help="repeat every SECONDS (default: [stats] interval_s) until ctrl+c",
    )
    stats.add_argument("--count", type=int, help="stop after this many snapshots")
    history_cli.add_commands(commands)
    models_cli.add_commands(commands)
    mcp_cli.add_commands(commands)
    return parser


EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
"""Every command's exit codes: done; the engine, a backend or the history failed (one line on
stderr says why); a usage or config error. Interrupted: 128 + the signal (130 for ctrl+c)."""


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
        from tui.safe_text import echo, one_line

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
    from tui.config import ConfigError, load_config
    from tui.paths import resolve_paths
    from tui.store import StoreError

    paths = resolve_paths(data_dir=args.data_dir, config_file=args.config)
    try:
        paths.create()
        from tui.logs import setup_logging

        setup_logging(paths.log_dir, tell=bool(args.command))  # The TUI: the log only.
        loaded = load_config(paths.config_file)
        if args.command == "stats":  # needs neither the history nor the engines
            return _run_stats(loaded.config, args)
        if args.command == "mcp":  # the config and the servers only
            return mcp_cli.run(args, loaded.config, paths.config_file, paths.log_dir)
        if args.command in history_cli.COMMANDS:  # the history file only, no engines
            return history_cli.run(args, paths)
        from tui.engines.registry import build_engines
        from tui.services import Services

        # The TUI's engine leaves a core for the UI; the config itself keeps "auto" (0), so
        # saving it (a theme, a favourite) never pins `lchat ask` to fewer threads.
        engines = partial(build_engines, for_tui=args.command != "ask")
        services = Services.open(paths, loaded.config, engines=engines, warnings=loaded.warnings)
    except ConfigError as error:
        echo(f"lchat: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        raise  # The reader went away (`| head`): main ends quietly.
    except (StoreError, OSError) as error:
        echo(f"lchat: {error}", file=sys.stderr)
        return 1
    if args.command == "ask":
        return _run_ask(services, args)
    if args.command in models_cli.COMMANDS:
        import asyncio

        return asyncio.run(models_cli.run(services, args))
    return _run_tui(services)


def _ask_attachments(args: argparse.Namespace, max_bytes: int) -> list:
    """The files named with -f, then what stdin gives when it is a pipe or a file (not a
    terminal), each read whole but bounded and judged later, once the model is known;
    AttachmentRefused says why one cannot be attached."""
    from tui.bounded_files import TooLarge, read_stream
    from tui.chat.attachments import RawFile, read_file, refusal

    files = [read_file(path, max_bytes=max_bytes) for path in args.file]
    if not args.no_stdin and sys.stdin is not None and not sys.stdin.isatty():

        def waiting() -> None:
            print("lchat: waiting for stdin to end (--no-stdin: do not read it)", file=sys.stderr, flush=True)

        try:
            piped = read_stream(sys.stdin.buffer, max_bytes, name="stdin", waiting=waiting)
        except TooLarge as error:
            raise refusal(error) from None
        if piped:
            files.append(RawFile("stdin", piped))
    return files


def _run_tui(services) -> int:
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


def _run_ask(services, args: argparse.Namespace) -> int:
    import asyncio
    import signal

    from tui.ask import ask
    from tui.chat.attachments import AttachmentRefused

    for warning in services.warnings:
        echo(f"lchat: warning: {warning}", file=sys.stderr)
    try:
        max_bytes = services.config.chat.attachment_max_mb * 1_000_000
        files = _ask_attachments(args, max_bytes)
    except AttachmentRefused as refused:  # A bad file named on the command line: a usage error.
        echo(f"lchat: {refused}", file=sys.stderr)
        services.close()
        return EXIT_USAGE

    stopped_by: list[signal.Signals] = []

    async def run() -> int:
        # SIGTERM and a hang-up stop the answer as Ctrl-C does: saved as interrupted.
        task, loop = asyncio.current_task(), asyncio.get_running_loop()
        assert task is not None  # A coroutine run by asyncio.run always has its task.

        def stop(signal_number: signal.Signals) -> None:
            stopped_by.append(signal_number)
            task.cancel()

        for signal_number in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signal_number, stop, signal_number)
        try:
            return await ask(
                services,
                args.prompt,
                model=args.model,
                backend=args.backend,
                as_json=args.json,
                files=files,
                max_bytes=max_bytes,
                system=args.system,
                conversation_id=args.conversation,
                continue_latest=args.continue_latest,
                think=args.think,
                show_reasoning=not args.hide_reasoning,
                tools=args.tools,
                allow=args.allow_tool,
            )
        finally:
            await services.aclose()

    try:
        return asyncio.run(run())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nlchat: interrupted; the partial answer is kept in the history.", file=sys.stderr)
        return 128 + (stopped_by[0] if stopped_by else signal.SIGINT)


def _run_stats(config, args: argparse.Namespace) -> int:
    from tui.stats import build_monitor
    from tui.stats.command import run_stats

    monitor = build_monitor(config.stats.interval_s, config.stats.history_s)
    return run_stats(monitor, config.stats, as_json=args.json, watch=args.watch, count=args.count)
