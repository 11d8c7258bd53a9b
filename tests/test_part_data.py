"""Tool calls, tool results and attachments typed: the stored JSON is the one lchat always wrote."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

from tui import portable
from tui.chat.answer_draft import AnswerDraft
from tui.domain import MessageStatus, PartKind, Role
from tui.domain.parts import (
    AttachmentData,
    ToolCallData,
    ToolResultData,
    attachment_of,
    call_id_of,
    tool_call_of,
    tool_result_of,
)
from tui.store import HistoryStore, cjk

# As lchat wrote them before the types: a call from before rounds were kept, its result, a file.
OLD_CALL = {"id": "c1", "name": "weather", "tool": "weather", "server": "wx", "arguments": {"city": "Oslo"},
            "approval": "user", "state": "done"}  # fmt: skip
OLD_RESULT = {"id": "c1", "name": "weather", "is_error": False, "cut_from": 40000}
FILE = b"hello, file"
SHA = hashlib.sha256(FILE).hexdigest()
OLD_FILE = {"name": "notes.txt", "mime": "text/plain", "size": len(FILE), "sha256": SHA}


def _old_history(path: Path) -> tuple[int, int, int]:
    """A conversation whose parts are written with sqlite3, in the old form; its ids."""
    with HistoryStore.open(path) as store:
        conversation = store.create_conversation(title="Weather")
        question = store.add_message(conversation.id, Role.USER, "What's the weather?")
        answer = store.add_message(conversation.id, Role.ASSISTANT, "Sunny.", status=MessageStatus.COMPLETE)
    conn = sqlite3.connect(path)
    # The index triggers call lchat's own functions: the store registers them on its connections.
    conn.create_function(cjk.SQL_FUNCTION, 1, cjk.index_text, deterministic=True)
    conn.create_function(cjk.SQL_CHARS_FUNCTION, 1, cjk.index_chars, deterministic=True)
    with conn:
        conn.execute("INSERT INTO blobs (sha256, size, data) VALUES (?, ?, ?)", (SHA, len(FILE), FILE))
        rows = [
            (question.id, 0, "attachment", "", OLD_FILE, 0, SHA),
            (answer.id, 0, "tool_call", "", OLD_CALL, 0, None),
            (answer.id, 1, "tool_result", "It is sunny.", OLD_RESULT, 0, None),
        ]
        conn.executemany(
            "INSERT INTO message_parts (message_id, seq, kind, text, data, text_offset, blob)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(*row[:4], json.dumps(row[4]), *row[5:]) for row in rows],
        )
    conn.close()
    return conversation.id, question.id, answer.id


def _typed(store: HistoryStore, question_id: int, answer_id: int) -> tuple[object, ...]:
    question, answer = store.get_message(question_id), store.get_message(answer_id)
    assert question is not None and answer is not None
    (file,) = question.parts_of(PartKind.ATTACHMENT)
    (call,) = answer.parts_of(PartKind.TOOL_CALL)
    (result,) = answer.parts_of(PartKind.TOOL_RESULT)
    return attachment_of(file), tool_call_of(call), tool_result_of(result), result.text, call_id_of(result)


EXPECTED = (
    AttachmentData("notes.txt", "text/plain", len(FILE), SHA),
    ToolCallData("c1", "weather", "weather", "wx", {"city": "Oslo"}, "user", "done", round=None),
    ToolResultData("c1", "weather", is_error=False, cut_from=40000),
    "It is sunny.",
    "c1",
)


def test_an_old_history_reads_back_typed(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    _, question_id, answer_id = _old_history(path)
    with HistoryStore.open(path) as store:
        assert _typed(store, question_id, answer_id) == EXPECTED
        assert store.get_blob(EXPECTED[0].sha256) == FILE


def test_export_and_import_keep_the_typed_parts(tmp_path: Path) -> None:
    path = tmp_path / "history.db"
    conversation_id, _, _ = _old_history(path)
    with HistoryStore.open(path) as store:
        exported = tmp_path / "export.json"
        exported.write_text(portable.to_json(portable.document(store, conversation_id)))
        (imported,) = portable.import_file(store, exported)
        question, answer = store.list_messages(imported.id)
        assert _typed(store, question.id, answer.id) == EXPECTED
        assert store.get_blob(SHA) == FILE


def test_the_draft_stores_a_tool_call_in_the_old_form(tmp_path: Path) -> None:
    with HistoryStore.open(tmp_path / "history.db") as store:
        conversation = store.create_conversation()
        answer = store.add_message(conversation.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
        draft = AnswerDraft(store, answer)
        call = draft.call_started(
            ToolCallData("c1", "weather", "weather", "wx", {"city": "Oslo"}, state="asked", round=1), offset=0
        )
        draft.call_changed(call, tool_call_of(call).changed(approval="user", state="done"))
        draft.result(ToolResultData("c1", "weather", cut_from=40000), "It is sunny.", offset=0)
    conn = sqlite3.connect(tmp_path / "history.db")
    rows = conn.execute("SELECT kind, text, data FROM message_parts ORDER BY seq").fetchall()
    conn.close()
    assert [(kind, text, json.loads(data)) for kind, text, data in rows] == [
        ("tool_call", "", {**OLD_CALL, "round": 1}),
        ("tool_result", "It is sunny.", OLD_RESULT),
    ]
