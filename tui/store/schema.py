"""Schema versions of the history file, applied in order via ``PRAGMA user_version``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tui.store.errors import DatabaseCorrupt, SchemaTooNew, StoreError, StoreFull, translate

Migration = Callable[[sqlite3.Connection], None]

_V1 = (
    """
    CREATE TABLE conversations (
        id INTEGER PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        model TEXT NOT NULL DEFAULT '',
        backend TEXT NOT NULL DEFAULT '',
        system_prompt TEXT NOT NULL DEFAULT '',
        params TEXT NOT NULL DEFAULT '{}',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )
    """,
    "CREATE INDEX conversations_updated ON conversations (updated_at DESC)",
    """
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        conversation_id INTEGER NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
        content TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL DEFAULT 'complete'
            CHECK (status IN ('streaming', 'complete', 'interrupted', 'error')),
        model TEXT NOT NULL DEFAULT '',
        backend TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '',
        prompt_tokens INTEGER,
        completion_tokens INTEGER,
        ttft_s REAL,
        gen_s REAL,
        writer_pid INTEGER,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )
    """,
    "CREATE INDEX messages_conversation ON messages (conversation_id, id)",
    # Tiny partial index so the recovery at every open never scans the whole history.
    "CREATE INDEX messages_streaming ON messages (id) WHERE status = 'streaming'",
)


def _v1(conn: sqlite3.Connection) -> None:
    """Conversations and their messages."""
    # One statement at a time: executescript() would commit the open transaction.
    for statement in _V1:
        conn.execute(statement)


def _v2(conn: sqlite3.Connection) -> None:
    """Energy an answer took, integrated from power samples while it was generated."""
    conn.execute("ALTER TABLE messages ADD COLUMN energy_wh REAL")


MIGRATIONS: list[Migration] = [_v1, _v2]
"""Step N (1-based) takes a file from schema N-1 to N; only ever append to this list."""


def user_version(conn: sqlite3.Connection) -> int:
    """The schema version recorded in the file (0 for a fresh one)."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _step_failed(path: Path, current: int, exc: BaseException) -> StoreError:
    return StoreError(
        f"Could not upgrade the history file {path} from schema {current} "
        f"to {current + 1} ({exc}); it was left at schema {current}."
    )


def migrate(conn: sqlite3.Connection, path: Path) -> int:
    """Bring the file up to the newest schema and return that version.

    Each step runs in its own ``BEGIN IMMEDIATE`` transaction together with the version
    bump, so a failed step leaves the file at the previous version; the version is read
    again inside the lock because another lchat may have migrated meanwhile.
    """
    known = len(MIGRATIONS)
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = user_version(conn)
            if current > known:
                raise SchemaTooNew(path, current, known)
            if current == known:
                conn.execute("COMMIT")
                return current
            try:
                MIGRATIONS[current](conn)
            except Exception as exc:
                # A full disk or a damaged file says more than "the upgrade failed".
                if isinstance(exc, sqlite3.Error):
                    failure = translate(exc, path, "upgrade")
                    if isinstance(failure, (StoreFull, DatabaseCorrupt)):
                        raise failure from exc
                raise _step_failed(path, current, exc) from exc
            conn.execute(f"PRAGMA user_version = {current + 1:d}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
