"""Keyboard first: ids, help, palette, remapping; themes as files; narrow and wide terminals."""

from __future__ import annotations

import inspect

import pytest
from textual.binding import Binding

import tui.ui
from tui.config import Config
from tui.config.read import load_config
from tui.domain import Role
from tui.ui.app import LchatApp
from tui.ui.keys import bound_actions, check_keymap, is_valid_key
from tui.ui.screens.help_screen import HelpScreen
from tui.ui.screens.main_screen import MainScreen
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.conversation_list import ConversationList
from tui.ui.widgets.message_view import MessageView


def our_binding_classes() -> list[type]:
    import importlib
    import pkgutil

    # Every module of the UI package, so a new screen or mixin cannot slip by.
    modules = [importlib.import_module(m.name) for m in pkgutil.walk_packages(tui.ui.__path__, "tui.ui.")]
    classes = {
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if cls.__module__ == module.__name__ and "BINDINGS" in vars(cls)
    }
    return sorted(classes, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("cls", our_binding_classes(), ids=lambda cls: cls.__name__)
def test_every_binding_has_an_id_and_a_description(cls: type) -> None:
    for binding in vars(cls)["BINDINGS"]:
        assert isinstance(binding, Binding), f"{cls.__name__}: use Binding(..., id=...) for {binding}"
        assert binding.id and "." in binding.id, f"{cls.__name__}.{binding.action} has no dotted id"
        assert binding.description, f"{binding.id} has no description"


async def test_every_action_is_in_the_palette_and_the_help(open_services, fake_engine) -> None:
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        commands = list(app.get_system_commands(app.screen))
        in_palette = {command.help.rsplit(" · ", 1)[-1] for command in commands}
        actions = list(bound_actions(app))
        ours = {a.binding.id for a in actions if a.in_palette and a.binding.id}
        assert {"conversations.new", "chat.cancel", "panes.models", "conversations.delete"} <= ours
        assert ours - {"app.quit", "app.help_alt"} <= in_palette
        # Running a palette entry runs the action.
        new_chat = next(c for c in commands if c.help.endswith("conversations.new"))
        app.screen.services.store.create_conversation(title="old")
        await new_chat.callback()
        await pilot.pause()
        assert app.screen.conversations.current is None
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        help_ids = {row[3] for row in app.screen.rows}
        assert ours <= help_ids
        first = [row[3] for row in app.screen.rows[: len(ours)]]
        assert all(first), "lchat's own keys come before Textual's"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


def test_key_names_are_checked() -> None:
    assert all(map(is_valid_key, ["ctrl+t", "f5", "g", "question_mark", "shift+pagedown", "escape"]))
    assert not any(map(is_valid_key, ["ctrl+", "ctrl+nope", "boop+x", "two words", ""]))
    usable, problems = check_keymap(
        {"chat.cancel": "ctrl+g", "chat.send": "ctrl+nope", "no.such": "x"}, {"chat.cancel", "chat.send"}
    )
    assert usable == {"chat.cancel": "ctrl+g"}
    assert any("'ctrl+nope' is not a key name" in p for p in problems)
    assert any("no.such: no such binding id" in p for p in problems)


async def test_remapped_binding_from_config(open_services, fake_engine) -> None:
    config = Config(keys={"conversations.new": "ctrl+t", "chat.cancel": "ctrl+bogus"})
    services = open_services(fake_engine, config=config)
    services.store.create_conversation(title="existing")
    app = LchatApp(services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.screen.conversations.current is not None
        assert any("'ctrl+bogus' is not a key name" in n.message for n in app._notifications)
        await pilot.press("ctrl+n")  # the old key no longer does it
        await pilot.pause()
        assert app.screen.conversations.current is not None
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert app.screen.conversations.current is None


async def test_send_and_new_line_can_swap_keys(open_services, fake_engine) -> None:
    config = Config(keys={"chat.send": "ctrl+s", "chat.newline": "enter"})
    services = open_services(fake_engine, config=config)
    app = LchatApp(services)
    async with app.run_test(size=(120, 40)) as pilot:
        composer = app.screen.query_one(Composer)
        assert composer.placeholder == "Ask anything · ctrl+s sends · Enter new line"
        await pilot.press("a", "enter", "b")
        assert composer.text == "a\nb" and app.screen.conversations.current is None  # Enter made a line
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [m.content for m in services.store.list_messages(app.screen.conversations.current.id)][0] == "a\nb"


async def test_theme_chosen_in_the_palette_is_saved(open_services, fake_engine, paths) -> None:
    services = open_services(fake_engine)
    app = LchatApp(services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.theme == "lchat-dark"
        await pilot.press("ctrl+p", *"theme", "enter")
        await pilot.pause(0.3)
        await pilot.press(*"lchat-light")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.theme == "lchat-light"
    assert load_config(paths.config_file).config.ui.theme == "lchat-light"


async def test_builtin_themes_and_a_broken_user_theme(open_services, fake_engine, paths) -> None:
    paths.user_themes_dir.mkdir(parents=True, exist_ok=True)
    (paths.user_themes_dir / "broken.toml").write_text("name = 'broken'\nprimary = 'not-a-colour'\n")
    (paths.user_themes_dir / "mine.toml").write_text("name = 'mine'\nprimary = '#ff0000'\n")
    config = Config()
    config.ui.theme = "mine"
    app = LchatApp(open_services(fake_engine, config=config))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert {"lchat-dark", "lchat-light", "lchat-high-contrast", "lchat-ansi", "mine"} <= set(app.available_themes)
        assert app.theme == "mine"
        broken = [n.message for n in app._notifications if "broken.toml" in n.message]
        assert len(broken) == 1


async def test_no_color_is_honoured(open_services, fake_engine, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=(80, 24)):
        assert app.no_color


async def test_everything_by_keys_at_80x24(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    first = services.store.create_conversation(title="first", model="fake-model", backend="fake")
    services.store.add_message(first.id, Role.USER, "in the first")
    services.store.create_conversation(title="second", model="fake-model", backend="fake")
    app = LchatApp(services)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        conversations = screen.query_one(ConversationList)
        assert not conversations.display or conversations.region.width == 0  # folded away
        assert screen.query_one(ChatView).region.width >= 76
        await pilot.press("f2")  # unfolds and focuses the list
        await pilot.pause()
        assert app.focused is conversations and conversations.region.width > 0
        await pilot.press("j", "enter")
        await pilot.pause()
        assert screen.conversations.current.id == first.id
        assert isinstance(app.focused, Composer)
        assert conversations.region.width == 0  # folded again once focus left
        await app.workers.wait_for_complete()  # the model list has loaded
        await pilot.press("f4")
        await pilot.pause()
        models = screen.query_one("#model-list")
        assert app.focused is models and models.region.width > 0
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.focused, Composer) and models.region.width == 0
        await pilot.press(*"hi", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert [v.message.content for v in screen.query(MessageView)][-2:] == ["hi", "You said: hi"]


async def test_all_panes_show_at_200x60(open_services, fake_engine) -> None:
    app = LchatApp(open_services(fake_engine))
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        for selector in ("#conversations", "#chat-pane", "#models"):
            assert app.screen.query_one(selector).region.width > 20, selector
        await pilot.press("f2")
        assert app.focused is app.screen.query_one(ConversationList)
        await pilot.press("tab")
        assert app.focused is not app.screen.query_one(ConversationList)


async def test_every_pane_is_usable_by_keys_alone_at_200x60(open_services, fake_engine) -> None:
    services = open_services(fake_engine)
    conversation = services.store.create_conversation(title="long")
    for n in range(24):
        services.store.add_message(
            conversation.id,
            Role.USER if n % 2 == 0 else Role.ASSISTANT,
            "\n\n".join(f"paragraph {n}.{p}" for p in range(4)),
        )
    app = LchatApp(services)
    async with app.run_test(size=(200, 60)) as pilot:
        await pilot.pause()
        chat = app.screen.query_one(ChatView)
        bottom = chat.max_scroll_y
        assert bottom > 0 and chat.scroll_y == bottom  # opened at the end
        await pilot.press("shift+pageup")  # from the composer
        await pilot.pause()
        assert chat.scroll_y < bottom
        await pilot.press("f2")
        for _ in range(6):  # Tab reaches the chat itself
            if app.focused is chat:
                break
            await pilot.press("tab")
        assert app.focused is chat
        await pilot.press("G")
        await pilot.pause()
        assert chat.scroll_y == chat.max_scroll_y
        await pilot.press("ctrl+u")
        await pilot.pause()
        half_up = chat.scroll_y
        assert half_up < chat.max_scroll_y
        await pilot.press("k")
        await pilot.pause()
        assert chat.scroll_y < half_up
        await pilot.press("ctrl+d", "ctrl+d", "ctrl+d")
        await pilot.pause()
        assert chat.scroll_y == chat.max_scroll_y
        await pilot.press("f3", *"and now?", "enter")  # the composer, by key
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.screen.query(MessageView).last().message.content == "You said: and now?"


async def test_resizing_while_an_answer_streams(open_services) -> None:
    from tests.scripted_engine import ScriptedEngine, fixed_script

    pieces = [f"word{n} " if n % 20 else "\n\n```python\nx = 1\n```\n" for n in range(300)]
    services = open_services(ScriptedEngine(script=fixed_script(*pieces), delay=0.002))
    app = LchatApp(services)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"go", "enter")
        for size in [(80, 24), (20, 5), (200, 60), (40, 10), (120, 40)]:
            await pilot.pause(0.05)
            await pilot.resize_terminal(*size)
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = app.screen.query(MessageView).last()
        assert answer.message.content == "".join(pieces)
        assert answer.query_one(".body").source == "".join(pieces)


def test_frame_rate_cap_and_mouse_setting_reach_textual(monkeypatch, open_services, fake_engine) -> None:
    from tui import cli

    config = Config()
    config.ui.max_fps = 12
    config.ui.mouse = False
    services = open_services(fake_engine, config=config)
    monkeypatch.delenv("TEXTUAL_FPS", raising=False)
    calls = []
    monkeypatch.setattr(LchatApp, "run", lambda self, **kwargs: calls.append(kwargs))
    assert cli._run_tui(services) == 0
    assert calls == [{"mouse": False}]
    import os

    assert os.environ["TEXTUAL_FPS"] == "12"
    monkeypatch.delenv("TEXTUAL_FPS")
