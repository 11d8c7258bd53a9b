"""An answer's tool calls, each folded to one line (tool, state, who approved); alt+u (anywhere),
Enter on the call or a click unfolds its arguments and result."""

from __future__ import annotations

import json
from collections.abc import Sequence

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static

from tui.domain import MessagePart, PartKind
from tui.domain.parts import call_id_of, tool_call_of, tool_result_of
from tui.guard.safe_text import one_line, terminal_safe

RESULT_SHOWN_CHARS = 4_000
"""Characters of a result drawn when unfolded (all of it is stored and exported)."""

_STATE_WORDS = {
    "asked": "waiting for you",
    "approved": "running",
    "refused": "refused",
    "done": "done",
    "interrupted": "interrupted (not run again)",
}
_APPROVAL_WORDS = {
    "config": "allowed by config",
    "user": "approved by you",
    "conversation": "always in this chat",
    "refused": "",
}


UNFOLD_KEY = "alt+u"
"""The main screen's key for folding and unfolding the calls (`chat.tools_unfold`), named in the line."""


def call_line(call: MessagePart, result: MessagePart | None, *, open: bool = False) -> Text:
    """The line of one call (▸ folded, ▾ unfolded): never markup, every character visible."""
    data = tool_call_of(call)
    arguments = json.dumps(data.arguments, ensure_ascii=False)
    line = Text("▾ " if open else "▸ ", style="dim")
    line.append("⚙ ", style="bold")
    line.append(one_line(f"{data.server or '?'}.{data.tool or data.name}", 60), style="bold")
    line.append(one_line(f"({arguments})", 60), style="dim")
    words = [
        _STATE_WORDS.get(data.state, data.state),
        _APPROVAL_WORDS.get(data.approval, ""),
    ]
    if result is not None and tool_result_of(result).is_error and data.state == "done":
        words.append("the tool failed")
    line.append(" · " + " · ".join(one_line(word, 40) for word in words if word), style="italic")
    line.append(f"  ({UNFOLD_KEY} {'folds' if open else 'shows'} it)", style="dim")
    return line


def call_details(call: MessagePart, result: MessagePart | None) -> Text:
    """What unfolds: the arguments in full and the result (its first RESULT_SHOWN_CHARS)."""
    arguments = json.dumps(tool_call_of(call).arguments, ensure_ascii=False, indent=2)
    details = Text("arguments: ", style="bold")
    details.append(terminal_safe(arguments) + "\n")
    if result is not None:
        details.append("result: ", style="bold")
        text = result.text
        cut = (
            f"\n… ({len(text) - RESULT_SHOWN_CHARS} more characters, all kept)"
            if len(text) > RESULT_SHOWN_CHARS
            else ""
        )
        details.append(terminal_safe(text[:RESULT_SHOWN_CHARS]) + cut)
    return details


class ToolCallView(Vertical, can_focus=True):
    """One call, folded; Enter or a click unfolds it (and folds it again)."""

    DEFAULT_CSS = """
    ToolCallView { height: auto; color: $text-muted; }
    ToolCallView:focus { background: $boost; }
    ToolCallView > .details { height: auto; padding: 0 2; display: none; }
    ToolCallView.-open > .details { display: block; }
    """

    BINDINGS = [Binding("enter,space", "unfold", "Unfold", show=False, id="tools.unfold")]

    def __init__(self, call: MessagePart) -> None:
        super().__init__()
        self.call = call
        self.result: MessagePart | None = None

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def compose(self) -> ComposeResult:
        yield Static(call_line(self.call, self.result, open=self.is_open), classes="line")
        yield Static(call_details(self.call, self.result), classes="details")

    def update_parts(self, call: MessagePart | None = None, result: MessagePart | None = None) -> None:
        self.call = call or self.call
        self.result = result or self.result
        if self.is_mounted:
            self.query_one(".line", Static).update(call_line(self.call, self.result, open=self.is_open))
            self.query_one(".details", Static).update(call_details(self.call, self.result))

    def action_unfold(self) -> None:
        self.unfold(not self.is_open)

    def unfold(self, open: bool) -> None:
        self.set_class(open, "-open")
        if self.is_mounted:
            self.query_one(".line", Static).update(call_line(self.call, self.result, open=open))

    def on_click(self) -> None:
        self.action_unfold()


class ToolCallsView(Vertical):
    """A run of an answer's tool calls (those nothing else came between), in order."""

    DEFAULT_CSS = "ToolCallsView { height: auto; }"

    def __init__(self, parts: Sequence[MessagePart] = ()) -> None:
        super().__init__()
        self._views: dict[str, ToolCallView] = {}
        self._initial = list(parts)

    def on_mount(self) -> None:
        for part in self._initial:
            self.show_part(part)
        self._initial = []
        self.display = bool(self._views)

    def has_call(self, call_id: str) -> bool:
        """Whether the call `call_id` is one of these (shown, or about to be)."""
        return call_id in self._views or any(call_id_of(part) == call_id for part in self._initial)

    def show_part(self, part: MessagePart) -> None:
        """Add a call, or update the call a result or a new state belongs to."""
        call_id = call_id_of(part)
        view = self._views.get(call_id)
        if part.kind is PartKind.TOOL_CALL:
            if view is None:
                view = self._views[call_id] = ToolCallView(part)
                self.mount(view)
            else:
                view.update_parts(call=part)
        elif part.kind is PartKind.TOOL_RESULT and view is not None:
            view.update_parts(result=part)
        self.display = bool(self._views)

    def calls(self) -> list[ToolCallView]:
        """The call views of this run, in order."""
        return list(self._views.values())

    def toggle(self) -> bool:
        """Unfold every call (fold them all when all are open); False when there are none."""
        views = list(self._views.values())
        open = not all(view.is_open for view in views)
        for view in views:
            view.unfold(open)
        return bool(views)
