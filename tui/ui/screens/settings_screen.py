"""The conversation's system prompt and sampling parameters, in a dialog (F8)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from tui.chat.presets import PARAMS, STOP_KEY, THINK_KEY, parse_params, parse_stops, stops_text
from tui.ui.screens.dialog_frame import DialogBody, DialogFooter, DialogFrame

LABELS = {
    "temperature": "Temperature",
    "top_p": "Top p",
    "max_tokens": "Max tokens",
    "context_length": "Context length",
    "seed": "Seed",
}


@dataclass(frozen=True)
class Settings:
    """What the dialog gives back."""

    system_prompt: str
    params: dict[str, Any]


class SettingsScreen(ModalScreen[Settings | None]):
    """Edits a system prompt, the parameters and the stop strings; blank fields mean "the default"
    (shown greyed)."""

    DEFAULT_CSS = """
    SettingsScreen { align: center middle; }
    SettingsScreen > DialogFrame { width: 80; max-height: 42; border: thick $primary; }
    SettingsScreen #system-prompt { height: 8; }
    SettingsScreen #stop { height: 4; width: 1fr; }
    SettingsScreen .stops { height: 4; }
    SettingsScreen .stops Label { width: 16; padding: 1 0; }
    SettingsScreen .row { height: 3; }
    SettingsScreen .row Label { width: 16; padding: 1 0; }
    SettingsScreen .row Input { width: 1fr; }
    SettingsScreen Horizontal.buttons { height: auto; align-horizontal: right; }
    """

    BINDINGS = [
        Binding("ctrl+s", "save", "Save settings", id="settings.save"),
        Binding("escape", "cancel", "Cancel", id="settings.cancel"),
    ]

    def __init__(
        self,
        system_prompt: str,
        params: dict[str, Any],
        defaults: dict[str, Any],
        *,
        think_choices: Sequence[str] = ("",),
    ) -> None:
        super().__init__()
        self.system_prompt = system_prompt
        self.params = params
        self.defaults = defaults
        self.think_choices = list(think_choices)
        """The thinking settings the model offers ("" its default first); one: no field."""

    def compose(self) -> ComposeResult:
        with DialogFrame():
            yield Static("Chat settings (blank: the default)", classes="title")
            with DialogBody():
                # The name is the field's own border title: it scrolls into view with the field.
                prompt = TextArea(self.system_prompt, id="system-prompt", soft_wrap=True, tab_behavior="focus")
                prompt.border_title = "System prompt"
                yield prompt
                for name in PARAMS:
                    value = self.params.get(name)
                    default = self.defaults.get(name)
                    with Horizontal(classes="row"):
                        yield Label(LABELS[name])
                        yield Input(
                            "" if value is None else str(value),
                            id=f"param-{name}",
                            placeholder=f"default: {'model/engine' if default is None else default}",
                        )
                with Horizontal(classes="stops"):
                    yield Label("Stop strings")
                    default_stops = stops_text(self.defaults.get(STOP_KEY) or []).replace("\n", " | ") or "none"
                    yield TextArea(
                        stops_text(self.params.get(STOP_KEY) or []),
                        id="stop",
                        tab_behavior="focus",
                        placeholder=Content(f"one a line, \\n for a line break; default: {default_stops}"),
                    )
                if len(self.think_choices) > 1:
                    current = str(self.params.get(THINK_KEY, ""))
                    with Horizontal(classes="row"):
                        yield Label("Thinking")
                        yield Select(
                            [(choice or "the model's default", choice) for choice in self.think_choices],
                            value=current if current in self.think_choices else "",
                            allow_blank=False,
                            id="think",
                        )
            with DialogFooter():
                yield Static("", classes="problems")
                with Horizontal(classes="buttons"):
                    yield Button("Save", id="save", variant="primary")
                    yield Button("Cancel", id="cancel")
                yield Static("Tab: next field    ctrl+s: save    Esc: cancel", classes="keys")

    @on(Button.Pressed, "#save")
    @on(Input.Submitted)
    def action_save(self) -> None:
        typed = {name: self.query_one(f"#param-{name}", Input).value for name in PARAMS}
        params, problems = parse_params(typed)
        stops = parse_stops(self.query_one("#stop", TextArea).text)
        if stops:
            params[STOP_KEY] = stops
        if len(self.think_choices) > 1:
            params[THINK_KEY] = self.query_one("#think", Select).value
        if problems:
            self.query_one(".problems", Static).update(
                Text("; ".join(f"{LABELS[name]} must be {why}" for name, why in problems.items()))
            )
            return
        self.dismiss(Settings(self.query_one("#system-prompt", TextArea).text, params))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
