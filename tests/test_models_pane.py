"""The models pane under Pilot: groups, offline backends, filter, switcher, favourites, details,
a mid-conversation switch, an Ollama pull with progress and an Ollama fault in the chat."""

from __future__ import annotations

import asyncio

import pytest
from textual.widgets import OptionList

from tests.fake_ollama import GIB, OllamaState, start_ollama
from tests.loopback import closed_port
from tests.scripted_engine import ScriptedEngine
from tui.config.read import load_config
from tui.domain import MessageStatus, Role
from tui.engines.ollama.engine import OllamaEngine
from tui.fit.estimate import Memory
from tui.fit.memory import MemorySnapshot
from tui.ui.app import LchatApp
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.model_details import ModelDetailsScreen
from tui.ui.screens.model_switcher import ModelSwitcher
from tui.ui.widgets.message_view import MessageView
from tui.ui.widgets.model_pane import FilterInput, ModelPane
from tui.ui.widgets.stats_pane import StatsPane

SIZE = (160, 50)


def pane(app: LchatApp) -> ModelPane:
    return app.screen.query_one(ModelPane)


async def settle(app: LchatApp, pilot) -> None:
    """Let the model list arrive (the worker group "models" and its re-renders); fails if it never does."""
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        await pilot.pause()
        if app.screen.models.loaded.is_set() and not any(
            w.group == "models" and w.is_running for w in app.screen.workers
        ):
            await pilot.pause()
            return
        await asyncio.sleep(0.02)
    pytest.fail("the model list did not settle within 20 s")


async def ask(pilot, text: str) -> None:
    await pilot.press(*text, "enter")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def engines():
    return (
        ScriptedEngine(name="fake", models=["alpha-7b", "qwen-coder"]),
        ScriptedEngine(name="other", models=["llama-3b"]),
    )


async def test_groups_and_an_offline_backend(open_services, engines) -> None:
    offline = OllamaEngine(host=f"127.0.0.1:{closed_port()}", connect_timeout=10)
    services = open_services(*engines, offline)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        rows = pane(app).visible_rows
        assert [(r.backend, r.label) for r in rows] == [
            ("fake", "alpha-7b"),
            ("fake", "qwen-coder"),
            ("other", "llama-3b"),
        ]
        groups = {g.backend: g for g in pane(app)._groups}
        assert "connection refused" in groups["ollama"].offline
        assert rows[0].current  # the first usable model answers by default
        # lchat works with what is reachable.
        await ask(pilot, "hello")
        assert app.screen.query(MessageView).last().message.status is MessageStatus.COMPLETE


async def test_filter_narrows_the_list_and_escape_clears_it(open_services, engines) -> None:
    app = LchatApp(open_services(*engines))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("slash", *"qwen")
        await pilot.pause()
        assert [r.label for r in pane(app).visible_rows] == ["qwen-coder"]
        await pilot.press("enter", "enter")  # back to the list, then use it
        await pilot.pause()
        assert app.screen.conversations.current.model == "qwen-coder"
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("slash", *"zzz")
        await pilot.pause()
        assert pane(app).visible_rows == []
        await pilot.press("escape")
        await pilot.pause()
        assert len(pane(app).visible_rows) == 3 and not app.screen.query_one(FilterInput).display


async def test_fuzzy_switcher(open_services, engines) -> None:
    app = LchatApp(open_services(*engines))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("ctrl+l")
        await pilot.pause()
        assert isinstance(app.screen, ModelSwitcher)
        await pilot.press(*"lma3")
        await pilot.pause()
        best = app.screen.query_one(OptionList).get_option_at_index(0).prompt
        assert str(best).splitlines()[:2] == ["  llama-3b", "  other · 4k"]  # flat list: each row names its backend
        await pilot.press("enter")
        await pilot.pause()
        conversation = app.screen.conversations.current
        assert (conversation.backend, conversation.model) == ("other", "llama-3b")
        await pilot.press("ctrl+l", "escape")
        await pilot.pause()
        assert not isinstance(app.screen, ModelSwitcher)


async def test_g_and_shift_g_jump_to_the_first_and_last_model(open_services, engines) -> None:
    app = LchatApp(open_services(*engines))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f4", "G")
        await pilot.pause()
        assert pane(app).highlighted.name == "llama-3b"
        await pilot.press("g")
        await pilot.pause()
        assert pane(app).highlighted.name == "alpha-7b"


async def test_favourites_on_number_keys_are_saved(open_services, engines, paths) -> None:
    app = LchatApp(open_services(*engines))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("j", "f")  # qwen-coder becomes favourite 1
        await pilot.press("j", "f")  # llama-3b becomes favourite 2
        await pilot.pause()
        assert load_config(paths.config_file).config.models.favourites == ["fake/qwen-coder", "other/llama-3b"]
        assert [r.favourite for r in pane(app).visible_rows] == [None, 1, 2]
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press("alt+2")  # from the composer
        await pilot.pause()
        assert app.screen.conversations.current.model == "llama-3b"
        await pilot.press("alt+1")
        await pilot.pause()
        assert app.screen.conversations.current.model == "qwen-coder"
        await pilot.press("alt+5")
        await pilot.pause()
        assert any("No favourite 5" in n.message for n in app._notifications)


async def test_switching_mid_conversation_keeps_the_history(open_services, engines) -> None:
    first, second = engines
    services = open_services(first, second)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await ask(pilot, "one")
        await pilot.press("ctrl+l", *"llama", "enter")
        await pilot.pause()
        await ask(pilot, "two")
        model, turns, _ = second.requests[-1]
        assert model == "llama-3b"
        assert [(t.role, t.content) for t in turns] == [
            (Role.USER, "one"),
            (Role.ASSISTANT, "You said: one"),
            (Role.USER, "two"),
        ]
    (conversation,) = services.store.list_conversations()
    answers = [m for m in services.store.list_messages(conversation.id) if m.role is Role.ASSISTANT]
    assert [(m.backend, m.model) for m in answers] == [("fake", "alpha-7b"), ("other", "llama-3b")]


@pytest.fixture
def daemon():
    state = OllamaState()
    state.add("llama3.2:latest", size=2 * GIB)
    served = start_ollama(state)
    yield served
    served.stop()


async def test_pull_shows_progress_and_the_model_appears(open_services, daemon) -> None:
    daemon.state.pull_sizes["phi3:mini"] = 2_000_000_000
    daemon.state.pull_steps, daemon.state.pull_delay = 20, 0.05
    app = LchatApp(open_services(OllamaEngine(host=daemon.url)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        app.screen.models.catalog.memory = MemorySnapshot(ram=Memory("RAM", 8 * GIB, 16 * GIB), gpu=None)
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        await pilot.press(*"phi3:mini", "enter")
        seen = []
        for _ in range(100):
            await asyncio.sleep(0.05)
            text = str(pane(app).query_one(".transfer").render())
            if "GB / 2.0 GB" in text:
                seen.append(text)
            if len(seen) >= 3:
                break
        assert seen and "Pulling phi3:mini" in seen[-1] and "/s" in seen[-1]
        # The fit shows once the pull says the size (and goes with the progress when it ends).
        assert any("fits in RAM" in text for text in seen), seen
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        assert "phi3:mini" in [r.name for r in pane(app).visible_rows]
        assert not pane(app).query_one(".transfer").display
        # Cancel: x stops a running pull, nothing is added.
        daemon.state.pull_sizes["big:70b"] = 40_000_000_000
        daemon.state.pull_steps, daemon.state.pull_delay = 200, 0.05
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        await pilot.press(*"big:70b", "enter")
        for _ in range(100):  # 40 GB will not fit in 8 GiB: the pull asks first.
            await asyncio.sleep(0.02)
            if isinstance(app.screen, ConfirmScreen):
                break
        assert isinstance(app.screen, ConfirmScreen) and "big:70b (40.0 GB) will not fit: " in app.screen.question
        await pilot.press("y")
        await asyncio.sleep(0.3)
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("x")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "big:70b" not in daemon.state.models
        assert any("cancelled" in n.message for n in app._notifications)
        # A failing pull says why.
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("p")
        await pilot.pause()
        await pilot.press(*"no-such-model", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert any("file does not exist" in n.message for n in app._notifications)


async def test_details_view_shows_show_fields_and_the_fit(open_services, daemon) -> None:
    app = LchatApp(open_services(OllamaEngine(host=daemon.url)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("i")
        for _ in range(40):
            await pilot.pause()
            if isinstance(app.screen, ModelDetailsScreen):
                break
            await asyncio.sleep(0.02)
        assert isinstance(app.screen, ModelDetailsScreen)
        rows = dict(app.screen.rows)
        assert rows["Architecture"] == "llama" and rows["Capabilities"] == "completion, tools"
        assert rows["Fit"].split(":")[0] in ("fits", "tight", "won't fit")
        assert "weights 2.1 GB + KV cache" in rows["Fit"]
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ModelDetailsScreen)


async def test_ollama_killed_mid_answer_is_shown_and_retry_works(open_services, daemon) -> None:
    services = open_services(OllamaEngine(host=daemon.url))
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        daemon.state.chat_fault = "kill"
        await ask(pilot, "hi")
        answer = app.screen.query(MessageView).last()
        assert answer.has_class("-error") and answer.message.content == "Hello from"
        assert "broke in the middle of the answer" in str(answer.query_one(".error-text").render())
        daemon.state.chat_fault = ""
        await ask(pilot, "again")
        assert app.screen.query(MessageView).last().message.content == "Hello from Ollama."
        # The daemon stops altogether, then comes back on its port: the retry after it works.
        daemon.stop()
        await ask(pilot, "anyone there?")
        answer = app.screen.query(MessageView).last()
        assert answer.has_class("-error") and "connection refused" in str(answer.query_one(".error-text").render())
        restarted = start_ollama(daemon.state, port=int(daemon.url.rsplit(":", 1)[1]))
        try:
            await ask(pilot, "and now?")
            assert app.screen.query(MessageView).last().message.content == "Hello from Ollama."
        finally:
            restarted.stop()


async def test_ollama_unload_and_delete_with_confirmation(open_services, daemon) -> None:
    daemon.state.load("llama3.2:latest")
    app = LchatApp(open_services(OllamaEngine(host=daemon.url)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        assert pane(app).visible_rows[0].state.startswith("loaded")
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("u")
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        assert "llama3.2:latest" not in daemon.state.running
        assert not pane(app).visible_rows[0].state
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await settle(app, pilot)
        assert daemon.state.models == {} and pane(app).visible_rows == []


class FarOllama(OllamaEngine):
    """The loopback daemon, taken for a server on another machine."""

    local = False


async def test_a_model_on_a_remote_server_shows_the_servers_figures(open_services, daemon) -> None:
    engine = FarOllama(host=daemon.url.replace("127.0.0.1", "user:secret@127.0.0.1"))
    app = LchatApp(open_services(engine, ScriptedEngine(name="fake", models=["here"])))
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        remote = app.screen.query_one(StatsPane).query_one(".remote")
        text = str(remote.render())
        assert text.startswith("ollama runs on 127.0.0.1:") and "secret" not in text
        assert text.endswith("server: no model loaded")
        await ask(pilot, "hello")  # the daemon loads the model to answer; /api/ps is read again
        await settle(app, pilot)
        assert "llama3.2:latest: 100% in VRAM (2.0 GiB), unloads in" in str(remote.render())
        row = next(r for r in pane(app).visible_rows if r.backend == "ollama")
        assert row.state.startswith("loaded · 2.1 GB VRAM")  # the models pane knows it too
        app.screen.models.use("fake", "here")  # a model that runs here: no server note
        await pilot.pause()
        assert not remote.display or str(remote.render()) == ""
