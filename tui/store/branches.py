"""Branches: a regenerated answer or an edited question sits beside the message it replaces.

Messages form a tree through ``parent_id``. A conversation's current path ends at its
``leaf_id``; among siblings the highest ``branch_seq`` is the one last chosen, so going
back to a branch also brings back the path that was current below it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from tui.domain import ChatMessage
from tui.store import rows
from tui.store.db import Database
from tui.store.errors import NotFound
from tui.store.parts import Parts

_UP = (
    "WITH RECURSIVE up (id, depth) AS (SELECT ?, 1 UNION ALL"
    " SELECT m.parent_id, up.depth + 1 FROM messages m JOIN up ON m.id = up.id"
    " WHERE m.parent_id IS NOT NULL AND up.depth < ?)"
)
_DOWN = (
    "WITH RECURSIVE down (id, depth) AS (SELECT :start, 0 UNION ALL"
    " SELECT (SELECT c.id FROM messages c"
    "  WHERE c.conversation_id = (SELECT conversation_id FROM messages WHERE id = :start)"
    "  AND c.parent_id = down.id ORDER BY c.branch_seq DESC, c.id DESC LIMIT 1), down.depth + 1"
    " FROM down WHERE down.id IS NOT NULL AND down.depth < :limit)"
)
_BELOW = "SELECT id FROM down WHERE id IS NOT NULL AND depth > 0"
_SAME_PARENT = "s.conversation_id = m.conversation_id AND s.parent_id IS m.parent_id"
# Unordered (sorted in Python) and `+s.id` below: either way SQLite would otherwise pick the
# (conversation_id, id) index and read the whole conversation instead of one sibling group.
_SIBLINGS = f"SELECT s.id FROM messages m JOIN messages s ON {_SAME_PARENT} WHERE m.id = ?"
NO_LIMIT = 1 << 62


class Branches:
    """The part of :class:`HistoryStore` that walks and reshapes the tree of messages."""

    def __init__(self, db: Database, parts: Parts) -> None:
        self._db = db
        self._parts = parts

    def get_message(self, message_id: int) -> ChatMessage | None:
        """The message with this id, or None."""
        found = self._db.read(f"SELECT {rows.MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,))
        return self._parts.with_parts([rows.message(found[0])])[0] if found else None

    def path_to(self, message_id: int | None, *, limit: int | None = None) -> list[ChatMessage]:
        """The path from the conversation's first message down to this one, oldest first.

        With ``limit``, only the last ``limit`` messages of it (this one included).
        """
        if message_id is None:
            return []
        found = self._db.read(
            f"{_UP} SELECT {rows.MESSAGE_COLUMNS} FROM messages WHERE id IN (SELECT id FROM up) ORDER BY id",
            (message_id, limit or NO_LIMIT),
        )
        return self._parts.with_parts([rows.message(row) for row in found])

    def path_length(self, message_id: int) -> int:
        """How many messages the path down to this one holds (this one included)."""
        found = self._db.read(f"{_UP} SELECT COUNT(*) FROM up", (message_id, NO_LIMIT))
        return int(found[0][0]) if self.get_message(message_id) else 0

    def messages_after(self, message_id: int, *, limit: int) -> list[ChatMessage]:
        """Up to ``limit`` messages that follow this one along its current branch."""
        found = self._db.read(
            f"{_DOWN} SELECT {rows.MESSAGE_COLUMNS} FROM messages WHERE id IN ({_BELOW}) ORDER BY id",
            {"start": message_id, "limit": limit},
        )
        return self._parts.with_parts([rows.message(row) for row in found])

    def siblings(self, message_id: int) -> list[int]:
        """Ids of this message and its alternatives (same parent), oldest first."""
        return sorted(row[0] for row in self._db.read(_SIBLINGS, (message_id,)))

    def branch_positions(self, message_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """For each message: its place among its siblings (1-based) and how many there are."""
        if not message_ids:
            return {}
        marks = ", ".join("?" * len(message_ids))
        found = self._db.read(
            f"SELECT m.id, (SELECT COUNT(*) FROM messages s WHERE {_SAME_PARENT} AND +s.id <= m.id),"
            f" (SELECT COUNT(*) FROM messages s WHERE {_SAME_PARENT})"
            f" FROM messages m WHERE m.id IN ({marks})",
            list(message_ids),
        )
        return {row[0]: (row[1], row[2]) for row in found}

    def switch_branch(self, message_id: int, step: int) -> int | None:
        """Make the sibling ``step`` places away current; its id, or None at either end."""
        with self._db.write() as conn:
            ids = sorted(int(row[0]) for row in conn.execute(_SIBLINGS, (message_id,)))
            if message_id not in ids:
                raise NotFound(f"Message {message_id} no longer exists.")
            index = ids.index(message_id) + step
            if not 0 <= index < len(ids):
                return None
            _make_current(conn, ids[index])
            return ids[index]

    def select_message(self, message_id: int) -> None:
        """Make the path through this message current (the branch below it as last left)."""
        with self._db.write() as conn:
            _make_current(conn, message_id)


def _conversation_of(conn: sqlite3.Connection, message_id: int) -> int:
    row = conn.execute("SELECT conversation_id FROM messages WHERE id = ?", (message_id,)).fetchone()
    if row is None:
        raise NotFound(f"Message {message_id} no longer exists.")
    return int(row[0])


def _descend(conn: sqlite3.Connection, message_id: int, limit: int = NO_LIMIT) -> list[int]:
    """Ids below this message along the last chosen children, nearest first."""
    found = conn.execute(f"{_DOWN} {_BELOW} ORDER BY depth", {"start": message_id, "limit": limit})
    return [row[0] for row in found]


def _make_current(conn: sqlite3.Connection, message_id: int) -> None:
    """Choose this message and each of its ancestors among their siblings; move the leaf."""
    conversation_id = _conversation_of(conn, message_id)
    ancestors = conn.execute(
        f"{_UP} SELECT m.id, (SELECT s.id FROM messages s WHERE {_SAME_PARENT}"
        " ORDER BY s.branch_seq DESC, s.id DESC LIMIT 1),"
        f" (SELECT MAX(s.branch_seq) FROM messages s WHERE {_SAME_PARENT})"
        " FROM messages m WHERE m.id IN (SELECT id FROM up)",
        (message_id, NO_LIMIT),
    ).fetchall()
    for node, chosen, top in ancestors:
        if chosen != node:
            conn.execute("UPDATE messages SET branch_seq = ? WHERE id = ?", (top + 1, node))
    below = _descend(conn, message_id)
    conn.execute(
        "UPDATE conversations SET leaf_id = ? WHERE id = ?",
        (below[-1] if below else message_id, conversation_id),
    )
