"""Small modal questions: a line of text, or one choice from a list."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.guard.safe_text import one_line

_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 72; max-width: 100%; height: auto; max-height: 100%; padding: 1 2;
    border: thick $accent; background: $surface;
}}
{name} .keys {{ color: $text-muted; margin-top: 1; }}
{name} OptionList {{ height: auto; max-height: 60vh; }}  /* The keys below it stay on screen at 80x24. */
"""


class InputQuestion(ModalScreen[str | None]):
    """Asks for one line; Enter answers it (stripped), Esc answers None."""

    DEFAULT_CSS = _CSS.format(name="InputQuestion")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="question.cancel")]

    def __init__(
        self,
        question: str,
        *,
        placeholder: str = "",
        value: str = "",
        hint: str = "",
        suggester: Suggester | None = None,
    ) -> None:
        super().__init__()
        self.question, self.placeholder, self.value, self.hint = question, placeholder, value, hint
        self.suggester = suggester

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.question))
            yield Input(value=self.value, placeholder=self.placeholder, suggester=self.suggester)
            yield Static(Content(self.hint or "Enter: OK    Esc: cancel"), classes="keys")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class ChoiceQuestion(ModalScreen[str | None]):
    """Offers `choices` as (id, label); Enter answers the id, Esc answers None."""

    DEFAULT_CSS = _CSS.format(name="ChoiceQuestion")
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="choice.cancel")]

    def __init__(self, question: str, choices: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self.question, self.choices = question, list(choices)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content(self.question))
            yield OptionList(*(Option(one_line(label, 66), id=key) for key, label in self.choices))
            yield Static("Enter: choose    Esc: cancel", classes="keys")

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
