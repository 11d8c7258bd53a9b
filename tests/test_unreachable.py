"""A server that never completes the handshake, and a host name that does not resolve: for Ollama and
OpenAI-compatible backends, a message within the connect timeout, at start and on send, while the
other backends stay usable.

The connect timeout is real: a loopback listener whose backlog is already full leaves a new
connection's handshake unanswered (a listener that merely never accepts would complete it).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import aclosing

import httpx  # noqa: F401 - imported up front: the first import, not the connect, would take the time
import ollama  # noqa: F401
import openai  # noqa: F401
import pytest

from tests.loopback import unanswered_port
from tests.scripted_engine import ScriptedEngine
from tui.chat.service import ChatService
from tui.config import ChatConfig
from tui.domain import MessageStatus
from tui.engines.base import Engine, EngineUnavailable
from tui.engines.ollama.engine import OllamaEngine
from tui.engines.openai.engine import OpenAICompatEngine
from tui.models.names import ModelChoice
from tui.store import HistoryStore
from tui.ui.app import LchatApp
from tui.ui.widgets.message_view import MessageView
from tui.ui.widgets.model_pane import ModelPane

CONNECT_S = 1.0
SLACK_S = 1.5
"""Beyond the connect timeout, for a loaded 2-core machine; far below any retry or a resolver's timeout."""
NOWHERE = "lchat-test-host.invalid"
"""A name that never resolves (RFC 6761 reserves .invalid)."""

CASES = [
    ("ollama", "timeout", "did not answer within the connect timeout"),
    ("ollama", "unresolved", "host name not found"),
    ("openai", "timeout", "did not answer within the connect timeout"),
    ("openai", "unresolved", "host name not found"),
]


def make(kind: str, host_port: str) -> Engine:
    if kind == "ollama":
        return OllamaEngine(host=f"http://{host_port}", connect_timeout=CONNECT_S)
    return OpenAICompatEngine(name="lmstudio", base_url=f"http://{host_port}/v1", connect_timeout=CONNECT_S)


@pytest.fixture(params=CASES, ids=[f"{k}-{f}" for k, f, _ in CASES])
def unreachable(request) -> Iterator[tuple[Engine, str]]:
    kind, fault, words = request.param
    if fault == "timeout":
        with unanswered_port() as port:
            yield make(kind, f"127.0.0.1:{port}"), words
    else:
        yield make(kind, f"{NOWHERE}:11434"), words


async def test_listing_says_why_within_the_connect_timeout(unreachable) -> None:
    engine, words = unreachable
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match=words):
        await engine.list_models()
    assert time.monotonic() - started < CONNECT_S + SLACK_S
    await engine.aclose()


async def test_sending_says_why_within_the_connect_timeout_and_others_answer(unreachable, tmp_path) -> None:
    engine, words = unreachable
    fake = ScriptedEngine()
    with HistoryStore.open(tmp_path / "h.db") as store:
        service = ChatService(store, {engine.name: engine, "fake": fake}, ChatConfig())
        away = ModelChoice(engine.name, "some-model")
        conversation = service.settings.new_conversation(away)
        started = time.monotonic()
        async with aclosing(service.answers.send(conversation.id, "hi", away)) as updates:
            [update async for update in updates]
        assert time.monotonic() - started < CONNECT_S + SLACK_S
        question, answer = store.list_messages(conversation.id)
        assert question.content == "hi"  # the question is kept
        assert answer.status is MessageStatus.ERROR and words in answer.error, answer.error
        here = ModelChoice("fake", fake.model_names[0])
        async with aclosing(service.answers.send(conversation.id, "again", here)) as updates:
            [update async for update in updates]
        assert store.list_messages(conversation.id)[-1].status is MessageStatus.COMPLETE
    await engine.aclose()


async def test_at_start_the_models_list_says_why_and_the_rest_works(unreachable, open_services) -> None:
    engine, words = unreachable
    services = open_services(ScriptedEngine(name="fake", models=["alpha-7b"]), engine)
    app = LchatApp(services)
    async with app.run_test(size=(160, 50)) as pilot:
        started = time.monotonic()
        pane = app.screen.query_one(ModelPane)
        while (
            engine.name not in {g.backend: g for g in pane._groups}
            or not {g.backend: g for g in pane._groups}[engine.name].offline
        ):
            assert time.monotonic() - started < CONNECT_S + SLACK_S, "no word about the backend in time"
            await pilot.pause(0.05)
        offline = {g.backend: g for g in pane._groups}[engine.name].offline
        assert words in offline
        await pilot.press(*"hello", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = app.screen.query(MessageView).last().message
        assert answer.status is MessageStatus.COMPLETE and answer.backend == "fake"
