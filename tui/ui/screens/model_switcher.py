"""The fuzzy model switcher: type a few letters (or BACKEND/NAME), Enter uses the best match."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.ui.toast import tell
from tui.ui.widgets.model_pane import ModelRow, row_content

Search = Callable[[str], Sequence[ModelRow]]
"""Rows matching a query, best first."""


class ModelSwitcher(ModalScreen[tuple[str, str] | None]):
    """Answers (backend, name) of the chosen model, or None."""

    DEFAULT_CSS = """
    ModelSwitcher { align: center top; }
    ModelSwitcher > Vertical {
        width: 70; max-width: 100%; height: auto; max-height: 100%; margin-top: 3; border: thick $accent; background: $surface;
    }
    /* Input's own :focus rule draws a tall border: with fewer than 3 rows nothing typed shows. */
    ModelSwitcher Input, ModelSwitcher Input:focus { border: tall $accent; height: 3; margin: 0 1; }
    ModelSwitcher OptionList { height: auto; max-height: 50vh; border: none; }
    ModelSwitcher .keys { color: $text-muted; padding: 0 1; height: 1; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close", id="switcher.close"),
        Binding("down", "move(1)", "Next", show=False, id="switcher.down"),
        Binding("up", "move(-1)", "Previous", show=False, id="switcher.up"),
    ]

    def __init__(self, search: Search) -> None:
        super().__init__()
        self.search = search
        self._rows: list[ModelRow] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Input(placeholder="Switch model: type a few letters…")
            yield OptionList()
            yield Static("Enter: use    ↑/↓: choose    Esc: close", classes="keys")

    def on_mount(self) -> None:
        query = self.query_one(Input)
        query.value = ""  # Every opening starts on the whole list.
        self._fill("")
        query.focus()

    def models_changed(self) -> None:
        """The model list changed while open (a backend answered): search again, keeping the
        highlighted model where it is still listed."""
        if self.is_attached:
            self._fill(self.query_one(Input).value, keep=True)

    def _fill(self, query: str, *, keep: bool = False) -> None:
        options = self.query_one(OptionList)
        index = options.highlighted
        was = self._rows[index] if keep and index is not None and index < len(self._rows) else None
        self._rows = list(self.search(query))
        options.clear_options()
        options.add_options(
            Option(row_content(row, with_backend=True), id=str(index)) for index, row in enumerate(self._rows)
        )
        if self._rows:
            keys = [(row.backend, row.name) for row in self._rows]
            options.highlighted = keys.index((was.backend, was.name)) if was and (was.backend, was.name) in keys else 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._choose(self.query_one(OptionList).highlighted)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self._choose(event.option_index)

    def _choose(self, index: int | None) -> None:
        if index is None or not self._rows:
            tell(self, f"No model matches {self.query_one(Input).value.strip()!r}.", severity="warning")
            return
        row = self._rows[index]
        self.dismiss((row.backend, row.name))

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        (options.action_cursor_down if step > 0 else options.action_cursor_up)()

    def action_close(self) -> None:
        self.dismiss(None)
