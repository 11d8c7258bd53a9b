"""The conversation history: one SQLite file that several lchat processes may share."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from tui.domain import ChatMessage, Conversation, MessagePart, MessageStatus, Role
from tui.store.branches import BranchesMixin
from tui.store.errors import DatabaseCorrupt, NotFound, StoreError, translate
from tui.store.parts import PartsMixin, insert_part, save_parts
from tui.store.rows import CONVERSATION_COLUMNS as _CONVERSATION_COLUMNS
from tui.store.rows import MESSAGE_COLUMNS as _MESSAGE_COLUMNS
from tui.store.rows import conversation as _conversation
from tui.store.rows import message as _message
from tui.store.schema import migrate, register_functions
from tui.store.search import SearchMixin
from tui.store.transfer import TransferMixin

_LIST_ORDER = "ORDER BY pinned DESC, updated_at DESC, id DESC"


class HistoryStore(BranchesMixin, SearchMixin, TransferMixin, PartsMixin):
    """Conversations and their messages, kept in one SQLite file.

    Every write is its own ``BEGIN IMMEDIATE`` transaction so two lchat processes can
    share the file; calls are serialised by a lock so thread workers may use the store.
    Build one with :meth:`open`.
    """

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self.path = path
        """The SQLite file."""
        self.recovered = 0
        """How many half-written answers were marked interrupted when the file was opened."""
        self._conn: sqlite3.Connection | None = connection
        self._lock = threading.RLock()
        self._sidecars_private = False

    @classmethod
    def open(cls, path: Path) -> HistoryStore:
        """Open (or create) the file at ``path``, upgrade its schema and recover stale answers.

        The parent folder must exist. Raises a :class:`StoreError` subclass on failure.
        """
        path = Path(path)
        _create_private(path)
        try:
            conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise translate(exc, path, "open") from exc
        try:
            _configure(conn)
            migrate(conn, path)
            store = cls(conn, path)
            store.recovered = store._recover_interrupted()
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, path, "open") from exc
        except BaseException:
            conn.close()
            raise
        store._make_sidecars_private()
        return store

    def quick_check(self) -> None:
        """Read every page once (SQLite's quick_check); raise DatabaseCorrupt if any is damaged."""
        rows = self._read("PRAGMA quick_check", ())
        problems = [row[0] for row in rows if row[0] != "ok"]
        if problems:
            raise DatabaseCorrupt(self.path, "; ".join(problems[:3]))

    def outside_changes(self) -> int:
        """A number that changes whenever another connection (another lchat) commits to the file,
        and only then: SQLite's data_version, cheap enough to poll every few seconds."""
        return int(self._read("PRAGMA data_version", ())[0][0])

    @property
    def closed(self) -> bool:
        return self._conn is None

    def close(self) -> None:
        """Close the file; further calls raise :class:`StoreError`. Safe to call twice."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # Conversations

    def create_conversation(
        self,
        *,
        title: str = "",
        model: str = "",
        backend: str = "",
        system_prompt: str = "",
        params: dict[str, Any] | None = None,
    ) -> Conversation:
        """Start a new, empty conversation."""
        params = dict(params or {})
        encoded = json.dumps(params)
        now = time.time()
        with self._write() as conn:
            cursor = conn.execute(
                "INSERT INTO conversations (title, model, backend, system_prompt, params,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (title, model, backend, system_prompt, encoded, now, now),
            )
        assert cursor.lastrowid is not None
        return Conversation(cursor.lastrowid, title, model, backend, system_prompt, params, now, now)

    def set_conversation_settings(self, conversation_id: int, *, system_prompt: str, params: dict[str, Any]) -> None:
        """Replace a conversation's system prompt and sampling parameters."""
        self._update_conversation(conversation_id, "system_prompt = ?, params = ?", (system_prompt, json.dumps(params)))

    def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        """Pin a conversation to the top of the list, or unpin it."""
        self._update_conversation(conversation_id, "pinned = ?", (int(pinned),))

    def set_archived(self, conversation_id: int, archived: bool) -> None:
        """Move a conversation to the archive, or back out of it."""
        self._update_conversation(conversation_id, "archived = ?", (int(archived),))

    def get_conversation(self, conversation_id: int) -> Conversation | None:
        """The conversation with this id, or None if there is none."""
        rows = self._read(f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?", (conversation_id,))
        return _conversation(rows[0]) if rows else None

    def list_conversations(
        self, *, limit: int = 200, offset: int = 0, archived: bool | None = None
    ) -> list[Conversation]:
        """Conversations, most recently updated first; ``archived`` keeps only those (or the others)."""
        where = "" if archived is None else f"WHERE archived = {int(archived)}"
        found = self._read(
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
        found = self._read(
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
        with self._write() as conn:
            conn.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))

    # Messages

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
        with self._write() as conn:
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
        with self._write() as conn:
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
        with self._write() as conn:
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
        return self.with_parts([_message(row)])[0]

    def list_messages(
        self, conversation_id: int, *, before_id: int | None = None, limit: int | None = None
    ) -> list[ChatMessage]:
        """The conversation's current path, oldest first; with ``limit``, only its last messages.

        ``before_id`` keeps the messages before that one on its path, for loading a long
        conversation one page at a time from its end. Other branches are left out.
        """
        if before_id is None:
            found = self._read("SELECT leaf_id FROM conversations WHERE id = ?", (conversation_id,))
        else:
            found = self._read(
                "SELECT parent_id FROM messages WHERE id = ? AND conversation_id = ?",
                (before_id, conversation_id),
            )
        start = found[0][0] if found else None
        return self.path_to(start, limit=limit) if limit != 0 else []

    def count_messages(self, conversation_id: int) -> int:
        """How many messages a conversation has."""
        rows = self._read("SELECT COUNT(*) FROM messages WHERE conversation_id = ?", (conversation_id,))
        return int(rows[0][0])

    # Internals

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, rolled back if the body raises."""
        with self._lock:
            conn = self._connection()
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "write to") from exc
            self._make_sidecars_private()

    def _read(self, sql: str, args: Sequence[Any] | Mapping[str, Any]) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._connection().execute(sql, args).fetchall()
            except sqlite3.Error as exc:
                raise translate(exc, self.path, "read") from exc

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"The history file {self.path} is already closed.")
        return self._conn

    def _update_conversation(self, conversation_id: int, assignments: str, args: tuple[Any, ...]) -> None:
        with self._write() as conn:
            cursor = conn.execute(f"UPDATE conversations SET {assignments} WHERE id = ?", (*args, conversation_id))
            if cursor.rowcount == 0:
                raise NotFound(f"Conversation {conversation_id} no longer exists.")

    def _recover_interrupted(self) -> int:
        """Mark answers whose writing process is gone as interrupted, keeping their text."""
        me = os.getpid()
        with self._write() as conn:
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

    def _make_sidecars_private(self) -> None:
        """Give the -wal and -shm files mode 0600 once SQLite has created them."""
        if self._sidecars_private:
            return
        done = True
        for suffix in ("-wal", "-shm"):
            try:
                os.chmod(f"{self.path}{suffix}", 0o600)
            except FileNotFoundError:
                done = False
            except OSError:
                pass  # Owned by another user: not ours to change.
        self._sidecars_private = done


def _create_private(path: Path) -> None:
    """Create an empty file readable only by its owner, whatever the umask, unless it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"Could not create the history file {path}: {exc.strerror}.") from exc
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _configure(conn: sqlite3.Connection) -> None:
    conn.row_factory = sqlite3.Row
    register_functions(conn)
    # The busy timeout comes first so the switch to WAL also waits for another lchat.
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA synchronous = NORMAL")


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
