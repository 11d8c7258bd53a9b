"""Links in answers: clicking one opens a web address only after the user has seen it whole and
said yes; any other kind of link is refused with a message."""

from __future__ import annotations

import webbrowser

import pytest
from textual.widgets import Markdown

from tests.scripted_engine import ScriptedEngine
from tests.test_app_history import ask
from tui.guard.safe_text import terminal_safe
from tui.ui.app import LchatApp
from tui.ui.links import refusal
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.widgets.message_view import MessageView

SIZE = (120, 40)
LONG = "https://example.com/" + "a" * 150 + "?q=1#end"


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """What would have reached the browser (Textual's driver calls webbrowser.open)."""
    calls: list[str] = []
    monkeypatch.setattr(webbrowser, "open", lambda url, *args, **kwargs: calls.append(url))
    return calls


async def click_link(pilot, href: str) -> None:
    """Click the answer's link as the mouse does: the link's action on the block that holds it."""
    answer = pilot.app.screen.query(MessageView).last()
    block = next(child for child in answer.query_one(Markdown).children)
    await block.run_action(f"link({href!r})")
    await pilot.pause()


def app_answering(open_services, href: str) -> LchatApp:
    engine = ScriptedEngine(script=lambda turns: [f"See [the docs]({href}) for more."])
    return LchatApp(open_services(engine))


async def test_a_web_link_opens_only_after_the_user_confirms_the_whole_address(open_services, opened) -> None:
    app = app_answering(open_services, LONG)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "where?")
        await click_link(pilot, LONG)
        assert isinstance(app.screen, ConfirmScreen) and opened == []
        assert LONG in str(app.screen.query_one("Static").render()).replace("\n", "")  # all of it
        await pilot.press("n")
        await pilot.pause()
        assert opened == []
        await click_link(pilot, LONG)
        await pilot.press("y")
        await app.workers.wait_for_complete()
        assert opened == [LONG]


@pytest.mark.parametrize(
    "href",
    [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "ssh://host",
        "mailto:a@b.c",
        "x-terminal:run",
        "https://ex ample.com",
        "https://example.com/\x1b]52;c;aGk=\x1b\\",
    ],
)
async def test_other_links_are_refused_with_a_message(open_services, opened, notified, href) -> None:
    app = app_answering(open_services, "https://example.com")
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "where?")
        await click_link(pilot, href)
        await app.workers.wait_for_complete()
        assert not isinstance(app.screen, ConfirmScreen) and opened == []
        refused = [n.message for n in notified if n.message.startswith("Not opened")]
        assert refused and terminal_safe(href) in refused[-1]


def test_refusal_reasons() -> None:
    assert refusal("https://example.com/a") is None and refusal("HTTP://example.com") is None
    assert "only http and https" in (refusal("https://") or "")  # no host
    assert "only http and https" in (refusal("http://[::1") or "")  # not a URL at all
    assert "control characters" in (refusal("https://example.com/\u202eevil") or "")
