"""Asks the user whether a tool call may run: once, always in this conversation, or not at all."""

from __future__ import annotations

import json
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.safe_text import one_line, terminal_safe
from tui.tools.approval import ApprovalRequest, Decision

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
    """The call's tool, server and arguments; r runs it once, a always in this conversation, n refuses."""

    DEFAULT_CSS = """
    ToolApprovalScreen { align: center middle; }
    ToolApprovalScreen > Vertical {
        width: 80%; max-width: 100; height: auto; max-height: 100%; padding: 1 2;
        border: thick $warning; background: $surface;
    }
    ToolApprovalScreen .title { text-style: bold; }
    /* The arguments scroll, so the keys below them show at 80x24 too. */
    ToolApprovalScreen VerticalScroll { height: auto; max-height: 45vh; margin-top: 1; background: $boost; }
    ToolApprovalScreen .keys { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [
        Binding("r,enter", "answer('once')", "Run once", id="tools.run_once"),
        Binding("a", "answer('always')", "Always in this chat", id="tools.run_always"),
        Binding("n,escape", "answer('refuse')", "Refuse", id="tools.refuse"),
    ]

    def __init__(self, request: ApprovalRequest) -> None:
        super().__init__()
        self.request = request

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
            yield Static(
                "r / Enter: run once    a: always for this tool in this chat    n / Esc: refuse", classes="keys"
            )

    def action_answer(self, answer: str) -> None:
        self.dismiss(Decision(answer))
