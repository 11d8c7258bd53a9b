"""The chat service: the question is committed first, the answer as it streams."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import aclosing

import pytest

from tests.scripted_engine import ScriptedEngine, fixed_script
from tui.chat.answers import title_from
from tui.chat.events import AnswerEnded, AnswerPiece, AnswerStarted, QuestionSaved
from tui.chat.service import ChatService
from tui.config import ChatConfig
from tui.domain import MessageStatus, ModelInfo, Role
from tui.engines.base import Finished, ModelNotFound, TextPiece
from tui.models.names import ModelChoice, Waiting
from tui.store import HistoryStore

FAKE = ModelChoice("fake", "fake-model")


@pytest.fixture
def store(tmp_path):
    with HistoryStore.open(tmp_path / "history.db") as store:
        yield store


def read_messages(store: HistoryStore) -> list[tuple[str, str, str]]:
    """What another process would see in the file right now."""
    with sqlite3.connect(store.path) as other:
        return other.execute("SELECT role, content, status FROM messages ORDER BY id").fetchall()


async def test_question_is_committed_before_generation_and_answer_while_streaming(store) -> None:
    engine = ScriptedEngine(script=fixed_script(*[f"w{n} " for n in range(30)]), delay=0.02)
    service = ChatService(store, {"fake": engine}, ChatConfig(), commit_interval=0.1)
    conversation = service.settings.new_conversation(FAKE)
    seen_mid_stream = []
    async with aclosing(service.answers.send(conversation.id, "question", FAKE)) as updates:
        async for update in updates:
            if isinstance(update, QuestionSaved):
                assert read_messages(store) == [("user", "question", "complete")]
                assert engine.requests == []  # nothing generated yet
            elif isinstance(update, AnswerPiece) and len(seen_mid_stream) < 1 and read_messages(store)[-1][1]:
                seen_mid_stream.append(read_messages(store)[-1])
    assert seen_mid_stream, "the answer was never committed while it streamed"
    role, content, status = seen_mid_stream[0]
    assert (role, status) == ("assistant", "streaming") and " ".join(f"w{n}" for n in range(30)).startswith(
        content.strip()
    )
    assert read_messages(store)[-1] == ("assistant", "".join(f"w{n} " for n in range(30)), "complete")


class StallingEngine(ScriptedEngine):
    """Sends two pieces at once, then nothing until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = asyncio.Event()

    async def chat(self, model, messages, options):
        yield TextPiece("first")
        yield TextPiece(" second")
        await self.release.wait()
        yield Finished(prompt_tokens=1, completion_tokens=2, ttft_s=0.0, gen_s=0.1)


async def test_an_answer_that_stalls_is_committed_up_to_its_last_piece(store) -> None:
    engine = StallingEngine()
    service = ChatService(store, {"fake": engine}, ChatConfig(), commit_interval=0.1)
    conversation = service.settings.new_conversation(FAKE)

    async def consume() -> None:
        async with aclosing(service.answers.send(conversation.id, "go", FAKE)) as updates:
            [update async for update in updates]

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.4)  # the engine is silent now: no piece will trigger a save
    assert read_messages(store)[-1] == ("assistant", "first second", "streaming")
    engine.release.set()
    await task
    assert read_messages(store)[-1] == ("assistant", "first second", "complete")


async def test_cancelling_the_consumer_marks_the_answer_interrupted(store) -> None:
    engine = ScriptedEngine(script=fixed_script(*["x"] * 1000), delay=0.01)
    service = ChatService(store, {"fake": engine}, ChatConfig())
    conversation = service.settings.new_conversation(FAKE)
    pieces = []

    async def consume() -> None:
        async with aclosing(service.answers.send(conversation.id, "go", FAKE)) as updates:
            async for update in updates:
                if isinstance(update, AnswerPiece):
                    pieces.append(update.text)

    task = asyncio.create_task(consume())
    while len(pieces) < 5:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    answer = store.list_messages(conversation.id)[-1]
    assert answer.status is MessageStatus.INTERRUPTED
    assert answer.content == "x" * len(answer.content) and len(answer.content) >= 5


async def test_closing_without_the_event_loop_saves_what_arrived_as_interrupted(open_services) -> None:
    """What a terminal hang-up does: Services.close() from the loop's signal callback, mid-answer,
    where no cancellation will run before the process exits."""
    services = open_services(StallingEngine())
    conversation = services.chat.settings.new_conversation(FAKE)
    updates = services.chat.answers.send(conversation.id, "go", FAKE)
    async for update in updates:
        if isinstance(update, AnswerPiece) and update.text == " second":
            break
    path = services.store.path
    services.close()
    services.close()  # safe twice, and so is the async close after it
    await services.aclose()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT role, content, status FROM messages ORDER BY id").fetchall() == [
            ("user", "go", "complete"),
            ("assistant", "first second", "interrupted"),
        ]


async def test_history_and_system_prompt_reach_the_engine(store) -> None:
    engine = ScriptedEngine()
    service = ChatService(store, {"fake": engine}, ChatConfig(system_prompt="Be brief."))
    conversation = service.settings.new_conversation(FAKE)
    for text in ("one", "two"):
        async with aclosing(service.answers.send(conversation.id, text, FAKE)) as updates:
            events = [u async for u in updates]
    assert [type(e) for e in events] == [
        QuestionSaved,
        AnswerStarted,
        AnswerPiece,
        AnswerPiece,
        AnswerPiece,
        AnswerEnded,
    ]
    _, turns, options = engine.requests[-1]
    assert [(t.role, t.content) for t in turns] == [
        (Role.SYSTEM, "Be brief."),
        (Role.USER, "one"),
        (Role.ASSISTANT, "You said: one"),
        (Role.USER, "two"),
    ]
    assert options.temperature == ChatConfig().temperature
    assert store.get_conversation(conversation.id).title == "one"


def test_find_model_by_name_file_or_unique_part(store) -> None:
    service = ChatService(store, {}, ChatConfig())
    models = [
        ModelInfo(name="/m/SmolLM2-135M-Instruct.Q4_1.gguf", backend="embedded", extra={"title": "SmolLM2"}),
        ModelInfo(name="/m/qwen2.5-7b-instruct-q4_k_m.gguf", backend="embedded"),
        ModelInfo(name="/m/qwen2.5-14b-instruct-q4_k_m.gguf", backend="embedded"),
    ]
    assert service.models.find_model(models, "smol").name.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")
    assert (
        service.models.find_model(models, "qwen2.5-7b-instruct-q4_k_m.gguf").name
        == "/m/qwen2.5-7b-instruct-q4_k_m.gguf"
    )
    with pytest.raises(ModelNotFound, match="matches several"):
        service.models.find_model(models, "qwen")
    with pytest.raises(ModelNotFound, match="matches no model"):
        service.models.find_model(models, "llama")


def test_default_model_prefers_config_then_starter(store) -> None:
    models = [
        ModelInfo(name="/m/a.gguf", backend="embedded"),
        ModelInfo(name="/m/broken.gguf", backend="embedded", extra={"error": "not a GGUF"}),
        ModelInfo(name="/m/starter.gguf", backend="embedded", extra={"starter": True}),
    ]
    assert ChatService(store, {}, ChatConfig()).models.default_model(models).name == "/m/starter.gguf"
    assert ChatService(store, {}, ChatConfig(model="a.gguf")).models.default_model(models).name == "/m/a.gguf"
    assert ChatService(store, {}, ChatConfig()).models.default_model(models[1:2]) is None


def test_a_configured_model_not_listed_is_never_replaced_by_another(store) -> None:
    models = [ModelInfo(name="/m/starter.gguf", backend="embedded", extra={"starter": True})]
    engines = {"embedded": ScriptedEngine(name="embedded"), "ollama": ScriptedEngine(name="ollama")}
    service = ChatService(store, engines, ChatConfig(model="qwen2.5:0.5b"))
    assert service.models.default_model(models) is None  # Shown as not chosen, not as the starter.
    assert service.models.answer_model(models, pending=["ollama"]) == Waiting("qwen2.5:0.5b", ("ollama",))
    with pytest.raises(ModelNotFound, match=r"chat.model.*'qwen2.5:0.5b' matches no model.*ollama: HTTP 401"):
        service.models.answer_model(models, offline={"ollama": "HTTP 401"})
    listed = [*models, ModelInfo(name="qwen2.5:0.5b", backend="ollama")]
    assert service.models.answer_model(listed) == ModelChoice("ollama", "qwen2.5:0.5b")
    # `lchat ask --backend embedded`: that backend's own model, whatever the configured one is.
    assert service.models.answer_model(models, backend="embedded") == ModelChoice("embedded", "/m/starter.gguf")
    assert service.models.find_model(listed, "embedded/starter.gguf") == ModelChoice("embedded", "/m/starter.gguf")


def test_title_from_first_line() -> None:
    assert title_from("\n  How do I   bake bread?\nwith details") == "How do I bake bread?"
    assert len(title_from("x" * 200)) == 60
