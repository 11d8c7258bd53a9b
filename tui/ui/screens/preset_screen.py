"""Choosing a preset (persona) for the conversation (F9)."""

from __future__ import annotations

from collections.abc import Mapping

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.config import PresetConfig
from tui.guard.safe_text import one_line


class PresetScreen(ModalScreen[str | None]):
    """Lists the presets from config.toml; Enter picks one, Escape closes."""

    DEFAULT_CSS = """
    PresetScreen { align: center middle; }
    PresetScreen > Vertical {
        width: 80; max-width: 100%; height: auto; max-height: 100%; padding: 1 2;
        border: thick $primary; background: $surface;
    }
    /* Room for the title and keys below it on any screen, 80x24 included. */
    PresetScreen OptionList { height: auto; max-height: 60vh; border: none; }
    PresetScreen .keys { color: $text-muted; margin-top: 1; }
    """

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="presets.cancel"),
        Binding("j", "cursor(1)", "Down", show=False, id="presets.down"),
        Binding("k", "cursor(-1)", "Up", show=False, id="presets.up"),
    ]

    def __init__(self, presets: Mapping[str, PresetConfig], current: str = "") -> None:
        super().__init__()
        self.presets = dict(presets)
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Presets", classes="title")
            yield OptionList(*(Option(self._row(name, preset), id=name) for name, preset in self.presets.items()))
            yield Static("Enter: use for this conversation    Esc: cancel", classes="keys")

    def _row(self, name: str, preset: PresetConfig) -> Text:
        row = Text(one_line(name, 30), style="bold")
        if name == self.current:
            row.append(" (in use)", style="dim")
        about = preset.description or preset.system_prompt
        if about:
            row.append("\n  " + one_line(about, 70), style="dim")
        return row

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.focus()
        names = list(self.presets)
        options.highlighted = names.index(self.current) if self.current in names else 0

    def action_cursor(self, step: int) -> None:
        options = self.query_one(OptionList)
        options.action_cursor_down() if step > 0 else options.action_cursor_up()

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
