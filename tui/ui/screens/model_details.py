"""The details view: everything known of one model, with the fit estimate's figures."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.guard.safe_text import one_line, terminal_safe

LONG_VALUE_LINES = 40
"""Templates and licences are cut after this many lines."""


def detail_content(label: str, value: str) -> Content:
    lines = terminal_safe(value).splitlines() or [""]
    if len(lines) > LONG_VALUE_LINES:
        lines = [*lines[:LONG_VALUE_LINES], f"… ({len(lines) - LONG_VALUE_LINES} more lines)"]
    if len(lines) == 1:
        return Content.assemble((one_line(label, 40) + ": ", "bold $secondary"), lines[0])
    return Content.assemble((one_line(label, 40) + ":", "bold $secondary"), "\n" + "\n".join(lines))


class ModelDetailsScreen(ModalScreen[None]):
    """Rows of (label, value), scrollable; Esc, q or i closes."""

    DEFAULT_CSS = """
    ModelDetailsScreen { align: center middle; }
    ModelDetailsScreen > Vertical {
        width: 90%; max-width: 120; height: 85%; border: thick $accent; background: $surface; padding: 0 1;
    }
    ModelDetailsScreen .title { text-style: bold; color: $accent; height: auto; }
    ModelDetailsScreen VerticalScroll > Static { margin-bottom: 1; }
    ModelDetailsScreen .keys { color: $text-muted; height: 1; }
    """
    BINDINGS = [Binding("escape,q,i", "close", "Close", id="details.close")]

    def __init__(self, title: str, rows: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text, self.rows = title, list(rows)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(one_line(self.title_text, 100)), classes="title")
            with VerticalScroll():
                for label, value in self.rows:
                    yield Static(detail_content(label, value))
            yield Static("↑/↓ scroll    Esc: close", classes="keys")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_close(self) -> None:
        self.dismiss(None)
