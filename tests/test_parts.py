"""Messages made of parts: the store keeps them, the chat service commits them as they arrive,
export and import carry them."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import aclosing
from dataclasses import replace
from pathlib import Path

import pytest

from tests.scripted_engine import ScriptedEngine, fixed_script
from tui import portable
from tui.chat.events import AnswerEnded, AnswerPiece, ReasoningUpdate
from tui.chat.service import ChatService
from tui.config import ChatConfig
from tui.domain import ConversationSettings, MessagePart, MessageStatus, PartKind, Role
from tui.models.names import ModelChoice
from tui.store import HistoryStore, NotFound


@pytest.fixture
def store(tmp_path: Path):
    with HistoryStore.open(tmp_path / "history.db") as opened:
        yield opened


def test_parts_are_kept_in_order_with_their_place_in_the_text(store: HistoryStore) -> None:
    conversation = store.create_conversation()
    answer = store.add_message(conversation.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    thought = store.add_part(answer.id, MessagePart(PartKind.REASONING, text="Let me think"))
    call = store.add_part(answer.id, MessagePart(PartKind.TOOL_CALL, data={"name": "weather"}, offset=5))
    store.update_part(thought.id, text="Let me think harder")
    store.update_part(call.id, data={"name": "weather", "state": "done"})
    final = store.finish_message(answer.id, content="Sunny", status=MessageStatus.COMPLETE)
    assert [(p.kind, p.seq, p.offset) for p in final.parts] == [(PartKind.REASONING, 0, 0), (PartKind.TOOL_CALL, 1, 5)]
    assert final.reasoning == "Let me think harder"
    assert final.parts[1].data == {"name": "weather", "state": "done"}
    assert store.list_messages(conversation.id)[0].parts == final.parts
    with pytest.raises(NotFound):
        store.add_part(9999, MessagePart(PartKind.REASONING, text="orphan"))


def test_attachments_are_stored_once_and_freed_with_their_last_message(store: HistoryStore, tmp_path: Path) -> None:
    part = MessagePart(PartKind.ATTACHMENT, data={"name": "log.txt", "mime": "text/plain"})
    first, second = store.create_conversation(), store.create_conversation()
    question = store.add_message(first.id, Role.USER, "look", parts=[(part, b"same bytes")])
    store.add_message(second.id, Role.USER, "look again", parts=[(part, b"same bytes")])
    sha256 = question.parts[0].data["sha256"]
    raw = sqlite3.connect(tmp_path / "history.db")
    assert raw.execute("SELECT COUNT(*) FROM blobs").fetchone() == (1,)
    store.delete_conversation(first.id)
    assert store.get_blob(sha256) == b"same bytes"
    store.delete_conversation(second.id)
    assert store.get_blob(sha256) is None
    assert raw.execute("SELECT COUNT(*) FROM blobs").fetchone() == (0,)


def test_reasoning_is_searched_only_when_asked(store: HistoryStore) -> None:
    conversation = store.create_conversation(title="t")
    answer = store.add_message(conversation.id, Role.ASSISTANT, "plain answer")
    store.add_part(answer.id, MessagePart(PartKind.REASONING, text="pondering quaternions"))
    assert store.search("quaternions") == []
    (hit,) = store.search("quaternions", include_parts=True)
    assert hit.message_id == answer.id and hit.in_part


def test_export_and_import_carry_reasoning_and_attachments(store: HistoryStore, tmp_path: Path) -> None:
    conversation = store.create_conversation(title="parts")
    image = MessagePart(PartKind.ATTACHMENT, data={"name": "shot.png", "mime": "image/png"})
    store.add_message(conversation.id, Role.USER, "what is this?", parts=[(image, b"\x89PNG fake")])
    answer = store.add_message(conversation.id, Role.ASSISTANT, "", status=MessageStatus.STREAMING)
    thought = store.add_part(answer.id, MessagePart(PartKind.REASONING, text="It looks like a PNG."))
    store.finish_message(
        answer.id,
        content="A picture.",
        status=MessageStatus.COMPLETE,
        reasoning_tokens=5,
        reasoning_estimated=True,
        parts=[thought],
    )
    doc = portable.document(store, conversation.id)
    assert doc["messages"][1]["reasoning"] == "It looks like a PNG."
    markdown = portable.to_markdown(doc)
    assert "<details>\n<summary>Reasoning</summary>\n\nIt looks like a PNG." in markdown
    assert "shot.png" in markdown
    path = tmp_path / "export.json"
    path.write_text(portable.to_json(doc))
    with HistoryStore.open(tmp_path / "other.db") as other:
        (imported,) = portable.import_file(other, path)
        question, reply = other.list_messages(imported.id)
        assert reply.reasoning == "It looks like a PNG." and reply.content == "A picture."
        assert reply.reasoning_tokens == 5 and reply.reasoning_estimated
        assert other.get_blob(question.parts[0].data["sha256"]) == b"\x89PNG fake"


def test_a_version_1_export_with_a_reasoning_field_imports_it(store: HistoryStore) -> None:
    doc = {
        "format": portable.FORMAT,
        "version": 1,
        "conversation": {"title": "old"},
        "messages": [{"role": "assistant", "content": "42", "reasoning": "deep thought"}],
    }
    conversation, messages, blobs = portable.parse(doc)
    assert messages[0].reasoning == "deep thought" and blobs == {}


def _service(store: HistoryStore, engine: ScriptedEngine, interval: float = 0.25) -> ChatService:
    return ChatService(store, {engine.name: engine}, ChatConfig(), commit_interval=interval)


async def test_reasoning_streams_apart_from_the_answer_and_is_kept(store: HistoryStore) -> None:
    engine = ScriptedEngine(script=fixed_script("The", " answer"), reasoning=["Hmm", ", think"])
    service = _service(store, engine)
    conversation = service.settings.new_conversation()
    updates = []
    async with aclosing(service.answers.send(conversation.id, "q?", ModelChoice("fake", "fake-model"))) as stream:
        async for update in stream:
            updates.append(update)
    assert [u.text for u in updates if isinstance(u, ReasoningUpdate)] == ["Hmm", ", think"]
    assert [u.text for u in updates if isinstance(u, AnswerPiece)] == ["The", " answer"]
    ended = updates[-1]
    assert isinstance(ended, AnswerEnded)
    stored = store.get_message(ended.message.id)
    assert stored.content == "The answer" and stored.reasoning == "Hmm, think"
    assert stored.reasoning_tokens == 2 and stored.reasoning_ttft_s is not None
    assert stored.ttft_s >= stored.reasoning_ttft_s
    # Later turns send the answer without its reasoning.
    turns, _ = service.prompts.fitted_turns(
        store.get_conversation(conversation.id), stored.id, ModelChoice("fake", "fake-model")
    )
    assert turns[-1].content == "The answer" and "Hmm" not in turns[-1].content


async def test_reasoning_is_committed_as_it_arrives_and_kept_on_cancel(store: HistoryStore, tmp_path: Path) -> None:
    engine = ScriptedEngine(
        script=fixed_script("never shown"), reasoning=[f"step {n}. " for n in range(200)], delay=0.01
    )
    service = _service(store, engine, interval=0.05)
    conversation = service.settings.new_conversation()
    seen: list[str] = []

    async def consume() -> None:
        async with aclosing(
            service.answers.send(conversation.id, "think hard", ModelChoice("fake", "fake-model"))
        ) as stream:
            async for update in stream:
                if isinstance(update, ReasoningUpdate):
                    seen.append(update.text)

    task = asyncio.create_task(consume())
    while len(seen) < 30:
        await asyncio.sleep(0.01)
    # Another process reading the file sees the reasoning so far, before the answer ends.
    raw = sqlite3.connect(tmp_path / "history.db")
    (on_disk,) = raw.execute("SELECT text FROM message_parts WHERE kind = 'reasoning'").fetchone()
    assert on_disk.startswith("step 0. step 1. ") and len(on_disk) >= len("step 0. ") * 10
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    answer = store.list_messages(conversation.id)[-1]
    assert answer.status is MessageStatus.INTERRUPTED and answer.content == ""
    assert answer.reasoning == "".join(seen)


async def test_think_off_is_passed_to_the_engine(store: HistoryStore) -> None:
    engine = ScriptedEngine(script=fixed_script("ok"), reasoning=["hidden"])
    service = _service(store, engine)
    conversation = service.settings.new_conversation()
    store.set_conversation_settings(conversation.id, system_prompt="", settings=ConversationSettings(think="off"))
    async with aclosing(service.answers.send(conversation.id, "q", ModelChoice("fake", "fake-model"))) as stream:
        kinds = [type(update).__name__ async for update in stream]
    assert "ReasoningUpdate" not in kinds and engine.requests[-1][2].think == "off"


async def test_a_refused_final_save_keeps_the_reasoning_for_later(
    store: HistoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tui.store import StoreFull

    engine = ScriptedEngine(script=fixed_script("done"), reasoning=["kept in memory"])
    service = _service(store, engine)
    conversation = service.settings.new_conversation()
    real_finish = store.finish_message

    def full(*args, **kwargs):
        raise StoreFull(store.path)

    monkeypatch.setattr(store, "finish_message", full)
    async with aclosing(service.answers.send(conversation.id, "q", ModelChoice("fake", "fake-model"))) as stream:
        updates = [update async for update in stream]
    assert updates[-1].save_error and updates[-1].message.reasoning == "kept in memory"
    monkeypatch.setattr(store, "finish_message", real_finish)
    assert service.saver.save_unsaved() == 0
    answer = store.list_messages(conversation.id)[-1]
    assert answer.reasoning == "kept in memory" and answer.status is MessageStatus.COMPLETE
    assert replace(answer.parts[0], id=None).kind is PartKind.REASONING
