"""`lchat ask`: its arguments, the files it attaches, and the signals that stop it.

The answer itself is streamed by tui.cli.ask_stream.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tui.cli.command import EXIT_USAGE, Context
from tui.guard.safe_text import echo

THINK_CHOICES = ("on", "off", "low", "medium", "high")
"""What --think takes: tui.chat.thinking.THINK_CHOICES spelt out, so building the parser (as `lchat
--version` does) loads none of the model vocabulary; tests/test_cli_layout.py checks they agree."""

if TYPE_CHECKING:
    from tui.chat.attachments import RawFile

COMMANDS = ("ask",)
USES_SERVICES = True


def register(commands: argparse._SubParsersAction) -> None:
    """Add `lchat ask` to lchat's argument parser."""
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
        choices=THINK_CHOICES,
        metavar="LEVEL",
        help=f"how the model thinks: {', '.join(THINK_CHOICES)} (default: [chat] think, else the model's own)",
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


def run(args: argparse.Namespace, context: Context) -> int:
    """Ask one question; SIGTERM and a hang-up stop the answer as ctrl+c does (kept, interrupted)."""
    import asyncio
    import signal

    from tui.chat.attachments import AttachmentRefused
    from tui.cli.ask_stream import ask

    services = context.services
    for warning in services.warnings:
        echo(f"lchat: warning: {warning}", file=sys.stderr)
    try:
        max_bytes = services.config.chat.attachment_max_mb * 1_000_000
        files = _attachments(args, max_bytes)
    except AttachmentRefused as refused:  # A bad file named on the command line: a usage error.
        echo(f"lchat: {refused}", file=sys.stderr)
        services.close()
        return EXIT_USAGE

    stopped_by: list[signal.Signals] = []

    async def answer() -> int:
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
        return asyncio.run(answer())
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\nlchat: interrupted; the partial answer is kept in the history.", file=sys.stderr)
        return 128 + (stopped_by[0] if stopped_by else signal.SIGINT)


def _attachments(args: argparse.Namespace, max_bytes: int) -> list[RawFile]:
    """The files named with -f, then what stdin gives when it is a pipe or a file (not a
    terminal), each read whole but bounded and judged later, once the model is known;
    AttachmentRefused says why one cannot be attached."""
    from tui.chat.attachments import RawFile, read_file, refusal
    from tui.guard.bounded_files import TooLarge, read_stream

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
