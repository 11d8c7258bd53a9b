"""The side pane: models lchat can reach, which one this conversation uses, engine state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from tui.domain import ModelInfo
from tui.safe_text import one_line
from tui.ui.widgets.message_view import model_label


def describe(model: ModelInfo) -> Text:
    """One row: name, then what is known of it."""
    row = Text(one_line(model_label(model.name), 40))
    details = [model.quantization]
    if model.parameters:
        details.append(f"{model.parameters / 1e9:.2f}B" if model.parameters >= 1e9 else f"{model.parameters / 1e6:.0f}M")
    if model.context_length:
        details.append(f"ctx {model.context_length}")
    if model.extra.get("error"):
        details = ["unusable"]
    row.append("\n  " + one_line(" · ".join(d for d in details if d), 40), style="dim")
    return row


class ModelPane(Vertical):
    """Lists models; Enter posts `Chosen` for the highlighted one."""

    DEFAULT_CSS = """
    ModelPane > .current { height: auto; padding: 0 1; }
    ModelPane > .status { height: auto; padding: 0 1; color: $text-muted; }
    ModelPane > OptionList { height: 1fr; border: none; }
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="models.down"),
        Binding("k", "cursor_up", "Up", show=False, id="models.up"),
    ]

    @dataclass
    class Chosen(Message):
        """The user picked a model for the current conversation."""

        backend: str
        name: str

    def compose(self) -> ComposeResult:
        yield Static("Model: looking…", classes="current")
        yield OptionList(id="model-list")
        yield Static("", classes="status")

    def show_models(self, models: Sequence[ModelInfo], offline: Mapping[str, str]) -> None:
        option_list = self.query_one(OptionList)
        option_list.clear_options()
        self._models = list(models)
        option_list.add_options(Option(describe(model), id=str(index)) for index, model in enumerate(models))
        if models:
            option_list.highlighted = 0
        lines = [f"{backend}: offline ({one_line(reason, 60)})" for backend, reason in offline.items()]
        if not models:
            lines.append("No models found. Put a .gguf file in the models folder (see README).")
        self.show_status("\n".join(lines))

    def show_current(self, label: str) -> None:
        self.query_one(".current", Static).update(Text("Model: ") + Text(one_line(label, 60), style="bold"))

    def show_status(self, text: str) -> None:
        self.query_one(".status", Static).update(Text(text))

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        model = self._models[int(event.option.id or 0)]
        self.post_message(self.Chosen(model.backend, model.name))
