"""What a test finds in the history after lchat was killed with -9 in the middle of an answer."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tui.domain import ChatMessage
from tui.store import HistoryStore


def question_and_answer_after_kill(database: Path) -> tuple[ChatMessage, ChatMessage]:
    """The one exchange in `database`, after checking the file is whole and that opening it
    recovered exactly one answer (the one that was streaming)."""
    with sqlite3.connect(database) as raw:
        assert raw.execute("PRAGMA quick_check").fetchone() == ("ok",)
    with HistoryStore.open(database) as store:
        assert store.recovered == 1
        (conversation,) = store.list_conversations()
        question, answer = store.list_messages(conversation.id)
    return question, answer
