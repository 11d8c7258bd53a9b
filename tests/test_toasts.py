"""Text from outside in notifications: titles, model and file names, offline reasons, pull, hub and
server errors, preset names and config keys are shown as text, never obeyed as Textual markup or
as terminal escapes, and the app stays alive. Each path runs through the real UI under Pilot."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from textual.notifications import Notification
from textual.widgets import Input

import tui.ui
from tests.fake_ollama import OllamaState, start_ollama
from tests.gguf_files import write_tiny_llama
from tests.loopback import closed_port
from tests.scripted_engine import ScriptedEngine
from tests.test_app import terminal_bytes
from tests.test_models_pane import SIZE, pane, settle
from tui.config import Config, PresetConfig
from tui.engines.base import EngineUnavailable
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.ollama.engine import OllamaEngine
from tui.guard.safe_text import terminal_safe
from tui.ui.app import LchatApp
from tui.ui.screens.confirm import ConfirmScreen

HOSTILE = ["[/x]", "[link=https://evil]x[/link]", "[@click=app.quit]x[/]", "\x1b]52;c;aGk=\x1b\\"]
"""A closing tag with no opening one (the MarkupError crash), a live link, a live action, and an
OSC 52 sequence (a terminal that obeys it puts "hi" on the clipboard) ending in ESC \\."""
TITLE = "what does [/bold] do?"
"""The title that crashed lchat when its conversation was pinned."""


async def shows_literally(pilot, notified: list[Notification], text: str) -> None:
    """A notification says `text` character for character (ESC as ␛), not as markup, and so does
    the toast drawn on the screen; no escape sequence of it reaches the terminal."""
    app, safe = pilot.app, terminal_safe(text)
    said = [note for note in notified if safe in note.message]
    assert said, f"no notification shows {safe!r}: {[n.message for n in notified]}"
    assert not any(note.markup for note in said)
    for _ in range(50):  # the toast rack mounts toasts a moment after the notification
        drawn = [str(toast.render()) for toast in app.screen.query("Toast")]
        if any(safe in toast for toast in drawn):
            break
        await pilot.pause()
    assert any(safe in toast for toast in drawn), f"no toast on screen shows {safe!r}: {drawn}"
    assert "\x1b]52" not in terminal_bytes(app)


async def wait_for_input(pilot) -> Input:
    for _ in range(100):
        await pilot.pause()
        found = pilot.app.screen.query(Input)
        if found:
            return found.first()
    raise AssertionError("no question was asked")


@pytest.mark.parametrize("title", [TITLE, *HOSTILE])
async def test_a_title_in_pin_archive_and_delete_messages(open_services, fake_engine, title, notified) -> None:
    services = open_services(fake_engine)
    services.store.create_conversation(title=title)
    app = LchatApp(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.press("f2", "p")  # the crash as reported: F2, then p
        await pilot.pause()
        await shows_literally(pilot, notified, f"Pinned “{title}”.")
        await pilot.press("f2", "a")
        await pilot.pause()
        await shows_literally(pilot, notified, f"“{title}” is archived")
        await pilot.press("f2", "A", "d")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await shows_literally(pilot, notified, f"Deleted “{title}”.")
        assert services.store.list_conversations() == []
        await pilot.press("ctrl+n")  # alive and still answering keys
        await pilot.pause()
        assert app.screen.conversations.current is None and app.is_running


async def test_model_names_when_a_model_is_chosen(open_services, notified) -> None:
    app = LchatApp(open_services(ScriptedEngine(name="fake", models=HOSTILE)))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        used = []
        for index in range(len(HOSTILE)):
            await pilot.press("f4", "g", *["j"] * index)
            name = pane(app).highlighted.name
            await pilot.press("enter")
            await pilot.pause()
            assert app.screen.conversations.current.model == name
            await shows_literally(pilot, notified, f"Using {name} (fake) for this conversation.")
            used.append(name)
        assert sorted(used) == sorted(HOSTILE)


class Unreachable(ScriptedEngine):
    """A backend whose model list fails with the reason given (as a server's error would read)."""

    def __init__(self, *, name: str, reason: str) -> None:
        super().__init__(name=name, models=["m"])
        self.reason = reason

    async def list_models(self):
        raise EngineUnavailable(self.reason)


async def test_offline_reasons_when_a_favourite_is_unavailable(open_services, notified) -> None:
    engines = [Unreachable(name=f"off{n}", reason=reason) for n, reason in enumerate(HOSTILE, start=1)]
    config = Config()
    config.models.favourites = [f"off{n}/m" for n in range(1, len(HOSTILE) + 1)]
    app = LchatApp(open_services(ScriptedEngine(), *engines, config=config))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        for number, reason in enumerate(HOSTILE, start=1):
            await pilot.press(f"alt+{number}")
            await pilot.pause()
            await shows_literally(pilot, notified, f"off{number} is offline ({reason})")


@pytest.fixture
def daemon():
    served = start_ollama(OllamaState())
    yield served
    served.stop()


async def test_pull_names_and_errors(open_services, daemon, notified) -> None:
    daemon.state.pull_sizes[HOSTILE[0]] = 1000
    app = LchatApp(open_services(OllamaEngine(host=daemon.url)))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        for name in HOSTILE:
            await pilot.press("f4", "p")
            (await wait_for_input(pilot)).value = name
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            pulled = name in daemon.state.pull_sizes
            await shows_literally(pilot, notified, f"Pulled {name}." if pulled else f"Pulling {name} (ollama) failed: ")


async def test_server_errors_when_a_delete_fails(open_services, daemon, notified) -> None:
    for name in HOSTILE:
        daemon.state.add(name)
    app = LchatApp(open_services(OllamaEngine(host=daemon.url)))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        daemon.state.models.clear()  # gone behind lchat's back: the server's 404 names each model
        deleted = []
        for index in range(len(HOSTILE)):
            await pilot.press("f4", "g", *["j"] * index)
            name = pane(app).highlighted.name
            await pilot.press("d")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmScreen)
            await pilot.press("y")
            await app.workers.wait_for_complete()
            await pilot.pause()
            await shows_literally(pilot, notified, f"Could not delete {name}: model '")  # and what the server said
            assert any(
                terminal_safe(f"Could not delete {name}: ") in note.message and "not found on Ollama" in note.message
                for note in notified
            )
            deleted.append(name)
        assert sorted(deleted) == sorted(HOSTILE)


async def test_hugging_face_errors(open_services, paths, notified) -> None:
    config = Config()
    config.models.hf_endpoint = f"http://127.0.0.1:{closed_port()}"
    app = LchatApp(open_services(EmbeddedEngine(models_dir=paths.models_dir, include_starter=False), config=config))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        for text in HOSTILE:
            await pilot.press("f4", "h")
            (await wait_for_input(pilot)).value = f"org/{text}"
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            await shows_literally(pilot, notified, f"Cannot download org/{text}: ")


async def test_file_names_of_imports(open_services, paths, tmp_path, notified) -> None:
    names = ["[@click=app.quit]x", "\x1b]52;c;aGk=\x1b\\", "[b]x[link=https:"]  # no "/" in a file name
    files = [write_tiny_llama(tmp_path / f"{name}.gguf") for name in names]
    app = LchatApp(open_services(EmbeddedEngine(models_dir=paths.models_dir, include_starter=False)))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        for path in files:
            await pilot.press("f4", "o")
            (await wait_for_input(pilot)).value = str(path)
            await pilot.press("enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            await shows_literally(pilot, notified, f"Imported {path.name}.")
            assert (paths.models_dir / path.name).exists()


async def test_preset_names(open_services, fake_engine, notified) -> None:
    config = Config(presets={name: PresetConfig(system_prompt="Be brief.") for name in HOSTILE})
    services = open_services(fake_engine, config=config)
    app = LchatApp(services)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        for index, name in enumerate(HOSTILE):
            await pilot.press("f9")
            await pilot.pause()
            await pilot.press("home", *["down"] * index, "enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            await shows_literally(pilot, notified, f"Preset “{name}” in use for this conversation.")
            assert app.screen.conversations.current.settings.preset == name


async def test_config_keys_in_the_keymap_warning(open_services, fake_engine, notified) -> None:
    config = Config(keys={name: "ctrl+a" for name in HOSTILE})
    app = LchatApp(open_services(fake_engine, config=config))
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        for name in HOSTILE:
            await shows_literally(pilot, notified, f"keys.{name}: no such binding id")


def test_every_notification_goes_through_the_one_helper() -> None:
    """Only tui/ui/toast.py calls Textual's notify; everything else calls `tell`."""
    root = Path(tui.ui.__file__).parent
    callers = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "notify":
                callers.append(f"{path.relative_to(root)}:{node.lineno}")
    assert [caller.partition(":")[0] for caller in callers] == ["toast.py"], callers
