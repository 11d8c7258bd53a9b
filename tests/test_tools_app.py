"""Tools in the TUI under Pilot: choosing a conversation's tools (F10), the approval modal (run once,
always in this chat, refuse), the calls folded in the answer, the header's count and cost."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.test_tools_servers import SERVER
from tui.config import Config, McpConfig, McpServerConfig
from tui.domain import PartKind
from tui.engines.ollama.engine import OllamaEngine
from tui.ui.app import LchatApp
from tui.ui.screens import tool_approval_screen
from tui.ui.screens.tool_approval_screen import ToolApprovalScreen, shown_arguments
from tui.ui.screens.tool_select_screen import ToolSelectScreen
from tui.ui.widgets.message_view import MessageView
from tui.ui.widgets.tool_calls import ToolCallView

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def quick_arming(monkeypatch: pytest.MonkeyPatch) -> None:
    """The approval dialog arms after 50 ms here; the real delay is checked by value."""
    monkeypatch.setattr(tool_approval_screen, "ARM_AFTER_S", 0.05)


@pytest.fixture
def daemon() -> Iterator[tuple[OllamaState, str]]:
    state = OllamaState(tool_calls=[{"name": "weather", "arguments": {"city": "Oslo\x1b[31m"}}])
    state.add("qwen3:4b")
    served = start_ollama(state)
    yield state, served.url
    served.stop()


def _app(open_services, url: str) -> LchatApp:
    config = Config(mcp=McpConfig(servers={"t": McpServerConfig(command=sys.executable, args=[SERVER])}))
    return LchatApp(open_services(OllamaEngine(host=url, read_timeout=5), config=config))


async def until(pilot, condition: Callable[[], object], timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.05)


async def armed(pilot, app: LchatApp) -> None:
    """Wait for the approval dialog to take keys (the tests run with a short arming delay)."""
    await until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen) and app.screen.armed_at is not None)


async def _send(pilot, text: str) -> None:
    await pilot.press(*text)
    await pilot.press("enter")


def _title(app: LchatApp) -> str:
    return str(app.screen.query_one("#chat-title").render())


async def test_choose_tools_then_approve_once_always(open_services, daemon) -> None:
    _, url = daemon
    app = _app(open_services, url)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await main.models.loaded.wait()
        assert main.models.current() is not None, "the Ollama double was not listed (a loaded machine?)"
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, ToolSelectScreen))
        assert len(app.screen.tools) == 8  # every tool of the server, ticked to start with
        await pilot.press("enter")
        await until(pilot, lambda: "8 tools · ~" in _title(app))

        # Run once.
        await _send(pilot, "Weather?")
        await until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen))
        arguments = str(app.screen.query_one("#arguments").render())
        assert "city: Oslo␛[31m" in arguments and "\x1b" not in arguments
        await armed(pilot, app)
        await pilot.press("r")
        await until(pilot, lambda: not main.answers.generating)
        answer = main.query(MessageView).last()
        assert answer.message.content == "The tool said: Sunny, 21 C in Oslo␛[31m (metric)"
        call_line = str(answer.query_one(ToolCallView).query_one(".line").render())
        assert "t.weather" in call_line and "done · approved by you" in call_line

        # Always in this conversation: asked once, then never again.
        await _send(pilot, "Again?")
        await until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen))
        await armed(pilot, app)
        await pilot.press("tab", "enter")  # "always" is its button, never one letter
        await until(pilot, lambda: not main.answers.generating)
        await _send(pilot, "And again?")
        await until(pilot, lambda: not main.answers.generating)
        assert not isinstance(app.screen, ToolApprovalScreen)
        last = main.query(MessageView).last()
        assert "always in this chat" in str(last.query_one(ToolCallView).query_one(".line").render())

    conversation = app.services.store.list_conversations()[0]
    answers = [m for m in app.services.store.list_messages(conversation.id) if m.parts]
    assert [m.parts_of(PartKind.TOOL_CALL)[0].data["approval"] for m in answers] == ["user", "user", "conversation"]


async def test_refuse_in_the_modal_tells_the_model(open_services, daemon) -> None:
    state, url = daemon
    app = _app(open_services, url)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await main.models.loaded.wait()
        assert main.models.current() is not None, "the Ollama double was not listed (a loaded machine?)"
        main.conversations.current = app.services.chat.settings.set_tools(
            app.services.chat.settings.new_conversation(main.models.current()), ["t"]
        )
        await _send(pilot, "Weather?")
        await until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen))
        await armed(pilot, app)
        await pilot.press("n")
        await until(pilot, lambda: not main.answers.generating)
        answer = main.query(MessageView).last()
        assert answer.message.content.startswith("The tool said: The user refused")
        assert "refused" in str(answer.query_one(ToolCallView).query_one(".line").render())
        await pilot.click(ToolCallView)
        assert answer.query_one(ToolCallView).has_class("-open")
    told = state.chats[-1]["messages"][-1]
    assert told["role"] == "tool" and told["content"].startswith("The user refused to run this tool call.")


def test_long_arguments_are_folded_and_made_visible() -> None:
    shown = shown_arguments({"path": "a" * 500, "n": 3, "note": "\x1b]0;x\x07"}, fold_at=100)
    lines = shown.splitlines()
    assert lines[0] == "path: " + "a" * 100 + "… (400 more characters)"
    assert lines[1] == "n: 3"
    assert lines[2] == "note: ␛]0;x␇"


async def test_keys_typed_on_after_sending_never_answer_the_dialog(open_services, daemon, monkeypatch) -> None:
    """The user sends, keeps typing ("hello again" has an a; r and Enter), and the dialog opens under
    the keys: none of them answers it, nothing runs; only a key made after it armed does."""
    monkeypatch.setattr(tool_approval_screen, "ARM_AFTER_S", 600)  # it arms when the test says so
    state, url = daemon
    app = _app(open_services, url)
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await main.models.loaded.wait()
        assert main.models.current() is not None, "the Ollama double was not listed (a loaded machine?)"
        main.conversations.current = app.services.chat.settings.set_tools(
            app.services.chat.settings.new_conversation(main.models.current()), ["t"]
        )
        await pilot.press(*"Weather?", "enter", *" hello again", "r", "enter")
        await until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen))
        dialog = app.screen
        await pilot.press("a", "r", "enter", "tab", "enter", "y")
        assert app.screen is dialog and dialog.armed_at is None
        dialog.post_message(ToolApprovalScreen.Armed())
        await armed(pilot, app)
        assert app.screen is dialog  # still asking: no key made before it armed answered it
        await pilot.press("n")
        await until(pilot, lambda: not main.answers.generating)
    conversation = app.services.store.list_conversations()[0]
    answer = [m for m in app.services.store.list_messages(conversation.id) if m.parts][0]
    assert answer.parts_of(PartKind.TOOL_CALL)[0].data["approval"] == "refused"
    assert state.chats[1]["messages"][-1]["content"].startswith("The user refused to run this tool call.")


async def test_an_allow_entry_that_allows_nothing_is_a_toast_once(open_services, daemon, notified) -> None:
    _, url = daemon
    config = Config(
        mcp=McpConfig(
            servers={"t": McpServerConfig(command=sys.executable, args=[SERVER])}, allow=["t.nosuch", "weather"]
        )
    )
    app = LchatApp(open_services(OllamaEngine(host=url, read_timeout=5), config=config))
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await main.models.loaded.wait()
        assert main.models.current() is not None, "the Ollama double was not listed (a loaded machine?)"
        main.conversations.current = app.services.chat.settings.set_tools(
            app.services.chat.settings.new_conversation(main.models.current()), ["t"]
        )
        for question in ("Weather?", "Again?"):
            await _send(pilot, question)
            await until(pilot, lambda: isinstance(app.screen, ToolApprovalScreen))  # "weather" is no entry
            await armed(pilot, app)
            await pilot.press("n")
            await until(pilot, lambda: not main.answers.generating)
    said = [note.message for note in notified if "allow entry" in note.message]
    assert said == [
        "allow entry 't.nosuch': server t has no tool 'nosuch'; it allows nothing",
        "allow entry 'weather' is not server.tool (write t.weather); it allows nothing",
    ]
