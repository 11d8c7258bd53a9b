"""Messages: appending to a conversation's path, saving a streaming answer, finishing it."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence

from tui.domain import ChatMessage, MessagePart, MessageStatus, Role
from tui.store.branches import Branches
from tui.store.db import Database
from tui.store.errors import NotFound
from tui.store.parts import Parts, insert_part, save_parts
from tui.store.rows import MESSAGE_COLUMNS as _MESSAGE_COLUMNS
from tui.store.rows import message as _message


class Messages:
    """The part of :class:`HistoryStore` that writes and reads the messages of a conversation."""

    def __init__(self, db: Database, parts: Parts, branches: Branches) -> None:
        self._db = db
        self._parts = parts
        self._branches = branches

    def add_message(
        self,
        conversation_id: int,
        role: Role,
        content: str,
        *,
        status: MessageStatus = MessageStatus.COMPLETE,
        model: str = "",
        backend: str = "",
        sibling_of: int | None = None,
        parts: Sequence[tuple[MessagePart, bytes | None]] = (),
    ) -> ChatMessage:
        """Append a message to the current path and mark the conversation as just updated.

        `parts` (each with its attachment bytes, or None) are stored with it, in one transaction.

        With ``sibling_of``, the message becomes a new branch beside that one (same parent)
        instead. Either way it ends the conversation's current path. A streaming message
        records this process's id, so another lchat sharing the file leaves it alone while
        this one is still alive.
        """
        role, status = Role(role), MessageStatus(status)
        writer_pid = os.getpid() if status is MessageStatus.STREAMING else None
        now = time.time()
        with self._db.write() as conn:
            leaf = conn.execute("SELECT leaf_id FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            if leaf is None:
                raise NotFound(f"Conversation {conversation_id} no longer exists.")
            parent_id = leaf[0]
            if sibling_of is not None:
                found = conn.execute(
                    "SELECT parent_id FROM messages WHERE id = ? AND conversation_id = ?",
                    (sibling_of, conversation_id),
                ).fetchone()
                if found is None:
                    raise NotFound(f"Message {sibling_of} no longer exists.")
                parent_id = found[0]
            cursor = conn.execute(
                "INSERT INTO messages (conversation_id, role, content, status, model, backend,"
                " writer_pid, created_at, updated_at, parent_id, branch_seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT COALESCE(MAX(branch_seq) + 1, 0)"
                "  FROM messages WHERE conversation_id = ? AND parent_id IS ?))",
                (
                    conversation_id,
                    role,
                    content,
                    status,
                    model,
                    backend,
                    writer_pid,
                    now,
                    now,
                    parent_id,
                    conversation_id,
                    parent_id,
                ),
            )
            conn.execute(
                "UPDATE conversations SET updated_at = ?, leaf_id = ? WHERE id = ?",
                (now, cursor.lastrowid, conversation_id),
            )
            assert cursor.lastrowid is not None
            stored = tuple(insert_part(conn, cursor.lastrowid, part, blob) for part, blob in parts)
        return ChatMessage(
            id=cursor.lastrowid,
            conversation_id=conversation_id,
            role=role,
            content=content,
            status=status,
            model=model,
            backend=backend,
            created_at=now,
            updated_at=now,
            parent_id=parent_id,
            parts=stored,
        )

    def update_message_content(self, message_id: int, content: str, *, parts: Sequence[MessagePart] = ()) -> None:
        """Save the text so far of an answer that is still streaming, and its growing parts."""
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE messages SET content = ?, updated_at = ? WHERE id = ?",
                (content, time.time(), message_id),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"Message {message_id} no longer exists.")
            save_parts(conn, message_id, parts)

    def finish_message(
        self,
        message_id: int,
        *,
        content: str,
        status: MessageStatus,
        error: str = "",
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        ttft_s: float | None = None,
        gen_s: float | None = None,
        energy_wh: float | None = None,
        reasoning_tokens: int | None = None,
        reasoning_estimated: bool = False,
        reasoning_ttft_s: float | None = None,
        parts: Sequence[MessagePart] = (),
    ) -> ChatMessage:
        """Store the final state of an answer and return it; `parts` are saved in the same
        transaction (their final text, and any whose first save failed)."""
        status = MessageStatus(status)
        if status is MessageStatus.STREAMING:
            raise ValueError("finish_message needs a final status, not streaming")
        with self._db.write() as conn:
            cursor = conn.execute(
                "UPDATE messages SET content = ?, status = ?, error = ?, prompt_tokens = ?,"
                " completion_tokens = ?, ttft_s = ?, gen_s = ?, energy_wh = ?, reasoning_tokens = ?,"
                " reasoning_estimated = ?, reasoning_ttft_s = ?, writer_pid = NULL,"
                " updated_at = ? WHERE id = ?",
                (
                    content,
                    status,
                    error,
                    prompt_tokens,
                    completion_tokens,
                    ttft_s,
                    gen_s,
                    energy_wh,
                    reasoning_tokens,
                    int(reasoning_estimated),
                    reasoning_ttft_s,
                    time.time(),
                    message_id,
                ),
            )
            if cursor.rowcount == 0:
                raise NotFound(f"Message {message_id} no longer exists.")
            save_parts(conn, message_id, parts)
            row = conn.execute(f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)).fetchone()
        return self._parts.with_parts([_message(row)])[0]

    def list_messages(
        self, conversation_id: int, *, before_id: int | None = None, limit: int | None = None
    ) -> list[ChatMessage]:
        """The conversation's current path, oldest first; with ``limit``, only its last messages.

        ``before_id`` keeps the messages before that one on its path, for loading a long
        conversation one page at a time from its end. Other branches are left out.
        """
        if before_id is None:
            found = self._db.read("SELECT leaf_id FROM conversations WHERE id = ?", (conversation_id,))
        else:
            found = self._db.read(
                "SELECT parent_id FROM messages WHERE id = ? AND conversation_id = ?",
                (before_id, conversation_id),
            )
        start = found[0][0] if found else None
        return self._branches.path_to(start, limit=limit) if limit != 0 else []

    def count_messages(self, conversation_id: int) -> int:
        """How many messages a conversation has."""
        rows = self._db.read("SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (conversation_id,))
        return int(rows[0][0])

    def recover_interrupted(self) -> int:
        """Mark answers whose writing process is gone as interrupted, keeping their text."""
        me = os.getpid()
        with self._db.write() as conn:
            rows = conn.execute("SELECT id, writer_pid FROM messages WHERE status = 'streaming'").fetchall()
            # A row of this very process predates this store, so nobody is writing it now.
            stale = [(row["id"],) for row in rows if _is_stale(row["writer_pid"], me)]
            conn.executemany("UPDATE messages SET status = 'interrupted', writer_pid = NULL WHERE id = ?", stale)
            # A tool call asked about or running when its process died never got a result:
            # it shows as interrupted, and nothing runs it again by itself.
            conn.executemany(
                "UPDATE message_parts SET data = json_set(data, '$.state', 'interrupted')"
                " WHERE message_id = ? AND kind = 'tool_call'"
                " AND json_extract(data, '$.state') IN ('asked', 'approved')",
                stale,
            )
        return len(stale)


def _is_stale(writer_pid: int | None, me: int) -> bool:
    """Whether nobody can still be writing a streaming row with this writer id."""
    return writer_pid is None or writer_pid == me or not _pid_alive(writer_pid)


def _pid_alive(pid: int) -> bool:
    """Whether a process with this id exists (on this machine)."""
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) would send CTRL_C there; leave such rows alone.
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # It exists but belongs to another user.
    except (OSError, OverflowError):
        return False
    return True
