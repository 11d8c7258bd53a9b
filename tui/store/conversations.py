"""Conversations: their titles, models, settings, pins and archive flags, and the side list's pages."""

from __future__ import annotations

import json
import time

from tui.domain import Conversation, ConversationSettings
from tui.store.codec import settings_to_json
from tui.store.db import Database
from tui.store.errors import NotFound
from tui.store.rows import CONVERSATION_COLUMNS as _CONVERSATION_COLUMNS
from tui.store.rows import conversation as _conversation

_LIST_ORDER = "ORDER BY pinned DESC, updated_at DESC, id DESC"


class Conversations:
    """The part of :class:`HistoryStore` that keeps the conversations themselves."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create_conversation(
        self,
        *,
        title: str = "",
        model: str = "",
        backend: str = "",
        system_prompt: str = "",
        settings: ConversationSettings | None = None,
    ) -> Conversation:
        """Start a new, empty conversation."""
        settings = settings or ConversationSettings()
        encoded = json.dumps(settings_to_json(settings))
        now = time.time()
        with self._db.write() as conn:
            cursor = conn.execute(
                "INSERT INTO conversations (title, model, backend, system_prompt, params,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (title, model, backend, system_prompt, encoded, now, now),
            )
        assert cursor.lastrowid is not None
        return Conversation(cursor.lastrowid, title, model, backend, system_prompt, settings, now, now)

    def set_conversation_settings(
        self, conversation_id: int, *, system_prompt: str, settings: ConversationSettings
    ) -> None:
        """Replace a conversation's system prompt and settings (in the `params` column, as ever)."""
        encoded = json.dumps(settings_to_json(settings))
        self._update_conversation(conversation_id, "system_prompt = ?, params = ?", (system_prompt, encoded))

    def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        """Pin a conversation to the top of the list, or unpin it."""
        self._update_conversation(conversation_id, "pinned = ?", (int(pinned),))

    def set_archived(self, conversation_id: int, archived: bool) -> None:
        """Move a conversation to the archive, or back out of it."""
        self._update_conversation(conversation_id, "archived = ?", (int(archived),))

    def get_conversation(self, conversation_id: int) -> Conversation | None:
        """The conversation with this id, or None if there is none."""
        rows = self._db.read(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,))
        return _conversation(rows[0]) if rows else None

    def list_conversations(
        self, *, limit: int = 200, offset: int = 0, archived: bool | None = None
    ) -> list[Conversation]:
        """Conversations, most recently updated first; ``archived`` keeps only those (or the others)."""
        where = "" if archived is None else f"WHERE archived = {int(archived)}"
        found = self._db.read(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations {where}"
            " ORDER BY updated_at DESC, id DESC LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_conversation(row) for row in found]

    def list_conversation_page(
        self, *, archived: bool = False, after: Conversation | None = None, limit: int = 100
    ) -> list[Conversation]:
        """One page of the side list: pinned first, then most recently updated.

        ``after`` is the last conversation of the previous page. Pages are found by key, not
        by offset, so the hundredth page costs what the first does.
        """
        where = "archived = ?"
        args: list[float] = [int(archived)]
        if after is not None:
            where += " AND (pinned, updated_at, id) < (?, ?, ?)"
            args += [int(after.pinned), after.updated_at, after.id]
        found = self._db.read(
            f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE {where} {_LIST_ORDER} LIMIT ?",
            [*args, limit],
        )
        return [_conversation(row) for row in found]

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Give a conversation a new title."""
        self._update_conversation(conversation_id, "title = ?", (title,))

    def set_conversation_model(self, conversation_id: int, model: str, backend: str) -> None:
        """Record the model (and its backend) a conversation now uses."""
        self._update_conversation(conversation_id, "model = ?, backend = ?", (model, backend))

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation and, by cascade, its messages; a missing one is no error."""
        with self._db.write() as conn:
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    def _update_conversation(self, conversation_id: int, assignments: str, args: tuple[object, ...]) -> None:
        with self._db.write() as conn:
            cursor = conn.execute(f"UPDATE conversations SET {assignments} WHERE id = ?", (*args, conversation_id))
            if cursor.rowcount == 0:
                raise NotFound(f"Conversation {conversation_id} no longer exists.")
