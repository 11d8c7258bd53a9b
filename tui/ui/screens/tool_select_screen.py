"""Which tools a conversation has on: each server's tools with their prompt cost, ticked or not."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from tui.guard.safe_text import one_line
from tui.tools.catalog import ToolInfo


class ToolSelectScreen(ModalScreen[list[str] | None]):
    """Space ticks a tool, Enter keeps the choice (nothing ticked: tools off), Esc leaves it as it was.

    Dismissed with the ticked tools' server.tool names, or None when nothing changed."""

    DEFAULT_CSS = """
    ToolSelectScreen { align: center middle; }
    ToolSelectScreen > Vertical {
        width: 90%; max-width: 120; height: 80%; min-height: 20; max-height: 100%; padding: 1 2; border: thick $primary; background: $surface;
    }
    ToolSelectScreen .problem { color: $error; height: auto; max-height: 3; }
    ToolSelectScreen SelectionList { height: 1fr; }
    ToolSelectScreen #tool-total { margin-top: 1; }
    ToolSelectScreen .keys { color: $text-muted; }
    """

    BINDINGS = [
        Binding("enter", "keep", "Keep", id="tools.keep", priority=True),  # before the list toggles on Enter
        Binding("escape", "dismiss_unchanged", "Cancel", id="tools.cancel"),
    ]

    def __init__(self, tools: list[ToolInfo], chosen: set[str], problems: list[str]) -> None:
        super().__init__()
        self.tools = tools
        self.chosen = chosen
        """server.tool names on now."""
        self.problems = problems

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Tools for this conversation", classes="title")
            for problem in self.problems:
                yield Static(Text(one_line(problem, 200)), classes="problem")
            yield SelectionList[str](
                *(
                    Selection(
                        Text(
                            f"{one_line(tool.qualified, 50)}  ~{tool.tokens} tokens  {one_line(tool.description, 80)}"
                        ),
                        tool.qualified,
                        tool.qualified in self.chosen,
                    )
                    for tool in self.tools
                ),
                id="tool-list",
            )
            yield Static("", id="tool-total")
            yield Static("Space: tick    Enter: keep    Esc: cancel", classes="keys")

    def on_mount(self) -> None:
        self._show_total()
        self.query_one(SelectionList).focus()

    def on_selection_list_selected_changed(self) -> None:
        self._show_total()

    def _show_total(self) -> None:
        ticked = set(self.query_one(SelectionList).selected)
        tokens = sum(tool.tokens for tool in self.tools if tool.qualified in ticked)
        self.query_one("#tool-total", Static).update(
            f"{len(ticked)} tool{'' if len(ticked) == 1 else 's'} on, about {tokens} prompt tokens"
        )

    def action_keep(self) -> None:
        self.dismiss(list(self.query_one(SelectionList[str]).selected))

    def action_dismiss_unchanged(self) -> None:
        self.dismiss(None)
