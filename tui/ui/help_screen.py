"""Every key lchat answers to, with what it does and the id to remap it in config.toml."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.ui.keys import BoundAction


def bindings_table(rows: list[tuple[str, str, str, str]]) -> Table:
    table = Table(box=None, expand=True, pad_edge=False, header_style="bold")
    for column in ("Keys", "Does", "Where", "Id (for [keys] in config.toml)"):
        table.add_column(column)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


class HelpScreen(ModalScreen[None]):
    """The key reference; Esc, q or F1 closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 110; height: 90%; border: thick $primary; background: $surface; padding: 0 1;
    }
    HelpScreen .title { text-style: bold; color: $primary; margin-bottom: 1; }
    """

    BINDINGS = [Binding("escape,q,f1", "dismiss", "Close help", id="help.close")]

    def __init__(self, rows: list[tuple[str, str, str, str]]) -> None:
        super().__init__()
        self.rows = rows

    @classmethod
    def rows_for(cls, actions: list[BoundAction], keys_for) -> list[tuple[str, str, str, str]]:
        """Table rows: keys, description, the pane it works in, binding id."""
        rows = []
        for action in actions:
            where = (
                "anywhere"
                if action.node is action.node.app or action.node is action.node.screen
                else (action.node.id or type(action.node).__name__)
            )
            rows.append((keys_for(action.binding), action.binding.description, where, action.binding.id or ""))
        # lchat's own keys (those with an id) first; Textual's editing and scrolling keys after.
        return sorted(rows, key=lambda row: not row[3])

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("lchat keys", classes="title")
            yield Static(bindings_table(self.rows))
            yield Static(Text('Remap any key in config.toml, e.g.\n[keys]\n"chat.cancel" = "ctrl+g"', style="dim"))
