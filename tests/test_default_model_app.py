"""The configured default model in the TUI: a question sent before its backend has listed its
models waits for it (and says so); an unavailable one is named, never replaced by another."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.loopback import Served
from tests.scripted_engine import ScriptedEngine
from tui.config import Config
from tui.domain import MessageStatus, Role
from tui.engines.ollama.engine import OllamaEngine
from tui.ui.app import LchatApp
from tui.ui.widgets.composer import Composer

SIZE = (120, 40)


@pytest.fixture
def slow_daemon() -> Iterator[Served]:
    """An Ollama daemon that lists its models only when the test says (`state.list_gate.set()`)."""
    state = OllamaState(list_gate=threading.Event())
    state.add("qwen2.5:0.5b")
    daemon = start_ollama(state)
    yield daemon
    state.list_gate.set()
    daemon.stop()


async def until(pilot, condition, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


def notes(app: LchatApp) -> str:
    return "\n".join(note.message for note in app._notifications)


def build(open_services, daemon: Served) -> tuple[LchatApp, ScriptedEngine]:
    config = Config()
    config.chat.model = "qwen2.5:0.5b"
    starter = ScriptedEngine(name="embedded", models=["/m/starter.gguf"])
    return LchatApp(
        open_services(starter, OllamaEngine(host=daemon.url, connect_timeout=10, read_timeout=60), config=config)
    ), starter


async def test_a_question_sent_at_start_waits_for_the_configured_models_backend(open_services, slow_daemon) -> None:
    app, starter = build(open_services, slow_daemon)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hi", "enter")  # The starter is listed at once; Ollama has not answered.
        await until(pilot, lambda: "Waiting for ollama" in notes(app))
        assert "Waiting for ollama to list models (the configured model is qwen2.5:0.5b)" in notes(app)
        assert app.services.store.list_messages(app.screen.conversations.current.id) == []  # Nothing sent yet.
        slow_daemon.state.list_gate.set()
        await app.workers.wait_for_complete()
        await pilot.pause()
        conversation = app.screen.conversations.current
        assert conversation is not None and (conversation.backend, conversation.model) == ("ollama", "qwen2.5:0.5b")
        question, answer = app.services.store.list_messages(conversation.id)
    assert (question.role, answer.role) == (Role.USER, Role.ASSISTANT)
    assert answer.status is MessageStatus.COMPLETE and answer.backend == "ollama"
    assert answer.content == "Hello from Ollama."
    assert starter.requests == []


async def test_an_unavailable_configured_model_is_named_and_the_question_kept(open_services, slow_daemon) -> None:
    slow_daemon.state.required_auth = "Bearer right-token"
    slow_daemon.state.list_gate.set()
    app, starter = build(open_services, slow_daemon)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"hi", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown = notes(app)
        assert "the configured model (chat.model) is not available: 'qwen2.5:0.5b' matches no model" in shown
        assert "ollama: Ollama at http://127.0.0.1:" in shown and "HTTP 401 unauthorized" in shown
        assert app.screen.query_one(Composer).text == "hi"  # Nothing was sent; the text is back.
        store = app.services.store
        assert not any(store.list_messages(c.id) for c in store.list_conversation_page(limit=5))
    assert starter.requests == []
