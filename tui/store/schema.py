"""Schema versions of the history file, applied in order via ``PRAGMA user_version``."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from tui.store.cjk import SQL_CHARS_FUNCTION, SQL_FUNCTION, index_chars, index_text
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


def _v3(conn: sqlite3.Connection) -> None:
    """Pinned and archived conversations, and the index the paged list walks."""
    conn.execute("ALTER TABLE conversations ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE conversations ADD COLUMN archived INTEGER NOT NULL DEFAULT 0")
    # Same direction on every column, so one backwards scan serves the list's ORDER BY.
    conn.execute("CREATE INDEX conversations_list ON conversations (archived, pinned, updated_at, id)")


def _v4(conn: sqlite3.Connection) -> None:
    """Branches: each message has a parent; a conversation remembers the end of its current path.

    Among siblings the highest ``branch_seq`` is the one last chosen, so moving back to a
    branch restores the path below it. Existing conversations become one straight path.
    """
    conn.execute("ALTER TABLE messages ADD COLUMN parent_id INTEGER")
    conn.execute("ALTER TABLE messages ADD COLUMN branch_seq INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE conversations ADD COLUMN leaf_id INTEGER")
    conn.execute(
        "UPDATE messages SET parent_id = (SELECT MAX(p.id) FROM messages p"
        " WHERE p.conversation_id = messages.conversation_id AND p.id < messages.id)"
    )
    conn.execute(
        "UPDATE conversations SET leaf_id = (SELECT MAX(id) FROM messages WHERE conversation_id = conversations.id)"
    )
    conn.execute("CREATE INDEX messages_tree ON messages (conversation_id, parent_id, branch_seq)")


_V5 = (
    # External content: the text lives once, in messages; the index holds only tokens.
    # Prefix indexes keep the as-you-type query ("pyth*") fast on short prefixes.
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages',"
    " content_rowid='id', tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN"
    " INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN"
    " INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
    " END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN"
    " INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content);"
    " INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END",
    "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
)


def _v5(conn: sqlite3.Connection) -> None:
    """Full-text search over every message (FTS5), kept in step by triggers."""
    for statement in _V5:
        conn.execute(statement)


_V6 = (
    "ALTER TABLE messages ADD COLUMN reasoning_tokens INTEGER",
    "ALTER TABLE messages ADD COLUMN reasoning_estimated INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE messages ADD COLUMN reasoning_ttft_s REAL",
    # Attachments, once per content: two messages sending the same file share its bytes.
    "CREATE TABLE blobs (sha256 TEXT PRIMARY KEY, size INTEGER NOT NULL, data BLOB NOT NULL)",
    """
    CREATE TABLE message_parts (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        text TEXT NOT NULL DEFAULT '',
        data TEXT NOT NULL DEFAULT '{}',
        text_offset INTEGER NOT NULL DEFAULT 0,
        blob TEXT REFERENCES blobs (sha256),
        UNIQUE (message_id, seq)
    )
    """,
    "CREATE INDEX message_parts_blob ON message_parts (blob) WHERE blob IS NOT NULL",
    # The last part using a blob takes it along (deleting a conversation cascades to here).
    "CREATE TRIGGER message_parts_free_blob AFTER DELETE ON message_parts WHEN old.blob IS NOT NULL"
    " BEGIN DELETE FROM blobs WHERE sha256 = old.blob"
    " AND NOT EXISTS (SELECT 1 FROM message_parts WHERE blob = old.blob); END",
    # Reasoning and tool results are searchable too, but only when a search asks for them.
    "CREATE VIRTUAL TABLE parts_fts USING fts5(text, content='message_parts', content_rowid='id',"
    " tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
    "CREATE TRIGGER parts_fts_insert AFTER INSERT ON message_parts BEGIN"
    " INSERT INTO parts_fts (rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER parts_fts_delete AFTER DELETE ON message_parts BEGIN"
    " INSERT INTO parts_fts (parts_fts, rowid, text) VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER parts_fts_update AFTER UPDATE OF text ON message_parts BEGIN"
    " INSERT INTO parts_fts (parts_fts, rowid, text) VALUES ('delete', old.id, old.text);"
    " INSERT INTO parts_fts (rowid, text) VALUES (new.id, new.text); END",
)


def _v6(conn: sqlite3.Connection) -> None:
    """Messages made of parts (reasoning, tool calls and results, attachments), the blobs
    attachments keep their bytes in, and the reasoning figures of an answer."""
    for statement in _V6:
        conn.execute(statement)


def register_functions(conn: sqlite3.Connection) -> None:
    """Give a connection the SQL functions the search index triggers call; every connection
    that writes messages needs them (a plain ``sqlite3`` shell can read but not write them)."""
    conn.create_function(SQL_FUNCTION, 1, index_text, deterministic=True)
    conn.create_function(SQL_CHARS_FUNCTION, 1, index_chars, deterministic=True)


# (table, its indexed column, the content table and column it follows)
_SEARCH_INDEXES = (("messages_fts", "content", "messages", "content"), ("parts_fts", "text", "message_parts", "text"))


def _search_index_statements(fts: str, column: str, table: str, source: str) -> list[str]:
    new, old = _indexed("new.", source), _indexed("old.", source)
    delete = f"INSERT INTO {fts} ({fts}, rowid, {column}, chars) VALUES ('delete', old.id, {old});"
    insert = f"INSERT INTO {fts} (rowid, {column}, chars) VALUES (new.id, {new});"
    return [
        # Contentless: what is indexed (CJK as bigrams) is not the text, so FTS5 must never
        # re-read the text itself; deletes pass the indexed form again.
        f"CREATE VIRTUAL TABLE {fts} USING fts5({column}, chars, content='',"
        " tokenize='unicode61 remove_diacritics 2', prefix='2 3')",
        f"CREATE TRIGGER {fts}_insert AFTER INSERT ON {table} BEGIN {insert} END",
        f"CREATE TRIGGER {fts}_delete AFTER DELETE ON {table} BEGIN {delete} END",
        f"CREATE TRIGGER {fts}_update AFTER UPDATE OF {source} ON {table} BEGIN {delete} {insert} END",
    ]


def _indexed(row: str, source: str) -> str:
    """The two values a row is indexed as: its text with CJK as bigrams, and its CJK characters."""
    return f"{SQL_FUNCTION}({row}{source}), {SQL_CHARS_FUNCTION}({row}{source})"


def rebuild_search_indexes(conn: sqlite3.Connection) -> None:
    """Index every message and part again (after bulk inserts with the triggers dropped)."""
    register_functions(conn)
    for fts, column, table, source in _SEARCH_INDEXES:
        conn.execute(f"INSERT INTO {fts} ({fts}) VALUES ('delete-all')")
        conn.execute(
            f"INSERT INTO {fts} (rowid, {column}, chars) SELECT id, {_indexed('', source)} FROM {table}"
            f" WHERE {source} != ''"
        )


def _v7(conn: sqlite3.Connection) -> None:
    """Japanese, Chinese and Korean words found inside sentences: both search indexes hold
    CJK runs as overlapping bigrams, and each CJK character once in a ``chars`` column (see
    tui.store.cjk), rebuilt from the stored text."""
    register_functions(conn)
    for fts, *_ in _SEARCH_INDEXES:
        for action in ("insert", "delete", "update"):
            conn.execute(f"DROP TRIGGER {fts}_{action}")
        conn.execute(f"DROP TABLE {fts}")
    for index in _SEARCH_INDEXES:
        for statement in _search_index_statements(*index):
            conn.execute(statement)
    rebuild_search_indexes(conn)


MIGRATIONS: list[Migration] = [_v1, _v2, _v3, _v4, _v5, _v6, _v7]
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
