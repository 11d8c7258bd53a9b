"""`lchat list`, `show`, `search`, `export`, `import`, `backup` and `restore`: the history from the shell.

These open the history file directly and never start an engine. Each returns an exit code:
0 done, 1 failed (one line on stderr says why).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path
from typing import TextIO, cast

from tui.cli.command import Context
from tui.guard.safe_text import echo, json_line

COMMANDS = ("list", "show", "search", "export", "import", "backup", "restore")
USES_SERVICES = False


def register(commands: argparse._SubParsersAction) -> None:
    """Add the history commands to lchat's argument parser."""
    listing = commands.add_parser("list", help="list conversations (id, last change, title), newest first")
    listing.add_argument("--limit", type=int, default=50, help="how many (default 50)")
    listing.add_argument("--archived", action="store_true", help="list the archived ones")
    listing.add_argument("--json", action="store_true", help="one JSON object per conversation, a line each")
    show = commands.add_parser("show", help="print a conversation's current path")
    show.add_argument("id", type=int, metavar="ID", help="conversation id (see `lchat list`)")
    show.add_argument("--json", action="store_true", help="the export document (JSON) instead of text")
    search = commands.add_parser("search", help="full-text search over every message, newest first")
    search.add_argument("text", help='words to find ("quoted words" as a phrase)')
    search.add_argument("--json", action="store_true", help="one JSON object per hit, a line each")
    search.add_argument("--reasoning", action="store_true", help="also look in reasoning and tool results")
    search.add_argument("--limit", type=int, default=50, help="how many hits (default 50)")
    export = commands.add_parser("export", help="write a conversation (or --all) as JSON or Markdown")
    export.add_argument("ids", nargs="*", type=int, metavar="ID", help="conversation ids (see `lchat list`)")
    export.add_argument("--all", action="store_true", help="every conversation (JSON Lines, or one Markdown file)")
    export.add_argument("--format", "-f", choices=("json", "md"), help="default: from -o's suffix, else json")
    export.add_argument("--output", "-o", type=Path, help="file to write (default: stdout)")
    imported = commands.add_parser("import", help="add conversations from `lchat export` JSON files")
    imported.add_argument("files", nargs="+", type=Path, metavar="FILE")
    backup = commands.add_parser("backup", help="write a consistent copy of the history, even while lchat runs")
    backup.add_argument(
        "path", nargs="?", type=Path, metavar="PATH", help="file or folder (default: the data dir's backups/)"
    )
    restore = commands.add_parser("restore", help="replace the history with a backup (asks first)")
    restore.add_argument("path", type=Path, metavar="BACKUP")
    restore.add_argument("--yes", "-y", action="store_true", help="do not ask")


def run(args: argparse.Namespace, context: Context) -> int:
    """Run one history command."""
    from tui.portable import ImportFailed
    from tui.store import StoreError

    paths = context.paths
    try:
        if args.command == "backup":
            return _backup(paths, args.path)
        if args.command == "restore":
            return _restore(paths, args.path, assume_yes=args.yes)
        from tui.store import HistoryStore

        with HistoryStore.open(paths.database) as store:
            if args.command == "list":
                return _list(store, args)
            if args.command == "show":
                return _show(store, args)
            if args.command == "search":
                return _search(store, args)
            if args.command == "export":
                return _export(store, args)
            return _import(store, args.files)
    except BrokenPipeError:
        raise  # The reader went away (`| head`): lchat's main ends quietly.
    except (StoreError, ImportFailed, OSError, LookupError) as error:
        echo(f"lchat: {error}", file=sys.stderr)
        return 1


def _list(store, args: argparse.Namespace) -> int:
    from tui.guard.safe_text import one_line

    for conversation in store.list_conversation_page(archived=args.archived, limit=args.limit):
        if args.json:
            print(
                json_line(
                    {
                        "id": conversation.id,
                        "title": conversation.title,
                        "model": conversation.model,
                        "backend": conversation.backend,
                        "created_at": conversation.created_at,
                        "updated_at": conversation.updated_at,
                        "pinned": conversation.pinned,
                        "archived": conversation.archived,
                    }
                )
            )
            continue
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(conversation.updated_at))
        pin = "*" if conversation.pinned else " "
        echo(f"{conversation.id:>8} {pin} {when}  {one_line(conversation.title or 'New conversation', 70)}")
    return 0


def _show(store, args: argparse.Namespace) -> int:
    from tui import portable
    from tui.guard.safe_text import terminal_safe

    doc = portable.document(store, args.id)
    text = portable.to_json(doc) + "\n" if args.json else portable.to_markdown(doc)
    # Model text reaches a terminal made safe; a pipe or file gets it exactly as stored.
    sys.stdout.write(terminal_safe(text) if sys.stdout.isatty() else text)
    return 0


def _search(store, args: argparse.Namespace) -> int:
    from tui.domain import MATCH_END, MATCH_START
    from tui.guard.safe_text import one_line

    hits = store.search(args.text, limit=args.limit, include_parts=args.reasoning)
    for hit in hits:
        plain = hit.snippet.replace(MATCH_START, "").replace(MATCH_END, "")
        if args.json:
            print(
                json_line(
                    {
                        "conversation_id": hit.conversation_id,
                        "message_id": hit.message_id,
                        "title": hit.conversation_title,
                        "role": str(hit.role),
                        "snippet": plain,
                        "created_at": hit.created_at,
                        "in_reasoning_or_tool": hit.in_part,
                    }
                )
            )
        else:
            marked = hit.snippet.replace(MATCH_START, "[").replace(MATCH_END, "]")
            echo(
                f"{hit.conversation_id:>8}  {one_line(hit.conversation_title or 'New conversation', 30):<30}  {one_line(marked, 90)}"
            )
    if not hits and not args.json:
        echo("lchat: nothing found", file=sys.stderr)
    return 0


def _export(store, args: argparse.Namespace) -> int:
    from tui import portable
    from tui.config.paths import open_private

    if not args.ids and not args.all:
        echo("lchat: name conversation ids (see `lchat list`) or use --all", file=sys.stderr)
        return 1
    markdown = (args.format or ("md" if args.output and args.output.suffix.lower() == ".md" else "json")) == "md"
    for conversation_id in args.ids:  # Check them all before writing anything.
        if store.get_conversation(conversation_id) is None:
            raise LookupError(f"there is no conversation {conversation_id}")
    # A file is written exactly as stored; a terminal gets the text made safe, as `lchat ask` does.
    out: TextIO = open_private(args.output) if args.output else sys.stdout
    if not args.output and sys.stdout.isatty():
        out = cast(TextIO, _TerminalSafe(sys.stdout))
    try:
        if args.all:
            count = portable.write_all(store, out, markdown=markdown)
        else:
            for index, conversation_id in enumerate(args.ids):
                doc = portable.document(store, conversation_id)
                if markdown:
                    out.write(("\n---\n\n" if index else "") + portable.to_markdown(doc))
                else:
                    out.write(portable.to_json(doc, indent=None if len(args.ids) > 1 else 2) + "\n")
            count = len(args.ids)
    finally:
        if args.output:
            out.close()
    echo(f"lchat: exported {count} conversation(s)" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def _import(store, files: list[Path]) -> int:
    from tui import portable

    try:
        imported = portable.import_files(store, files)
    except portable.ImportFailed as failed:
        raise portable.ImportFailed(f"{str(failed).rstrip('.')}. Nothing was imported.") from None
    echo(f"lchat: Imported {len(imported)} conversation(s).", file=sys.stderr)
    return 0


def _backup(paths, target: Path | None) -> int:
    from tui.config.paths import make_private_dir
    from tui.store.backup import backup

    if target is None:
        make_private_dir(paths.backups_dir)
        target = paths.backups_dir
    facts = backup(paths.database, target)
    echo(f"Backed up {facts.conversations} conversations, {facts.messages} messages to {facts.path}")
    return 0


def _restore(paths, source: Path, *, assume_yes: bool) -> int:
    from tui.store import DatabaseCorrupt, StoreError
    from tui.store.backup import inspect, restore

    try:
        incoming = inspect(source)
    except DatabaseCorrupt as damaged:  # Its words are for the history itself, not a backup.
        raise StoreError(f"{source} is not an lchat history backup ({damaged.detail}). Nothing was changed.") from None
    question = f"Replace the history at {paths.database}"
    if paths.database.is_file():
        try:
            current = inspect(paths.database)
            question += f" ({current.conversations} conversations, {current.messages} messages)"
        except Exception as error:  # noqa: BLE001 - a damaged history is what restore is for
            question += f" (unreadable: {error})"
    question += (
        f" with {source} ({incoming.conversations} conversations, {incoming.messages} messages)?"
        f" The current history is kept in {paths.backups_dir}. [y/N] "
    )
    if not assume_yes:
        echo(question, end="", file=sys.stderr)
        answer = sys.stdin.readline() if sys.stdin else ""
        if answer.strip().lower() not in ("y", "yes"):
            why = "no answer (add --yes to restore without asking)" if not answer else "not confirmed"
            echo(f"\nlchat: {why}. Nothing was changed.", file=sys.stderr)
            return 1
    from tui.config.paths import make_private_dir

    make_private_dir(paths.backups_dir)
    result = restore(source, paths.database, keep_previous_in=paths.backups_dir)
    kept = f"; the previous history is in {result.previous_copy}" if result.previous_copy else ""
    echo(f"Restored {result.restored.conversations} conversations, {result.restored.messages} messages{kept}.")
    return 0


class _TerminalSafe(io.TextIOBase):
    """Writes text to a terminal with every character that could steer it made visible."""

    def __init__(self, terminal: TextIO) -> None:
        super().__init__()
        self._terminal = terminal

    def write(self, text: str) -> int:
        from tui.guard.safe_text import terminal_safe

        self._terminal.write(terminal_safe(text))
        return len(text)

    def flush(self) -> None:
        self._terminal.flush()
