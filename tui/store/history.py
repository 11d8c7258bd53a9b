"""The conversation history: one SQLite file that several lchat processes may share."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from tui.domain import ChatMessage, Conversation, ConversationSettings, MessagePart, MessageStatus, Role, SearchHit
from tui.store.branches import Branches
from tui.store.conversations import Conversations
from tui.store.db import Database
from tui.store.errors import DatabaseCorrupt, translate
from tui.store.messages import Messages
from tui.store.parts import Parts
from tui.store.schema import migrate
from tui.store.search import Search
from tui.store.transfer import Transfer


class HistoryStore:
    """Conversations and their messages, kept in one SQLite file.

    Every write is its own ``BEGIN IMMEDIATE`` transaction so two lchat processes can
    share the file; calls are serialised by a lock so thread workers may use the store.
    Build one with :meth:`open`. The work is done by parts that share one :class:`Database`
    (conversations, messages, branches, parts, search, transfer); this class is their one face.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        """The connection every part shares."""
        self.recovered = 0
        """How many half-written answers were marked interrupted when the file was opened."""
        self._conversations = Conversations(db)
        self._parts = Parts(db)
        self._branches = Branches(db, self._parts)
        self._messages = Messages(db, self._parts, self._branches)
        self._search = Search(db)
        self._transfer = Transfer(db)

    @classmethod
    def open(cls, path: Path) -> HistoryStore:
        """Open (or create) the file at ``path``, upgrade its schema and recover stale answers.

        The parent folder must exist. Raises a :class:`StoreError` subclass on failure.
        """
        path = Path(path)
        db = Database.connect(path)
        try:
            migrate(db.connection(), path)
            store = cls(db)
            store.recovered = store._messages.recover_interrupted()
        except sqlite3.Error as exc:
            db.close()
            raise translate(exc, path, "open") from exc
        except BaseException:
            db.close()
            raise
        db.make_sidecars_private()
        return store

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self.db.path

    def quick_check(self) -> None:
        """Read every page once (SQLite's quick_check); raise DatabaseCorrupt if any is damaged."""
        rows = self.db.read("PRAGMA quick_check")
        problems = [row[0] for row in rows if row[0] != "ok"]
        if problems:
            raise DatabaseCorrupt(self.path, "; ".join(problems[:3]))

    def outside_changes(self) -> int:
        """A number that changes whenever another connection (another lchat) commits to the file,
        and only then: SQLite's data_version, cheap enough to poll every few seconds."""
        return int(self.db.read("PRAGMA data_version")[0][0])

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has run."""
        return self.db.closed

    def close(self) -> None:
        """Close the file; further calls raise :class:`StoreError`. Safe to call twice."""
        self.db.close()

    def __enter__(self) -> HistoryStore:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # Conversations (tui.store.conversations)

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
        return self._conversations.create_conversation(
            title=title, model=model, backend=backend, system_prompt=system_prompt, settings=settings
        )

    def set_conversation_settings(
        self, conversation_id: int, *, system_prompt: str, settings: ConversationSettings
    ) -> None:
        """Replace a conversation's system prompt and settings."""
        self._conversations.set_conversation_settings(conversation_id, system_prompt=system_prompt, settings=settings)

    def set_pinned(self, conversation_id: int, pinned: bool) -> None:
        """Pin a conversation to the top of the list, or unpin it."""
        self._conversations.set_pinned(conversation_id, pinned)

    def set_archived(self, conversation_id: int, archived: bool) -> None:
        """Move a conversation to the archive, or back out of it."""
        self._conversations.set_archived(conversation_id, archived)

    def get_conversation(self, conversation_id: int) -> Conversation | None:
        """The conversation with this id, or None if there is none."""
        return self._conversations.get_conversation(conversation_id)

    def list_conversations(
        self, *, limit: int = 200, offset: int = 0, archived: bool | None = None
    ) -> list[Conversation]:
        """Conversations, most recently updated first; ``archived`` keeps only those (or the others)."""
        return self._conversations.list_conversations(limit=limit, offset=offset, archived=archived)

    def list_conversation_page(
        self, *, archived: bool = False, after: Conversation | None = None, limit: int = 100
    ) -> list[Conversation]:
        """One page of the side list, pinned first, found by key after ``after``."""
        return self._conversations.list_conversation_page(archived=archived, after=after, limit=limit)

    def rename_conversation(self, conversation_id: int, title: str) -> None:
        """Give a conversation a new title."""
        self._conversations.rename_conversation(conversation_id, title)

    def set_conversation_model(self, conversation_id: int, model: str, backend: str) -> None:
        """Record the model (and its backend) a conversation now uses."""
        self._conversations.set_conversation_model(conversation_id, model, backend)

    def delete_conversation(self, conversation_id: int) -> None:
        """Delete a conversation and, by cascade, its messages; a missing one is no error."""
        self._conversations.delete_conversation(conversation_id)

    # Messages (tui.store.messages)

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
        """Append a message to the current path (or beside ``sibling_of``), with its parts."""
        return self._messages.add_message(
            conversation_id,
            role,
            content,
            status=status,
            model=model,
            backend=backend,
            sibling_of=sibling_of,
            parts=parts,
        )

    def update_message_content(self, message_id: int, content: str, *, parts: Sequence[MessagePart] = ()) -> None:
        """Save the text so far of an answer that is still streaming, and its growing parts."""
        self._messages.update_message_content(message_id, content, parts=parts)

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
        """Store the final state of an answer, with its parts, and return it."""
        return self._messages.finish_message(
            message_id,
            content=content,
            status=status,
            error=error,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            ttft_s=ttft_s,
            gen_s=gen_s,
            energy_wh=energy_wh,
            reasoning_tokens=reasoning_tokens,
            reasoning_estimated=reasoning_estimated,
            reasoning_ttft_s=reasoning_ttft_s,
            parts=parts,
        )

    def list_messages(
        self, conversation_id: int, *, before_id: int | None = None, limit: int | None = None
    ) -> list[ChatMessage]:
        """The conversation's current path, oldest first (its last ``limit``, before ``before_id``)."""
        return self._messages.list_messages(conversation_id, before_id=before_id, limit=limit)

    def count_messages(self, conversation_id: int) -> int:
        """How many messages a conversation has."""
        return self._messages.count_messages(conversation_id)

    # Branches (tui.store.branches)

    def get_message(self, message_id: int) -> ChatMessage | None:
        """The message with this id, or None."""
        return self._branches.get_message(message_id)

    def path_to(self, message_id: int | None, *, limit: int | None = None) -> list[ChatMessage]:
        """The path from the conversation's first message down to this one (its last ``limit``)."""
        return self._branches.path_to(message_id, limit=limit)

    def path_length(self, message_id: int) -> int:
        """How many messages the path down to this one holds (this one included)."""
        return self._branches.path_length(message_id)

    def messages_after(self, message_id: int, *, limit: int) -> list[ChatMessage]:
        """Up to ``limit`` messages that follow this one along its current branch."""
        return self._branches.messages_after(message_id, limit=limit)

    def siblings(self, message_id: int) -> list[int]:
        """Ids of this message and its alternatives (same parent), oldest first."""
        return self._branches.siblings(message_id)

    def branch_positions(self, message_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """For each message: its place among its siblings (1-based) and how many there are."""
        return self._branches.branch_positions(message_ids)

    def switch_branch(self, message_id: int, step: int) -> int | None:
        """Make the sibling ``step`` places away current; its id, or None at either end."""
        return self._branches.switch_branch(message_id, step)

    def select_message(self, message_id: int) -> None:
        """Make the path through this message current (the branch below it as last left)."""
        self._branches.select_message(message_id)

    # Parts (tui.store.parts)

    def add_part(self, message_id: int, part: MessagePart, *, blob: bytes | None = None) -> MessagePart:
        """Store `part` as the message's next part and return it with its id and `seq`."""
        return self._parts.add_part(message_id, part, blob=blob)

    def update_part(self, part_id: int, *, text: str | None = None, data: dict[str, Any] | None = None) -> None:
        """Save a part's text so far, or its new data (a tool call's state)."""
        self._parts.update_part(part_id, text=text, data=data)

    def get_blob(self, sha256: str) -> bytes | None:
        """An attachment's bytes by content hash, or None when no message keeps them."""
        return self._parts.get_blob(sha256)

    # Search and transfer (tui.store.search, tui.store.transfer)

    def search(self, text: str, *, limit: int = 50, include_parts: bool = False) -> list[SearchHit]:
        """Messages matching ``text``, newest first; ``include_parts`` also looks in their parts."""
        return self._search.search(text, limit=limit, include_parts=include_parts)

    def conversation_ids(self, *, page: int = 1000) -> Iterator[int]:
        """Every conversation's id, oldest first, read a page at a time."""
        return self._transfer.conversation_ids(page=page)

    def import_conversation(
        self,
        conversation: Conversation,
        messages: Sequence[ChatMessage],
        blobs: Mapping[str, bytes] | None = None,
    ) -> Conversation:
        """Add a conversation and its messages (as one path) in one transaction; ids are new."""
        return self._transfer.import_conversation(conversation, messages, blobs)

    def import_conversations(
        self, items: Iterable[tuple[Conversation, Sequence[ChatMessage], Mapping[str, bytes]]]
    ) -> list[Conversation]:
        """Import every conversation `items` yields, all in one transaction."""
        return self._transfer.import_conversations(items)
