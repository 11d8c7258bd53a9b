"""The approval dialog answers only deliberate keys: every key made before it armed (typed ahead for
the chat input, or while it was arming) is dropped, and "always" is never one letter away."""

from __future__ import annotations

from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Button, Input, Static

from tui.tools.approval import ApprovalRequest, Decision
from tui.tools.catalog import ToolInfo
from tui.ui.screens import tool_approval_screen
from tui.ui.screens.tool_approval_screen import ARMING, KEYS, ToolApprovalScreen

REQUEST = ApprovalRequest(7, ToolInfo("fs", "delete", "Deletes a file.", {}), {"path": "/tmp/x"})


class Host(App[None]):
    """The chat input, and the dialog pushed over it as the tools controller does."""

    def __init__(self) -> None:
        super().__init__()
        self.decisions: list[Decision | None] = []

    def compose(self) -> ComposeResult:
        yield Input(id="chat")

    def ask(self, arm_after_s: float) -> ToolApprovalScreen:
        screen = ToolApprovalScreen(REQUEST, arm_after_s=arm_after_s)
        self.push_screen(screen, callback=self.decisions.append)
        return screen


async def _until(pilot, condition) -> None:
    for _ in range(2000):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("timed out")


def _keys(screen: ToolApprovalScreen) -> str:
    return str(screen.query_one("#keys", Static).render())


async def test_keys_queued_before_it_opened_are_dropped_even_when_read_after_it_armed() -> None:
    app = Host()
    async with app.run_test() as pilot:
        app.query_one("#chat", Input).focus()
        # Made (stamped) while the user typed into the chat, read only once the dialog is up and armed.
        typed = [events.Key(key, char) for key, char in [("a", "a"), ("r", "r"), ("enter", "\r"), ("tab", "\t")]]
        screen = app.ask(arm_after_s=0.02)
        await _until(pilot, lambda: screen.armed_at is not None)
        for key in typed:
            app.post_message(key)
        await pilot.pause(0.1)
        assert app.screen is screen and app.decisions == []
        await pilot.press("r")  # a key made now is an answer
        await _until(pilot, lambda: app.decisions)
    assert app.decisions == [Decision.ONCE]


async def test_keys_and_clicks_while_it_arms_do_nothing_and_it_says_it_is_arming() -> None:
    app = Host()
    async with app.run_test() as pilot:
        screen = app.ask(arm_after_s=600)  # never arms by itself in this test
        await pilot.pause()
        assert _keys(screen) == ARMING
        assert all(button.disabled for button in screen.query(Button))
        await pilot.press(*"hello again", "a", "r", "enter", "tab", "enter", "n", "escape")
        await pilot.click("#once")
        await pilot.click("#always")
        assert app.screen is screen and app.decisions == [] and screen.armed_at is None
        screen.post_message(ToolApprovalScreen.Armed())  # what the timer posts after arm_after_s
        await _until(pilot, lambda: screen.armed_at is not None)
        assert _keys(screen) == KEYS and not any(button.disabled for button in screen.query(Button))
        await pilot.press("n")
        await _until(pilot, lambda: app.decisions)
    assert app.decisions == [Decision.REFUSE]


async def _answer(keys: list[str]) -> list[Decision | None]:
    app = Host()
    async with app.run_test() as pilot:
        screen = app.ask(arm_after_s=0.02)
        await _until(pilot, lambda: screen.armed_at is not None)
        await pilot.press(*keys)
        await _until(pilot, lambda: app.decisions)
    return app.decisions


async def test_after_arming_the_deliberate_keys_answer_and_a_is_not_always() -> None:
    keys = (["a", "enter"], ["tab", "enter"], ["r"], ["n"], ["escape"], ["tab", "tab", "enter"])
    answers = [await _answer(list(each)) for each in keys]
    # "a" does nothing; Enter on the focused "Run once" runs once; Tab, Enter reaches "always".
    once, always, refuse = [Decision.ONCE], [Decision.ALWAYS], [Decision.REFUSE]
    assert answers == [once, always, once, refuse, refuse, refuse]


async def test_a_click_after_arming_answers() -> None:
    app = Host()
    async with app.run_test() as pilot:
        screen = app.ask(arm_after_s=0.02)
        await _until(pilot, lambda: screen.armed_at is not None)
        await pilot.click("#always")
        await _until(pilot, lambda: app.decisions)
    assert app.decisions == [Decision.ALWAYS]


def test_the_real_arming_delay_is_half_a_second() -> None:
    assert tool_approval_screen.ARM_AFTER_S == 0.5
    assert ToolApprovalScreen(REQUEST).arm_after_s == 0.5
