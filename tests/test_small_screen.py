"""lchat at 80x24 through Pilot: every dialog usable (each focusable widget on screen when focused,
the primary button reachable by Tab and visible), the model switcher, and the smaller fixes of a
new user's first hour (fold glyphs, attachment chips, footer, help, header figures)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from tui.config import Config, PresetConfig
from tui.domain import MessagePart, ModelInfo, PartKind
from tui.models.catalog import Catalog
from tui.tools.approval import ApprovalRequest
from tui.tools.catalog import ToolInfo
from tui.ui.app import LchatApp
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.dialog_frame import DialogBody
from tui.ui.screens.help_screen import HelpScreen
from tui.ui.screens.main_screen import MainScreen
from tui.ui.screens.model_details import ModelDetailsScreen
from tui.ui.screens.model_switcher import ModelSwitcher
from tui.ui.screens.preset_screen import PresetScreen
from tui.ui.screens.prompts import ChoiceQuestion, InputQuestion
from tui.ui.screens.settings_screen import Settings, SettingsScreen
from tui.ui.screens.tool_approval_screen import ToolApprovalScreen
from tui.ui.screens.tool_select_screen import ToolSelectScreen
from tui.ui.widgets.attachment_chips import AttachmentChips
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.message_view import MessageView
from tui.ui.widgets.model_pane import ModelRow
from tui.ui.widgets.reasoning_block import ReasoningBlock
from tui.ui.widgets.tool_calls import ToolCallsView, ToolCallView

SIZE = (80, 24)


def screen_text(app: App) -> str:
    """What the terminal shows, line by line."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


async def shows(pilot: Any, text: str) -> None:
    """Wait (3 s at most) for a frame that shows `text`; fail with the screen if none does."""
    for _ in range(30):
        await pilot.pause(0.1)
        if text in screen_text(pilot.app):
            return
    pytest.fail(f"{text!r} is not on screen:\n{screen_text(pilot.app)}")


def tool(name: str = "weather") -> ToolInfo:
    return ToolInfo(server="t", name=name, description="Says the weather " * 6, parameters={})


DIALOGS: dict[str, Callable[[], Screen[Any]]] = {
    "settings": lambda: SettingsScreen("Be brief.", {}, {"temperature": 0.7}, think_choices=("", "low", "high")),
    "presets": lambda: PresetScreen({f"p{n}": PresetConfig(system_prompt="You are terse. " * 12) for n in range(12)}),
    "tools": lambda: ToolSelectScreen([tool(f"t{n}") for n in range(30)], set(), ["srv: failed to start"] * 2),
    "approval": lambda: ToolApprovalScreen(
        ApprovalRequest(1, tool(), {f"a{n}": "x" * 250 for n in range(8)}), arm_after_s=0.01
    ),
    "details": lambda: ModelDetailsScreen("m (fake)", [(f"Key {n}", "value " * 40) for n in range(30)]),
    "help": lambda: HelpScreen([("f1", "Keys", "anywhere", "app.help")] * 60),
    "switcher": lambda: ModelSwitcher(lambda query: [ModelRow("fake", f"m{n}", f"m{n}") for n in range(30)]),
    "confirm": lambda: ConfirmScreen("Delete this conversation and its 40 messages? " * 6),
    "question": lambda: InputQuestion("Attach which file? " * 8, hint="Enter: attach    Esc: cancel"),
    "choice": lambda: ChoiceQuestion("Which quantization?", [(f"q{n}", f"Q{n}_K_M · 2.1 GB") for n in range(30)]),
}
KEYS_LINE = {
    "settings": "Esc: cancel",
    "presets": "Esc: cancel",
    "tools": "Esc: cancel",
    "approval": "n / Esc: refuse",
    "details": "Esc: close",
    "help": "lchat keys",
    "switcher": "Esc: close",
    "confirm": "n / Esc: no",
    "question": "Esc: cancel",
    "choice": "Esc: cancel",
}
"""Text each dialog must show whole at 80x24 (its keys, or for help its title)."""


class Host(App[None]):
    def __init__(self, dialog: Screen[Any]) -> None:
        super().__init__()
        self.dialog = dialog
        self.answers: list[Any] = []

    def on_mount(self) -> None:
        self.push_screen(self.dialog, self.answers.append)


def on_screen(app: App, widget: Widget) -> bool:
    """The whole widget is inside the screen and inside the part of its scrolling body shown."""
    region = widget.region
    if not region or not app.screen.region.contains_region(region):
        return False
    body = next((a for a in widget.ancestors if isinstance(a, DialogBody)), None)
    return body is None or body.region.contains_region(region)


@pytest.mark.parametrize("name", list(DIALOGS))
async def test_every_dialog_is_usable_at_80x24(name: str) -> None:
    app = Host(DIALOGS[name]())
    async with app.run_test(size=SIZE) as pilot:
        await shows(pilot, KEYS_LINE[name])  # The approval dialog arms first, then shows its keys.
        chain = app.screen.focus_chain  # Empty for a yes/no question: answered by keys alone.
        for widget in chain:
            widget.focus()
            await pilot.pause()
            await pilot.pause()
            assert on_screen(app, widget), f"{widget!r} is not on screen when focused:\n{screen_text(app)}"
        await shows(pilot, KEYS_LINE[name])


async def test_settings_save_is_reached_by_tab_seen_and_saves_at_80x24() -> None:
    app = Host(DIALOGS["settings"]())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"Terse.")  # The system prompt has focus first.
        save = app.screen.query_one("#save", Button)
        for _ in range(12):
            if app.focused is save:
                break
            await pilot.press("tab")
            await pilot.pause()
        assert app.focused is save
        await pilot.pause()
        assert on_screen(app, save) and "Save" in screen_text(app)
        assert "Context length" in screen_text(app) or "Seed" in screen_text(app)
        await pilot.press("enter")
        await pilot.pause()
    assert len(app.answers) == 1 and isinstance(app.answers[0], Settings)
    assert app.answers[0].system_prompt == "Terse.Be brief."


async def test_each_field_of_the_settings_shows_when_tabbed_to() -> None:
    app = Host(DIALOGS["settings"]())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        seen = []
        for _ in range(len(app.screen.focus_chain)):
            await pilot.press("tab")
            await pilot.pause()
            await pilot.pause()
            seen.append(app.focused)
            assert app.focused is not None and on_screen(app, app.focused), screen_text(app)
        assert {"param-context_length", "param-seed", "stop", "think", "save", "cancel"} <= {w.id for w in seen if w}


# The model switcher, in lchat


def main_screen(app: LchatApp) -> MainScreen:
    return next(screen for screen in app.screen_stack if isinstance(screen, MainScreen))


def engine_like(fake_engine, **kwargs):
    """Another scripted engine (its class taken from the fixture's, wherever it lives)."""
    return type(fake_engine)(**kwargs)


async def test_switcher_shows_the_query_and_picks_backend_slash_name(open_services, fake_engine) -> None:
    gate = asyncio.Event()
    slow = engine_like(fake_engine, name="lms", models=["qwen3"])
    listed = slow.list_models

    async def list_later():
        await gate.wait()
        return await listed()

    slow.list_models = list_later  # type: ignore[method-assign]
    services = open_services(engine_like(fake_engine, name="ollama", models=["qwen3:8b", "llama3"]), slow)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+l")
        await pilot.pause()
        switcher = app.screen
        assert isinstance(switcher, ModelSwitcher)
        await pilot.press(*"qwen")
        await pilot.pause()
        query = switcher.query_one(Input)
        assert query.value == "qwen" and on_screen(app, query) and query.content_region.height == 1
        assert "qwen" in screen_text(app).split("\n")[query.content_region.y]
        assert [row.backend for row in switcher._rows] == ["ollama"]
        gate.set()  # lms answers while the switcher is open: its qwen3 joins the list.
        await main_screen(app).models.loaded.wait()
        await pilot.pause()
        assert {(row.backend, row.name) for row in switcher._rows} == {("ollama", "qwen3:8b"), ("lms", "qwen3")}
        query.value = ""
        await pilot.press(*"lms/qwen3")
        await pilot.pause()
        assert (switcher._rows[0].backend, switcher._rows[0].name) == ("lms", "qwen3")
        await pilot.press("enter")
        await pilot.pause()
        assert not isinstance(app.screen, ModelSwitcher)
        assert app.screen.models.current() is not None
        assert (app.screen.models.current().backend, app.screen.models.current().name) == ("lms", "qwen3")
        await pilot.press("ctrl+l")  # Opens again on an empty query and the whole list.
        await pilot.pause()
        assert app.screen.query_one(Input).value == "" and len(app.screen._rows) == 3


def test_catalog_search_reads_backend_slash_name_as_the_cli_does() -> None:
    catalog = Catalog.of(Config(), {})
    catalog.order = ["ollama", "lms"]
    catalog.set_backend("ollama", [ModelInfo("qwen3:8b", "ollama"), ModelInfo("qwen3", "ollama")], None)
    catalog.set_backend("lms", [ModelInfo("qwen3", "lms"), ModelInfo("llama", "lms")], None)
    assert [(m.backend, m.name) for m in catalog.search("lms/qwen3")] == [("lms", "qwen3")]
    assert [(m.backend, m.name) for m in catalog.search("ollama/qwen3")][0] == ("ollama", "qwen3")
    assert {m.backend for m in catalog.search("qwen3")} == {"ollama", "lms"}


# Smaller fixes


async def test_fold_glyphs_change_when_unfolded() -> None:
    call = MessagePart(PartKind.TOOL_CALL, data={"id": "c1", "server": "t", "tool": "weather", "state": "done"})

    class Chat(App[None]):
        def compose(self):
            yield ReasoningBlock("I think.", seconds=2.0, tokens=5)
            yield ToolCallsView([call])

    app = Chat()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        block = app.query_one(ReasoningBlock)
        title = app.query_one(".reasoning-title", Static)
        line = app.query_one(ToolCallView).query_one(".line", Static)
        assert str(title.render()).startswith("▸ Thought") and str(line.render()).startswith("▸ ⚙")
        assert "alt+u shows it" in str(line.render())
        block.toggle()
        app.query_one(ToolCallView).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert str(title.render()).startswith("▾ Thought") and str(line.render()).startswith("▾ ⚙")
        assert "alt+u folds it" in str(line.render())


async def test_alt_u_unfolds_the_last_answers_tool_calls(open_services, fake_engine) -> None:
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(*"hi", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = list(app.screen.query(MessageView))[-1]
        await answer.show_tool_part(MessagePart(PartKind.TOOL_CALL, data={"id": "c", "tool": "x", "state": "done"}))
        await pilot.pause()
        await pilot.press("alt+u")
        await pilot.pause()
        assert answer.query_one(ToolCallView).is_open


async def test_backspace_in_an_empty_composer_removes_the_last_chip(open_services, fake_engine, tmp_path) -> None:
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        for name in ("a.txt", "b.txt"):
            (tmp_path / name).write_text(name)
            await app.screen.attach.attach(tmp_path / name)
        chips = app.screen.query_one(AttachmentChips)
        assert chips.option_count == 2 and chips.highlighted == 1
        app.screen.query_one(Composer).focus()
        await pilot.press("x", "backspace")  # The typed x goes first, then a chip.
        await pilot.pause()
        assert [a.name for a in app.screen.attach.pending] == ["a.txt", "b.txt"]
        await pilot.press("backspace")
        await pilot.pause()
        assert [a.name for a in app.screen.attach.pending] == ["a.txt"]
        await pilot.press("shift+tab")  # The chips are one key away, and Delete works at once.
        await pilot.pause()
        assert app.focused is chips
        await pilot.press("delete")
        await pilot.pause()
        assert app.screen.attach.pending == []


async def test_footer_at_80_columns_has_the_keys_a_new_user_needs(open_services, fake_engine) -> None:
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        footer = screen_text(app).splitlines()[-1]
        for key in ("^l Model", "f10 Tools", "f2 Chats", "f4 Models", "^n New", "esc Stop", "^q Quit", "f1 Keys"):
            assert key in footer, footer


async def test_help_lists_user_keys_with_descriptions_once(open_services, fake_engine) -> None:
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        rows = app.screen.rows
        assert all(row[1] for row in rows), [row for row in rows if not row[1]]
        assert len({row[:3] for row in rows}) == len(rows)
        places = {row[2] for row in rows}
        assert not places & {"Footer", "model-list", "composer", "model-filter", "chat", ""} - {"chat"}
        ids = {row[3] for row in rows}
        assert {"tools.run_once", "tools.refuse", "settings.save", "switcher.close", "chat.tools_unfold"} <= ids
        assert any(row[0] == "^c" and row[1] for row in rows)
        assert "Id ([keys] in config.toml)" in screen_text(app)


async def test_two_backends_serving_one_name_head_the_answer_backend_slash_model(open_services, fake_engine) -> None:
    services = open_services(
        engine_like(fake_engine, name="a", models=["same"]), engine_like(fake_engine, name="b", models=["same", "x"])
    )
    app = LchatApp(services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await main_screen(app).models.loaded.wait()
        await pilot.press(*"hi", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = list(app.screen.query(MessageView))[-1]
        assert answer.message.model == "same"
        assert f"{answer.message.backend}/same" in str(answer.query_one(".header", Static).render())
        main_screen(app).models.use("b", "x")  # A name only b serves: the header names the model alone.
        await pilot.press(*"again", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        header = str(list(app.screen.query(MessageView))[-1].query_one(".header", Static).render())
        assert " · x" in header and "b/x" not in header


async def header_after_answer_and_reopened(app: LchatApp, pilot, question: str) -> tuple[str, str]:
    """The chat header once `question` is answered, and again after the conversation is reopened."""
    await pilot.pause()
    await pilot.press(*question, "enter")
    await app.workers.wait_for_complete()
    await pilot.pause()
    live = str(app.screen.query_one("#chat-title", Static).render())
    conversation = main_screen(app).conversations.current
    await app.screen.open_conversation(None)
    await app.screen.open_conversation(conversation.id)
    await pilot.pause()
    return live, str(app.screen.query_one("#chat-title", Static).render())


async def test_header_token_figure_is_the_same_live_and_reopened(open_services, fake_engine) -> None:
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=SIZE) as pilot:
        live, reopened = await header_after_answer_and_reopened(app, pilot, "hello there")
        assert "tokens" in live
        assert reopened == live


async def test_header_token_figure_after_a_failed_answer_is_the_same_reopened(open_services, fake_engine) -> None:
    """An answer that failed carries no counts: the figure must not stay the estimate made before
    it began, which reopening (an estimate over what is stored, the partial answer included) replaces."""
    app = LchatApp(open_services(engine_like(fake_engine, fail_after=6)))
    async with app.run_test(size=SIZE) as pilot:
        question = "please say back all of these many words to me now"
        live, reopened = await header_after_answer_and_reopened(app, pilot, question)
        assert "tokens" in live
        assert reopened == live


async def test_header_figure_reopened_at_start_gains_the_limit_once_models_are_listed(
    open_services, fake_engine
) -> None:
    """lchat opens the last conversation before the backends have listed their models: the limit
    joins the figure when they answer, so it reads as it did live."""
    app = LchatApp(open_services(engine_like(fake_engine)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await main_screen(app).models.loaded.wait()
        await pilot.press(*"hello there", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        live = str(app.screen.query_one("#chat-title", Static).render())
    assert " / 4,096 tokens" in live
    gate = asyncio.Event()
    slow = engine_like(fake_engine)
    listed = slow.list_models

    async def list_later():
        await gate.wait()
        return await listed()

    slow.list_models = list_later  # type: ignore[method-assign]
    app = LchatApp(open_services(slow))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        header = app.screen.query_one("#chat-title", Static)
        assert "hello there" in str(header.render()) and "4,096" not in str(header.render())
        gate.set()
        await main_screen(app).models.loaded.wait()
        await pilot.pause()
        assert str(header.render()) == live
