"""The conversation history: one SQLite file that several lchat processes may share."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType

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
        # The store's face: each of these is one of its parts' methods (documented there).
        self.create_conversation = self._conversations.create_conversation
        self.set_conversation_settings = self._conversations.set_conversation_settings
        self.set_pinned = self._conversations.set_pinned
        self.set_archived = self._conversations.set_archived
        self.get_conversation = self._conversations.get_conversation
        self.list_conversations = self._conversations.list_conversations
        self.list_conversation_page = self._conversations.list_conversation_page
        self.rename_conversation = self._conversations.rename_conversation
        self.set_conversation_model = self._conversations.set_conversation_model
        self.delete_conversation = self._conversations.delete_conversation
        self.add_message = self._messages.add_message
        self.update_message_content = self._messages.update_message_content
        self.finish_message = self._messages.finish_message
        self.list_messages = self._messages.list_messages
        self.count_messages = self._messages.count_messages
        self.get_message = self._branches.get_message
        self.path_to = self._branches.path_to
        self.path_length = self._branches.path_length
        self.messages_after = self._branches.messages_after
        self.siblings = self._branches.siblings
        self.branch_positions = self._branches.branch_positions
        self.switch_branch = self._branches.switch_branch
        self.select_message = self._branches.select_message
        self.add_part = self._parts.add_part
        self.update_part = self._parts.update_part
        self.get_blob = self._parts.get_blob
        self.search = self._search.search
        self.conversation_ids = self._transfer.conversation_ids
        self.import_conversation = self._transfer.import_conversation
        self.import_conversations = self._transfer.import_conversations

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

    # Search and transfer (tui.store.search, tui.store.transfer)
