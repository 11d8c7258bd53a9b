"""Backups of the history taken while lchat may be running, and restoring one safely."""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from tui.guard.bounded_files import Unreadable, open_regular
from tui.store.errors import DatabaseCorrupt, SchemaTooNew, StoreError, translate
from tui.store.schema import MIGRATIONS


@dataclass(frozen=True)
class HistoryFacts:
    """What a history file holds, read without changing it."""

    path: Path
    schema: int
    conversations: int
    messages: int


def inspect(path: Path) -> HistoryFacts:
    """Check that ``path`` is an intact lchat history this lchat can read, and count it."""
    path = Path(path)
    try:  # A FIFO or a device is refused without waiting on it; SQLite then reads only what it needs.
        open_regular(path, what="history backup").close()
    except Unreadable as refused:
        raise StoreError(f"{refused}.") from None
    try:
        conn = sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise translate(exc, path, "open") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        problems = [row[0] for row in conn.execute("PRAGMA quick_check") if row[0] != "ok"]
        if problems:
            raise DatabaseCorrupt(path, "; ".join(problems[:3]))
        schema = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if schema > len(MIGRATIONS):
            raise SchemaTooNew(path, schema, len(MIGRATIONS))
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if schema < 1 or not {"conversations", "messages"} <= tables:
            raise StoreError(f"{path} is an SQLite file but not an lchat history.")
        conversations = conn.execute("SELECT COUNT(*) FROM conversations").fetchone()[0]
        messages = conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0]
    except sqlite3.Error as exc:
        raise translate(exc, path, "read") from exc
    finally:
        conn.close()
    return HistoryFacts(path, schema, conversations, messages)


def default_backup_name(when: float | None = None) -> str:
    return time.strftime("history-%Y%m%d-%H%M%S.db", time.localtime(when))


def backup(database: Path, target: Path) -> HistoryFacts:
    """Write a consistent copy of ``database`` to ``target`` and check it.

    ``target`` may be a folder (a dated file is made in it). Uses ``VACUUM INTO``, a read
    transaction: another lchat keeps writing meanwhile and the copy is the state at its
    start. The copy is written beside the target and renamed into place only when complete.
    """
    database, target = Path(database), Path(target)
    if target.is_dir():
        target = target / default_backup_name()
    if not database.is_file():
        raise StoreError(f"There is no history at {database} to back up.")
    if target.exists() and target.resolve() == database.resolve():
        raise StoreError(f"{target} is the history itself; choose another place for the backup.")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    partial.unlink(missing_ok=True)
    # Created empty and private first: VACUUM INTO fills an empty file and keeps its mode.
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        conn = sqlite3.connect(f"{database.absolute().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise translate(exc, database, "open") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("VACUUM INTO ?", (str(partial),))
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise translate(exc, database, "back up") from exc
    finally:
        conn.close()
    try:
        with open(partial, "rb+") as handle:
            os.fsync(handle.fileno())
        facts = inspect(partial)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return HistoryFacts(target, facts.schema, facts.conversations, facts.messages)


@dataclass(frozen=True)
class Restored:
    """What a restore did."""

    restored: HistoryFacts
    previous_copy: Path | None
    """Where the history that was replaced was saved first (None: there was none)."""


def restore(source: Path, database: Path, *, keep_previous_in: Path) -> Restored:
    """Replace the history at ``database`` with the backup ``source``.

    The backup is checked first and the current history is backed up into
    ``keep_previous_in``. The pages are copied with SQLite's backup API inside the
    database's own locking, so an lchat that has the file open sees either the old history
    or the restored one, never a mix. An older backup is upgraded to the current schema.
    """
    from tui.store.history import HistoryStore

    source, database = Path(source), Path(database)
    facts = inspect(source)
    previous = None
    if database.is_file() and database.stat().st_size > 0:
        keep_previous_in.mkdir(parents=True, exist_ok=True)
        name = time.strftime("history-before-restore-%Y%m%d-%H%M%S.db")
        try:
            previous = backup(database, keep_previous_in / name).path
        except DatabaseCorrupt:
            from tui.store.recovery import move_aside

            previous = move_aside(database)  # Damaged: keep it untouched instead.
    with HistoryStore.open(database):
        pass  # Creates the file privately (0600) if needed, in WAL mode like any history.
    try:
        src = sqlite3.connect(f"{source.absolute().as_uri()}?mode=ro", uri=True)
        dst = sqlite3.connect(database)
    except sqlite3.Error as exc:
        raise translate(exc, database, "open") from exc
    try:
        dst.execute("PRAGMA busy_timeout = 5000")
        src.backup(dst)
    except sqlite3.Error as exc:
        raise translate(exc, database, "restore") from exc
    finally:
        src.close()
        dst.close()
    with HistoryStore.open(database):
        pass  # Upgrades an older backup's schema.
    return Restored(HistoryFacts(database, len(MIGRATIONS), facts.conversations, facts.messages), previous)
