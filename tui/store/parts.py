"""Parts of messages other than their text: reasoning, tool calls and results, attachments.

A part is written as soon as it exists and its text saved as it grows, like an answer's text,
so a killed lchat keeps every part that had arrived. Attachments keep their bytes in `blobs`,
once per content hash.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from tui.domain import ChatMessage, MessagePart
from tui.store import rows
from tui.store.db import Database
from tui.store.errors import NotFound


class Parts:
    """The part of :class:`HistoryStore` that keeps message parts and attachment bytes."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_part(self, message_id: int, part: MessagePart, *, blob: bytes | None = None) -> MessagePart:
        """Store `part` as the message's next part (its `seq` is chosen here) and return it
        with its id. `blob`: the attachment's bytes, kept once per content."""
        with self._db.write() as conn:
            return insert_part(conn, message_id, part, blob)

    def update_part(self, part_id: int, *, text: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Save a part's text so far, or its new data (a tool call's state)."""
        with self._db.write() as conn:
            _update_part(conn, part_id, text, data)

    def get_blob(self, sha256: str) -> bytes | None:
        """An attachment's bytes by content hash, or None when no message keeps them."""
        found = self._db.read("SELECT data FROM blobs WHERE sha256 = ?", (sha256,))
        return bytes(found[0][0]) if found else None

    def with_parts(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """The messages with their parts read in (one query for all of them)."""
        if not messages:
            return messages
        ids = [message.id for message in messages]
        found = self._db.read(
            f"SELECT {rows.PART_COLUMNS} FROM message_parts"
            f" WHERE message_id IN ({', '.join('?' * len(ids))}) ORDER BY message_id, seq",
            ids,
        )
        by_message: dict[int, list[MessagePart]] = {}
        for row in found:
            by_message.setdefault(row["message_id"], []).append(rows.part(row))
        return [
            replace(message, parts=tuple(by_message[message.id])) if message.id in by_message else message
            for message in messages
        ]


def insert_part(conn: sqlite3.Connection, message_id: int, part: MessagePart, blob: bytes | None) -> MessagePart:
    """Insert one part inside an open transaction; the stored part."""
    data = dict(part.data)
    sha256 = None
    if blob is not None:
        sha256 = hashlib.sha256(blob).hexdigest()
        data.setdefault("sha256", sha256)
        data.setdefault("size", len(blob))
        conn.execute("INSERT OR IGNORE INTO blobs (sha256, size, data) VALUES (?, ?, ?)", (sha256, len(blob), blob))
    try:
        cursor = conn.execute(
            "INSERT INTO message_parts (message_id, seq, kind, text, data, text_offset, blob)"
            " VALUES (?, (SELECT COALESCE(MAX(seq) + 1, 0) FROM message_parts WHERE message_id = ?),"
            " ?, ?, ?, ?, ?)",
            (message_id, message_id, part.kind, part.text, json.dumps(data), part.offset, sha256),
        )
    except sqlite3.IntegrityError as exc:
        raise NotFound(f"Message {message_id} no longer exists.") from exc
    seq = conn.execute("SELECT seq FROM message_parts WHERE id = ?", (cursor.lastrowid,)).fetchone()[0]
    return replace(part, id=cursor.lastrowid, seq=seq, data=data)


def _update_part(conn: sqlite3.Connection, part_id: int, text: str | None, data: dict[str, Any] | None) -> None:
    assignments, args = [], []
    if text is not None:
        assignments.append("text = ?")
        args.append(text)
    if data is not None:
        assignments.append("data = ?")
        args.append(json.dumps(data))
    if not assignments:
        return
    cursor = conn.execute(f"UPDATE message_parts SET {', '.join(assignments)} WHERE id = ?", (*args, part_id))
    if cursor.rowcount == 0:
        raise NotFound(f"Part {part_id} no longer exists.")


def save_parts(conn: sqlite3.Connection, message_id: int, parts: Iterable[MessagePart]) -> None:
    """Write parts inside an open transaction: those with an id get their text and data
    updated, new ones are inserted (a part whose first save failed, on a full disk)."""
    for part in parts:
        if part.id is None:
            insert_part(conn, message_id, part, None)
        else:
            _update_part(conn, part.id, part.text, dict(part.data))
