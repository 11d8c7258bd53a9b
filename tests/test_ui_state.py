"""The main screen's controllers share one ChatState: the conversation shown has one writer, each
change reaches every subscriber once with the new value, and no controller holds another."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import tui.ui
from tests.scripted_engine import ScriptedEngine
from tests.test_models_pane import SIZE, settle
from tui.config import Config
from tui.domain import Conversation, ConversationSettings
from tui.models.catalog import Catalog
from tui.ui.app import LchatApp
from tui.ui.controllers.state import ChatState
from tui.ui.screens.main_screen import MainScreen
from tui.ui.screens.settings_screen import SettingsScreen

CONTROLLERS = "tui.ui.controllers."
WRITERS = {
    r"state\.(show|announce)\(": "controllers/conversations.py",
    r"state\.models_changed\(": "controllers/models_controller.py",
}
"""Each call that changes the shared state, and the one module allowed to make it."""


def screen_controllers(screen: MainScreen) -> list[object]:
    """The screen's controllers: its attributes whose class is defined in tui/ui/controllers/."""
    return [value for value in vars(screen).values() if type(value).__module__.startswith(CONTROLLERS)]


def held_controllers(owner: object, controller_types: tuple[type, ...]) -> list[str]:
    """The attributes of `owner` (and of the parts it owns, such as the answer painter, one level
    down; lists and dicts looked into) that are controllers of another type."""
    found = []

    def values(obj: object) -> list[tuple[str, Any]]:
        pairs = list(vars(obj).items()) if hasattr(obj, "__dict__") else []
        out = []
        for name, value in pairs:
            items = value.values() if isinstance(value, dict) else value if isinstance(value, list | tuple) else [value]
            out += [(name, item) for item in items]
        return out

    for name, value in values(owner):
        parts = [(name, value)]
        if type(value).__module__.startswith(CONTROLLERS) and not isinstance(value, ChatState):
            parts += [(f"{name}.{inner}", item) for inner, item in values(value)]
        for path, item in parts:
            if isinstance(item, controller_types) and type(item) is not type(owner):
                found.append(f"{type(owner).__name__}.{path} is a {type(item).__name__}")
    return found


def test_each_subscriber_hears_each_change_once_with_the_new_value() -> None:
    state = ChatState(Catalog.of(Config(), {}), lambda models, conversation: None)
    first: list[Conversation | None] = []
    second: list[Conversation | None] = []
    state.on_conversation(first.append)
    stop = state.on_conversation(second.append)
    shown = _conversation(7)
    state.show(shown)
    assert first == second == [shown] and state.conversation is shown
    stop()
    state.show(None, announce=False)  # Held back until the chat shows it...
    assert first == [shown] and state.conversation is None
    state.announce()  # ...then said once.
    assert first == [shown, None] and second == [shown]


def _conversation(conversation_id: int) -> Conversation:
    return Conversation(conversation_id, "seven", "tiny", "fake", "", ConversationSettings(), 0.0, 0.0)


def test_only_the_owner_writes_the_shared_state() -> None:
    root = Path(tui.ui.__file__).parent
    for pattern, owner in WRITERS.items():
        writers = {
            str(path.relative_to(root))
            for path in root.rglob("*.py")
            if re.search(pattern, path.read_text(encoding="utf-8"))
        }
        assert writers == {owner}, pattern
    assert ChatState.conversation.fset is None  # Nor is it set around them.


def test_the_walk_finds_a_controller_held_by_another() -> None:
    """The check below is not vacuous: a controller planted inside another is reported."""

    class Planted:
        pass

    Planted.__module__ = CONTROLLERS + "planted"
    holder, held = Planted(), ChatState(Catalog.of(Config(), {}), lambda models, conversation: None)
    holder.__dict__.update(inner=[_conversation(1)], peer=held)
    assert held_controllers(holder, (ChatState,)) == ["Planted.peer is a ChatState"]


async def test_the_controllers_are_siblings_under_one_state(open_services) -> None:
    engine = ScriptedEngine(name="fake", models=["tiny"])
    services = open_services(engine)
    older = services.store.create_conversation(title="older", model="tiny", backend="fake")
    services.store.create_conversation(title="newer", model="tiny", backend="fake")
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        controllers = screen_controllers(screen)
        assert {type(c).__name__ for c in controllers} >= {
            "ChatState",
            "ConversationsController",
            "ModelsController",
            "SettingsController",
            "ToolsController",
            "AttachController",
            "AnswerController",
            "MessageController",
            "StatsFeed",
        }
        types = tuple({type(c) for c in controllers if not isinstance(c, ChatState)})
        held = [line for c in controllers for line in held_controllers(c, types)]
        assert held == []
        assert all(getattr(c, "state", screen.state) is screen.state for c in controllers)  # One state, shared.

        heard: dict[str, list[Conversation | None]] = {"a": [], "b": []}
        for log in heard.values():
            screen.state.on_conversation(log.append)
        await pilot.press("f2", "j", "enter")  # Open the older conversation from the list.
        await pilot.pause()
        assert [c.id if c else None for c in heard["a"]] == [older.id]
        assert heard["a"] == heard["b"] and heard["a"][0] is screen.state.conversation
        assert screen.conversations.current is screen.state.conversation

        reads: list[int] = []
        get_conversation = services.store.get_conversation
        services.store.get_conversation = lambda cid: reads.append(cid) or get_conversation(cid)
        await pilot.press("f8")  # Its settings change: one more announcement, with the new settings.
        await pilot.pause()
        assert isinstance(app.screen, SettingsScreen)
        app.screen.query_one("#param-temperature").value = "0.3"
        await pilot.press("ctrl+s")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(heard["a"]) == len(heard["b"]) == 2
        changed = heard["a"][-1]
        assert changed is not None and changed.id == older.id and changed.settings.temperature == 0.3
        assert screen.state.conversation is changed
        assert reads == []  # The new settings came back from the call that made them, not from a re-read.
