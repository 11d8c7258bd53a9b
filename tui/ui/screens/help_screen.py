"""Every key lchat answers to, with what it does, where, and the id to remap it in config.toml."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.ui.keys import BoundAction

Row = tuple[str, str, str, str]
"""Keys, what they do, where, binding id."""

PLACES = {
    "conversations": "chats pane",
    "chat": "chat",
    "attachments": "attachments",
    "composer": "message box",
    "models": "models pane",
    "model-list": "models pane",
    "model-filter": "models filter",
}
"""Where a widget's keys work, in the words of the screen (never a widget id)."""
DIALOG_PLACES = {
    "ConfirmScreen": "yes/no question",
    "InputQuestion": "question",
    "ChoiceQuestion": "choice",
    "SearchScreen": "search (^f)",
    "SettingsScreen": "settings (F8)",
    "PresetScreen": "presets (F9)",
    "ModelSwitcher": "model switcher",
    "ModelDetailsScreen": "model details",
    "ToolApprovalScreen": "tool approval",
    "ToolSelectScreen": "tools (F10)",
    "HelpScreen": "this help",
}
TEXTUAL_KEYS = {
    "command_palette": "Command palette: every action by name",
    "app.focus_next": "Next pane or field",
    "app.focus_previous": "Previous pane or field",
    "screen.copy_text": "Copy the selected text",
}
"""Textual's own keys worth knowing, with what they do (Textual leaves some undescribed)."""


def bindings_table(rows: Iterable[Row]) -> Table:
    table = Table(box=None, expand=True, pad_edge=False, header_style="bold")
    for column in ("Keys", "Does", "Where", "Id ([keys] in config.toml)"):
        table.add_column(Text(column))  # Text: "[keys]" is not markup.
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    return table


def help_rows(actions: Iterable[BoundAction], dialogs: Iterable[type], keys_for: Callable[[Binding], str]) -> list[Row]:
    """lchat's own keys (each with an id), the dialogs' keys, then Textual's keys that matter:
    the message box's editing keys and the few in TEXTUAL_KEYS. One row per key and meaning."""
    own: list[Row] = []
    textual: list[Row] = []
    for action in actions:
        binding, node = action.binding, action.node
        where = "anywhere" if node is node.app or node is node.screen else PLACES.get(node.id or "", "")
        if binding.id:
            own.append((keys_for(binding), action.what, where, binding.id))
        elif binding.action in TEXTUAL_KEYS:
            textual.append((keys_for(binding), TEXTUAL_KEYS[binding.action], where, ""))
        elif where == "message box" and binding.description:
            textual.append((keys_for(binding), binding.description, where, ""))
    for dialog in dialogs:
        for binding in getattr(dialog, "BINDINGS", []):
            if isinstance(binding, Binding) and binding.id and binding.description:
                place = DIALOG_PLACES.get(dialog.__name__, dialog.__name__)
                own.append((keys_for(binding), binding.tooltip or binding.description, place, binding.id))
    seen: set[tuple[str, str, str]] = set()
    rows = []
    for row in own + textual:
        if row[3] or (row[0], row[1], row[2]) not in seen:
            seen.add((row[0], row[1], row[2]))
            rows.append(row)
    return rows


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

    def __init__(self, rows: list[Row]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("lchat keys (↑/↓ scroll, Esc closes)", classes="title")
            yield Static(bindings_table(self.rows))
            yield Static(Text('Remap any key in config.toml, e.g.\n[keys]\n"chat.cancel" = "ctrl+g"', style="dim"))
