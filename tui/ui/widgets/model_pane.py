"""The models pane: every backend's models in one grouped list, a filter, and transfer progress.

It only displays what the screen gives it (`ModelGroup` rows) and posts what the user wants:
`Chosen` for Enter, `Requested` for everything else (details, favourite, pull, delete...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Input, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from tui.guard.safe_text import one_line

FIT_STYLES = {
    "fits": "$success",
    "tight": "$warning",
    "won't fit": "bold $error",
    "fits on GPU": "$success",
    "CPU only": "$warning",
}
"""Verdicts of the fit estimate; "partly on GPU (n/m layers)" takes the warning colour."""
NAME_WIDTH = 26
"""Characters a row's lines may take after their indent: the pane is 34 columns wide."""


@dataclass(frozen=True)
class ModelRow:
    """One model as the pane shows it."""

    backend: str
    name: str
    label: str
    facts: str = ""
    """Size, parameters, quantization, context, e.g. "2.0 GB · 3.2B · Q4_K_M · 128k"."""
    state: str = ""
    """"loaded · 3.0 GB VRAM · until 14:05", "unusable"..."""
    fit: str = ""
    """"fits", "tight", "won't fit", "fits on GPU", "partly on GPU (20/29 layers)", "CPU only" or ""."""
    favourite: int | None = None
    current: bool = False


@dataclass(frozen=True)
class ModelGroup:
    """A backend's models, or why the backend is offline."""

    backend: str
    rows: list[ModelRow] = field(default_factory=list)
    offline: str | None = None


def row_content(row: ModelRow, *, with_backend: bool = False) -> Content:
    """Name line, facts line (led by the backend where rows are not grouped by it), and a
    fit/state line when there is one."""
    mark = "▶ " if row.current else "  "
    star = f"★{row.favourite} " if row.favourite else ""
    name = one_line(row.label, NAME_WIDTH - len(star))
    parts: list[str | tuple[str, str]] = [mark, (star, "$accent"), (name, "bold" if row.current else "")]
    facts = " · ".join(filter(None, [row.backend if with_backend else "", row.facts]))
    if facts:
        parts.append(("\n  " + one_line(facts, NAME_WIDTH), "dim"))
    if row.fit:
        parts.extend(["\n  ", (row.fit, FIT_STYLES.get(row.fit, "$warning"))])
    if row.state:
        state = one_line(row.state, NAME_WIDTH)
        same_line = row.fit and len(row.fit) + 3 + len(state) <= NAME_WIDTH
        parts.append(((" · " if same_line else "\n  ") + state, "$text-muted"))
    return Content.assemble(*parts)


def matches(row: ModelRow, query: str) -> bool:
    """Every word of the filter appears in the row's name, backend or facts."""
    haystack = f"{row.label} {row.backend} {row.facts} {row.state}".lower()
    return all(word in haystack for word in query.lower().split())


class FilterInput(Input):
    """The filter line: Esc clears it, Enter or ↓ goes back to the list."""

    BINDINGS = [
        Binding("escape", "clear", "Clear filter", id="models.filter_clear"),
        Binding("down", "leave", "To the list", show=False, id="models.filter_leave"),
    ]

    def action_clear(self) -> None:
        self.value = ""
        self.display = False
        self.screen.set_focus(self.parent.query_one(OptionList))  # type: ignore[union-attr]

    def action_leave(self) -> None:
        self.screen.set_focus(self.parent.query_one(OptionList))  # type: ignore[union-attr]


class ModelPane(Vertical):
    """Lists models grouped by backend; Enter posts `Chosen`, other keys post `Requested`."""

    DEFAULT_CSS = """
    ModelPane > .current { height: auto; padding: 0 1; }
    /* :focus too: Input's own focus border would take the only row, hiding what is typed. */
    ModelPane > FilterInput, ModelPane > FilterInput:focus { display: none; border: none; height: 1; padding: 0 1; }
    /* A long name ends in … on its own line, never wrapped mid-word onto the next. */
    ModelPane > OptionList { height: 1fr; border: none; text-wrap: nowrap; text-overflow: ellipsis; }
    ModelPane > .transfer { height: auto; padding: 0 1; display: none; }
    ModelPane > ProgressBar { padding: 0 1; display: none; }
    ModelPane > .status { height: auto; padding: 0 1; color: $text-muted; }
    """

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="models.down"),
        Binding("k", "cursor_up", "Up", show=False, id="models.up"),
        Binding("g", "first", "First", show=False, id="models.first"),
        Binding("G", "last", "Last", show=False, id="models.last"),
        Binding("slash", "filter", "Filter models", id="models.filter"),
        Binding("i", "request('details')", "Model details", id="models.details"),
        Binding("f", "request('favourite')", "Favourite", id="models.favourite"),
        Binding("p", "request('pull')", "Pull (Ollama)", id="models.pull"),
        Binding("h", "request('download')", "Download (Hugging Face)", id="models.download"),
        Binding("o", "request('import')", "Import GGUF file", id="models.import"),
        Binding("d,delete", "request('delete')", "Delete model", id="models.delete"),
        Binding("u", "request('unload')", "Unload model", id="models.unload"),
        Binding("l", "request('lora')", "LoRA adapter", id="models.lora"),
        Binding("x", "request('cancel_transfer')", "Cancel download", id="models.cancel_transfer"),
        Binding("r", "request('refresh')", "Refresh models", id="models.refresh"),
    ]

    @dataclass
    class Chosen(Message):
        """The user picked a model for the current conversation."""

        backend: str
        name: str

    @dataclass
    class Requested(Message):
        """The user asked for `action` on the highlighted model (None: no model highlighted)."""

        action: str
        backend: str | None
        name: str | None

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._groups: list[ModelGroup] = []
        self._rows: dict[str, ModelRow] = {}
        self._empty_hint = ""
        self._status = ""
        """The last status given (an answer's figures), shown again once a list note goes."""

    def compose(self) -> ComposeResult:
        yield Static("Model: looking…", classes="current")
        yield FilterInput(placeholder="filter…", id="model-filter")
        yield OptionList(id="model-list")
        yield Static("", classes="transfer")
        yield ProgressBar(show_eta=False)
        yield Static("", classes="status")

    # What the screen calls

    def show_groups(self, groups: Sequence[ModelGroup], *, empty_hint: str = "") -> None:
        """Show these groups (the filter and the highlighted model are kept)."""
        self._groups, self._empty_hint = list(groups), empty_hint
        self._render_rows()

    def show_current(self, label: str, backend: str = "") -> None:
        """The conversation's model: its backend on the first line, the name on its own line
        (ended with … when longer than the pane, never wrapped mid-word)."""
        where = f" ({one_line(backend, NAME_WIDTH - 8)})" if backend else ""
        self.query_one(".current", Static).update(
            Content.assemble(f"Model{where}:\n" if backend else "Model: ", (one_line(label, NAME_WIDTH + 4), "bold"))
        )

    def show_status(self, text: str) -> None:
        self._status = text
        self._set_status(text)

    def _set_status(self, text: str) -> None:
        self.query_one(".status", Static).update(Content(text))

    def show_transfer(self, title: str, completed: int | None, total: int | None, detail: str) -> None:
        """A download's progress; total None shows an indeterminate bar."""
        label, bar = self.query_one(".transfer", Static), self.query_one(ProgressBar)
        label.display = bar.display = True
        label.update(Content.assemble((one_line(title, 40), "bold"), "\n", one_line(detail, 60)))
        bar.update(total=total, progress=completed or 0)

    def hide_transfer(self) -> None:
        self.query_one(".transfer", Static).display = False
        self.query_one(ProgressBar).display = False

    @property
    def visible_rows(self) -> list[ModelRow]:
        """The rows shown now (after the filter), in order."""
        return list(self._rows.values())

    @property
    def highlighted(self) -> ModelRow | None:
        option_list = self.query_one(OptionList)
        index = option_list.highlighted
        if index is None:
            return None
        option = option_list.get_option_at_index(index)
        return self._rows.get(option.id or "")

    # Rendering

    def _render_rows(self) -> None:
        option_list = self.query_one(OptionList)
        keep = self.highlighted if option_list.has_focus else None  # Else follow the current model.
        query = self.query_one(FilterInput).value.strip()
        options: list[Option] = []
        self._rows = {}
        for group in self._groups:
            rows = [row for row in group.rows if not query or matches(row, query)]
            if query and not rows:
                continue
            header = Content.assemble(("── " + one_line(group.backend, 24), "bold $secondary"))
            if group.offline is not None:
                header = Content.assemble(header, ("\n  offline: " + one_line(group.offline, 200), "$error"))
            options.append(Option(header, disabled=True))
            for row in rows:
                key = f"m{len(self._rows)}"
                self._rows[key] = row
                options.append(Option(row_content(row), id=key))
        option_list.clear_options()
        option_list.add_options(options)
        wanted = next(
            (k for k, r in self._rows.items() if keep and (r.backend, r.name) == (keep.backend, keep.name)), None
        )
        wanted = wanted or next((k for k, r in self._rows.items() if r.current), None) or next(iter(self._rows), None)
        if wanted:
            option_list.highlighted = option_list.get_option_index(wanted)
        if not self._rows:
            self._set_status("No model matches the filter." if query else self._empty_hint)
        else:
            self._set_status(self._status)

    # Keys

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_first(self) -> None:
        self.query_one(OptionList).action_first()

    def action_last(self) -> None:
        self.query_one(OptionList).action_last()

    def action_filter(self) -> None:
        field_ = self.query_one(FilterInput)
        field_.display = True
        field_.focus()

    def action_request(self, action: str) -> None:
        row = self.highlighted
        self.post_message(self.Requested(action, row.backend if row else None, row.name if row else None))

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._render_rows()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        row = self._rows.get(event.option.id or "")
        if row is not None:
            self.post_message(self.Chosen(row.backend, row.name))
