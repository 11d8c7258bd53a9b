"""Bulk moves in and out of the history: walking every conversation, importing one whole."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence

from tui.domain import ChatMessage, Conversation, MessageStatus
from tui.domain.parts import attachment_of
from tui.store.codec import settings_to_json
from tui.store.db import Database
from tui.store.parts import insert_part


class Transfer:
    """The part of :class:`HistoryStore` used by export and import."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def conversation_ids(self, *, page: int = 1000) -> Iterator[int]:
        """Every conversation's id, oldest first, read a page at a time."""
        after = 0
        while True:
            found = self._db.read("SELECT id FROM conversations WHERE id > ? ORDER BY id LIMIT ?", (after, page))
            if not found:
                return
            yield from (row[0] for row in found)
            after = found[-1][0]

    def import_conversation(
        self,
        conversation: Conversation,
        messages: Sequence[ChatMessage],
        blobs: Mapping[str, bytes] | None = None,
    ) -> Conversation:
        """Add a conversation and its messages (as one path) in one transaction; ids are new.

        Timestamps, figures, statuses and parts are kept (an attachment's bytes from `blobs`, by
        the sha256 in its data), except that an answer recorded as still streaming arrives as
        interrupted.
        """
        (imported,) = self.import_conversations([(conversation, messages, blobs or {})])
        return imported

    def import_conversations(
        self, items: Iterable[tuple[Conversation, Sequence[ChatMessage], Mapping[str, bytes]]]
    ) -> list[Conversation]:
        """Import every conversation `items` yields, all in one transaction: when reading the next
        one fails (a bad file among several), the exception ends it and nothing is kept. Items
        are taken one at a time, so only one conversation is in memory at once."""
        with self._db.write() as conn:
            return [_insert_conversation(conn, *item) for item in items]


def _insert_conversation(
    conn: sqlite3.Connection, conversation: Conversation, messages: Sequence[ChatMessage], blobs: Mapping[str, bytes]
) -> Conversation:
    c = conversation
    cursor = conn.execute(
        "INSERT INTO conversations (title, model, backend, system_prompt, params,"
        " created_at, updated_at, pinned, archived) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            c.title,
            c.model,
            c.backend,
            c.system_prompt,
            json.dumps(settings_to_json(c.settings)),
            c.created_at,
            c.updated_at,
            int(c.pinned),
            int(c.archived),
        ),
    )
    conversation_id = cursor.lastrowid
    parent_id: int | None = None
    for m in messages:
        status = MessageStatus(m.status)
        if status is MessageStatus.STREAMING:
            status = MessageStatus.INTERRUPTED
        parent_id = conn.execute(
            "INSERT INTO messages (conversation_id, parent_id, role, content, status, model,"
            " backend, error, prompt_tokens, completion_tokens, ttft_s, gen_s, energy_wh,"
            " reasoning_tokens, reasoning_estimated, reasoning_ttft_s, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                conversation_id,
                parent_id,
                m.role,
                m.content,
                status,
                m.model,
                m.backend,
                m.error,
                m.prompt_tokens,
                m.completion_tokens,
                m.ttft_s,
                m.gen_s,
                m.energy_wh,
                m.reasoning_tokens,
                int(m.reasoning_estimated),
                m.reasoning_ttft_s,
                m.created_at,
                m.updated_at,
            ),
        ).lastrowid
        assert parent_id is not None
        for part in m.parts:
            insert_part(conn, parent_id, part, blobs.get(attachment_of(part).sha256))
    conn.execute("UPDATE conversations SET leaf_id = ? WHERE id = ?", (parent_id, conversation_id))
    assert conversation_id is not None
    return Conversation(
        conversation_id,
        c.title,
        c.model,
        c.backend,
        c.system_prompt,
        c.settings,
        c.created_at,
        c.updated_at,
        c.pinned,
        c.archived,
    )
