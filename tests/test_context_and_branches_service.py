"""The chat service's branches (regenerate, edit and resend) and context-window fitting."""

from __future__ import annotations

from contextlib import aclosing

import pytest

from tests.scripted_engine import ScriptedEngine
from tui.chat.context_window import estimate_tokens, fit
from tui.chat.events import AnswerEnded, AnswerStarted, QuestionSaved
from tui.chat.service import ChatService
from tui.config import ChatConfig
from tui.domain import ChatMessage, ConversationSettings, MessageStatus, Role
from tui.models.names import ModelChoice
from tui.store import HistoryStore

FAKE = ModelChoice("fake", "fake-model")


@pytest.fixture
def store(tmp_path):
    with HistoryStore.open(tmp_path / "history.db") as store:
        yield store


async def drain(updates) -> list:
    async with aclosing(updates) as stream:
        return [update async for update in stream]


def msg(role: Role, content: str, **extra) -> ChatMessage:
    return ChatMessage(id=0, conversation_id=0, role=role, content=content, **extra)


# Fitting the context


def test_everything_fits_when_there_is_room() -> None:
    messages = [msg(Role.USER, "hi"), msg(Role.ASSISTANT, "hello")]
    fitted = fit("Be brief.", messages, limit=4096, reserve=1024)
    assert [t.content for t in fitted.turns] == ["Be brief.", "hi", "hello"]
    assert fitted.dropped == 0 and fitted.limit == 4096
    assert fitted.tokens == estimate_tokens("Be brief.") + estimate_tokens("hi") + estimate_tokens("hello")


def test_oldest_turns_go_first_and_the_system_prompt_stays() -> None:
    messages = [msg(Role.USER if n % 2 == 0 else Role.ASSISTANT, f"{n} " + "x" * 300) for n in range(10)]
    fitted = fit("SYSTEM", messages, limit=600, reserve=200)
    assert fitted.turns[0].content == "SYSTEM"
    assert fitted.dropped > 0 and fitted.tokens <= 400
    kept = fitted.turns[1:]
    assert kept[0].role is Role.USER  # never starts with an orphaned answer
    assert kept[-1].content.startswith("9 ")
    assert len(kept) == 10 - fitted.dropped


def test_reported_answer_tokens_count_instead_of_the_estimate() -> None:
    answer = msg(Role.ASSISTANT, "y" * 3000, completion_tokens=10)
    fitted = fit("", [msg(Role.USER, "q"), answer, msg(Role.USER, "again")], limit=100, reserve=0)
    assert fitted.dropped == 0


def test_the_newest_message_is_sent_even_when_too_long() -> None:
    fitted = fit("", [msg(Role.USER, "old"), msg(Role.USER, "z" * 10_000)], limit=100, reserve=50)
    assert [t.content[:1] for t in fitted.turns] == ["z"] and fitted.dropped == 1


def test_no_limit_keeps_everything() -> None:
    fitted = fit("", [msg(Role.USER, "a" * 100_000)], limit=None, reserve=0)
    assert fitted.dropped == 0 and fitted.limit is None


async def test_send_trims_to_the_model_context_and_says_so(store) -> None:
    engine = ScriptedEngine(models=["small"])
    service = ChatService(store, {"fake": engine}, ChatConfig(max_tokens=100, system_prompt="Stay kind."))
    await service.models.list_models()  # learns the fake's context length (4096)
    model = ModelChoice("fake", "small")
    conversation = service.settings.new_conversation(model)
    store.set_conversation_settings(
        conversation.id, system_prompt="Stay kind.", settings=ConversationSettings(context_length=300)
    )
    for n in range(6):
        await drain(service.answers.send(conversation.id, f"question {n} " + "w" * 200, model))
    updates = await drain(service.answers.send(conversation.id, "last one", model))
    started = next(u for u in updates if isinstance(u, AnswerStarted))
    assert started.context is not None
    assert started.context.limit == 300 and started.context.dropped > 0
    sent = engine.requests[-1][1]
    assert sent[0].content == "Stay kind." and sent[-1].content == "last one"
    assert len(sent) < 2 * 7
    assert service.models.context_limit(conversation, model) == 4096  # the stored copy has no setting
    engine.context_cap = 2048
    assert service.models.context_limit(conversation, model) == 2048
    other = ModelChoice("other", "small")  # another backend's model is not trimmed by this cap
    service.models.engines["other"] = ScriptedEngine(name="other", models=["small"])
    await service.models.list_models()
    assert service.models.context_limit(conversation, other) == 4096


# Branches


async def test_regenerate_makes_a_sibling_answer_from_the_same_history(store) -> None:
    answers = iter(["first answer", "second answer"])
    engine = ScriptedEngine(script=lambda turns: [next(answers)])
    service = ChatService(store, {"fake": engine}, ChatConfig())
    conversation = service.settings.new_conversation(FAKE)
    await drain(service.answers.send(conversation.id, "question", FAKE))
    first = store.list_messages(conversation.id)[-1]

    updates = await drain(service.answers.regenerate(conversation.id, first.id, FAKE))
    assert [type(u).__name__ for u in updates][0] == "AnswerStarted"
    assert not any(isinstance(u, QuestionSaved) for u in updates)
    final = updates[-1]
    assert isinstance(final, AnswerEnded) and final.message.content == "second answer"
    assert [m.content for m in store.list_messages(conversation.id)] == ["question", "second answer"]
    assert store.siblings(first.id) == [first.id, final.message.id]
    # The engine saw the same history both times, without the first answer.
    assert [t.content for t in engine.requests[0][1]] == [t.content for t in engine.requests[1][1]] == ["question"]


async def test_edit_and_resend_branches_at_the_question(store) -> None:
    engine = ScriptedEngine()
    service = ChatService(store, {"fake": engine}, ChatConfig())
    conversation = service.settings.new_conversation(FAKE)
    await drain(service.answers.send(conversation.id, "first", FAKE))
    await drain(service.answers.send(conversation.id, "second", FAKE))
    second = store.list_messages(conversation.id)[2]

    updates = await drain(service.answers.resend(conversation.id, second.id, "second, edited", FAKE))
    assert isinstance(updates[0], QuestionSaved) and updates[0].message.parent_id == second.parent_id
    assert [m.content for m in store.list_messages(conversation.id)] == [
        "first",
        "You said: first",
        "second, edited",
        "You said: second, edited",
    ]
    assert [t.content for t in engine.requests[-1][1]] == ["first", "You said: first", "second, edited"]
    store.switch_branch(updates[0].message.id, -1)
    assert [m.content for m in store.list_messages(conversation.id)][-1] == "You said: second"
    assert all(m.status is MessageStatus.COMPLETE for m in store.list_messages(conversation.id))


async def test_a_long_path_is_read_from_its_end_only(store, monkeypatch) -> None:
    engine = ScriptedEngine(context_cap=400)
    service = ChatService(store, {"fake": engine}, ChatConfig(max_tokens=100))
    conversation = service.settings.new_conversation(FAKE)
    for n in range(300):
        store.add_message(conversation.id, Role.USER if n % 2 == 0 else Role.ASSISTANT, f"turn {n} " + "y" * 60)
    read: list[int | None] = []
    original = store.path_to
    monkeypatch.setattr(store, "path_to", lambda end, limit=None: read.append(limit) or original(end, limit=limit))
    updates = await drain(service.answers.send(conversation.id, "newest", FAKE))
    context = next(u for u in updates if isinstance(u, AnswerStarted)).context
    assert read == [64]  # one window from the end was enough
    sent = engine.requests[-1][1]
    assert sent[-1].content == "newest"
    assert context.dropped == 301 - (len(sent)) and context.tokens <= 300
    assert store.path_length(store.list_messages(conversation.id)[-1].id) == 302
