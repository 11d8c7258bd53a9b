"""Asks the user whether a tool call may run: once, always in this conversation, or not at all.

Keys typed for the chat input must never answer it: the dialog drops every key made before it was
armed (ARM_AFTER_S after it is first shown), and "always" has no key of its own at all.
"""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from tui.guard.safe_text import one_line, terminal_safe
from tui.tools.approval import ApprovalRequest, Decision

ARM_AFTER_S = 0.5
"""Seconds the dialog ignores keys (and clicks) after it is shown, so typing meant for the chat is not an answer."""
KEYS = "r / Enter: run once   Tab, Enter: always   n / Esc: refuse"
"""One line at 80 columns: the dialog is 58 wide there."""
ARMING = "arming… (keys typed now are ignored)"
FOLD_AT = 200
"""Characters of one argument's value shown before the rest is folded away."""


def shown_arguments(arguments: dict[str, Any], fold_at: int = FOLD_AT) -> str:
    """One line per argument, values as JSON, long ones folded, every character made visible."""
    if not arguments:
        return "(no arguments)"
    lines = []
    for name, value in arguments.items():
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        if len(text) > fold_at:
            text = f"{text[:fold_at]}… ({len(text) - fold_at} more characters)"
        lines.append(f"{one_line(str(name), 40)}: {terminal_safe(text)}")
    return "\n".join(lines)


class ToolApprovalScreen(ModalScreen[Decision]):
    """The call's tool, server and arguments; r or Enter runs it once, n or Esc refuses, and "always"
    is its button only (Tab to it, Enter), never a single letter that might be typed into text."""

    DEFAULT_CSS = """
    ToolApprovalScreen { align: center middle; }
    ToolApprovalScreen > Vertical {
        width: 80%; max-width: 100; height: auto; max-height: 100%; padding: 1 2;
        border: thick $warning; background: $surface;
    }
    ToolApprovalScreen .title { text-style: bold; }
    /* The arguments scroll, so the keys below them show at 80x24 too. */
    ToolApprovalScreen VerticalScroll { height: auto; max-height: 40vh; margin-top: 1; background: $boost; }
    ToolApprovalScreen Horizontal { height: auto; margin-top: 1; }
    ToolApprovalScreen Button { margin-right: 2; }
    ToolApprovalScreen #keys { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [
        Binding("r", "answer('once')", "Run once", id="tools.run_once"),
        Binding("n,escape", "answer('refuse')", "Refuse", id="tools.refuse"),
    ]

    class Armed(Message):
        """The arming delay is over; keys made after this message are answers."""

    def __init__(self, request: ApprovalRequest, *, arm_after_s: float | None = None) -> None:
        super().__init__()
        self.request = request
        self.arm_after_s = ARM_AFTER_S if arm_after_s is None else arm_after_s
        self.armed_at: float | None = None
        """When the dialog armed, on the clock Textual stamps events with; None while arming."""

    def compose(self) -> ComposeResult:
        tool = self.request.tool
        with Vertical():
            yield Static(
                Text(f"The model wants to run {one_line(tool.name, 60)} (server {one_line(tool.server, 40)})"),
                classes="title",
            )
            if tool.description:
                yield Static(Text(one_line(tool.description, 200)))
            with VerticalScroll():
                yield Static(Text(shown_arguments(self.request.arguments)), id="arguments")
            with Horizontal():
                yield Button("Run once", id="once", variant="warning", disabled=True)
                yield Button("Always in this chat", id="always", disabled=True)
                yield Button("Refuse", id="refuse", variant="primary", disabled=True)
            yield Static(ARMING, id="keys")

    def on_mount(self) -> None:
        # Counted from the first frame that shows the dialog, not from when it was built.
        if self.arm_after_s > 0:
            self.call_after_refresh(self.set_timer, self.arm_after_s, lambda: self.post_message(self.Armed()))
        else:  # Textual's timers take no zero delay.
            self.call_after_refresh(self.post_message, self.Armed())

    def on_tool_approval_screen_armed(self, message: Armed) -> None:
        self.armed_at = message.time
        for button in self.query(Button):
            button.disabled = False
        self.query_one("#once", Button).focus()
        self.query_one("#keys", Static).update(KEYS)

    def on_key(self, event: events.Key) -> None:
        """Drop a key made before the dialog armed (typed ahead, or while it was arming)."""
        if self.armed_at is None or event.time < self.armed_at:
            event.stop()
            event.prevent_default()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(str(event.button.id))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.armed_at is not None or action != "answer"

    def action_answer(self, answer: str) -> None:
        if self.armed_at is not None:
            self.dismiss(Decision(answer))
