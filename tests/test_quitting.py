"""Quitting the TUI (ctrl+q, or SIGTERM's polite path) in every state, under Pilot: no worker's
cancellation escapes as an error, the answer is saved as interrupted, the services are closed, and
the app ends with the code lchat exits with. (The same through a real terminal: tests/hostile.)"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Callable

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.scripted_engine import ScriptedEngine, fixed_script
from tui.domain import MessageStatus, Role
from tui.engines.manage import Progress
from tui.engines.ollama.engine import OllamaEngine
from tui.store import HistoryStore
from tui.store.codec import settings_from_json
from tui.ui.app import LchatApp
from tui.ui.screens.prompts import InputQuestion
from tui.ui.screens.settings_screen import SettingsScreen

SIZE = (120, 40)
SIGTERM_CODE = 128 + signal.SIGTERM


async def until(pilot, condition: Callable[[], object], timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await pilot.pause(0.05)


def saved_answer(store: HistoryStore) -> str:
    """The text of the latest answer as committed so far ("" before there is one)."""
    conversations = store.list_conversations()
    messages = store.list_messages(conversations[0].id) if conversations else []
    return messages[-1].content if messages and messages[-1].role is Role.ASSISTANT else ""


def slow_engine() -> ScriptedEngine:
    return ScriptedEngine(script=fixed_script(*[f" word{n}" for n in range(3000)]), delay=0.02)


@pytest.mark.parametrize("code", [0, SIGTERM_CODE])
async def test_quit_while_idle(open_services, code: int) -> None:
    services = open_services(ScriptedEngine())
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        if code:
            await app.quit_with(code)  # What SIGTERM asks of the loop (ExitSignals' polite quit).
        else:
            await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == code
    assert services.store.closed


@pytest.mark.parametrize("code", [0, SIGTERM_CODE])
async def test_quit_while_an_answer_streams_saves_it_interrupted(open_services, paths, code: int) -> None:
    services = open_services(slow_engine())
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"go on", "enter")
        await until(pilot, lambda: " word5" in saved_answer(services.store))
        if code:
            await app.quit_with(code)
        else:
            await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == code  # A traceback would have made it 1 (and run_test raise).
    with HistoryStore.open(paths.database) as store:
        (conversation,) = store.list_conversations()
        answer = store.list_messages(conversation.id)[-1]
    assert answer.role is Role.ASSISTANT and answer.status is MessageStatus.INTERRUPTED
    assert answer.content.startswith(" word0 word1")


async def test_quit_while_the_settings_dialog_is_open(open_services) -> None:
    services = open_services(ScriptedEngine())
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, SettingsScreen))
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0 and services.store.closed


async def test_quit_while_an_attach_path_is_asked_for(open_services) -> None:
    services = open_services(ScriptedEngine())
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("alt+a")
        await until(pilot, lambda: isinstance(app.screen, InputQuestion))
        await pilot.press(*"notes.t")
        await app.quit_with(SIGTERM_CODE)
        await pilot.pause()
    assert app.return_code == SIGTERM_CODE and services.store.closed


async def test_quit_while_a_transfer_runs(open_services) -> None:
    stopped = asyncio.Event()

    async def endless_pull() -> AsyncIterator[Progress]:
        try:
            step = 0
            while True:
                step += 1
                yield Progress("pulling", step * 1_000_000, 10**12)
                await asyncio.sleep(0.05)
        finally:
            stopped.set()

    services = open_services(ScriptedEngine())
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        manager = app.screen.manager
        assert manager.start_transfer("Pulling big:70b", endless_pull(), "done")
        await until(pilot, lambda: manager.transferring)
        await pilot.pause(0.2)
        await pilot.press("ctrl+q")
        await pilot.pause()
    assert app.return_code == 0 and services.store.closed
    assert stopped.is_set()  # The transfer was stopped, not left running.


async def test_quit_while_the_tool_approval_dialog_asks(open_services) -> None:
    """The answer waits on the dialog; quitting refuses nothing and runs nothing: the tool never
    runs, its call stays unfinished (shown interrupted), the MCP server is stopped."""
    import sys

    from tests.test_tools_servers import SERVER
    from tui.config import Config, McpConfig, McpServerConfig
    from tui.tools.service import TOOLS_PARAM
    from tui.ui.screens.tool_approval_screen import ToolApprovalScreen

    state = OllamaState(tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}}])
    state.add("qwen3:4b")
    served = start_ollama(state)
    try:
        config = Config(mcp=McpConfig(servers={"t": McpServerConfig(command=sys.executable, args=[SERVER])}))
        services = open_services(OllamaEngine(host=served.url, read_timeout=5), config=config)
        services.store.create_conversation(
            title="tools", model="qwen3:4b", backend="ollama", settings=settings_from_json({TOOLS_PARAM: ["t"]})
        )
        app = LchatApp(services)
        async with app.run_test(size=SIZE) as pilot:
            await app.screen.models.loaded.wait()
            await pilot.press(*"Weather?", "enter")
            await until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen), timeout=120)
            tools = services.tools
            assert tools is not None and tools.servers.servers["t"].running
            await pilot.press("ctrl+q")
            await pilot.pause()
        assert app.return_code == 0 and services.store.closed
        assert not tools.servers.servers["t"].running
    finally:
        served.stop()
    assert not [m for chat in state.chats for m in chat.get("messages", []) if m.get("role") == "tool"]
