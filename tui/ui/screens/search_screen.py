"""Search every message as you type; Enter opens the conversation at the chosen one."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from tui.domain import MATCH_END, MATCH_START, Role, SearchHit
from tui.guard.safe_text import one_line, terminal_safe

DEBOUNCE_S = 0.06
"""Pause after a key before searching, so fast typing runs one query, not one per key."""

Search = Callable[[str], Sequence[SearchHit]]


def hit_text(hit: SearchHit) -> Text:
    """Two lines: conversation, who and when; then the snippet with its matches marked."""
    head = Text(one_line(hit.conversation_title or "New conversation", 50), style="bold")
    who = "You" if hit.role is Role.USER else "Assistant"
    when = time.strftime("%Y-%m-%d", time.localtime(hit.created_at))
    head.append(f" · {who} · {when}" + (" · archived" if hit.archived else ""), style="dim")
    body = Text("\n  ")
    flat = " ".join(hit.snippet.split())
    for index, part in enumerate(flat.replace(MATCH_END, MATCH_START).split(MATCH_START)):
        # Odd parts sat between the markers: those are the matches.
        body.append(terminal_safe(part), style="reverse" if index % 2 else "")
    return head + body


class SearchScreen(ModalScreen[SearchHit | None]):
    """A search box over a list of hits, newest first."""

    DEFAULT_CSS = """
    SearchScreen { align: center middle; }
    SearchScreen > Vertical {
        width: 90%; max-width: 120; height: 80%; border: thick $primary; background: $surface; padding: 0 1;
    }
    SearchScreen .status { color: $text-muted; height: 1; }
    SearchScreen OptionList { height: 1fr; border: none; }
    """

    BINDINGS = [
        Binding("escape", "dismiss_search", "Close search", id="search.close"),
        Binding("down", "move(1)", "Next hit", show=False, id="search.next"),
        Binding("up", "move(-1)", "Previous hit", show=False, id="search.previous"),
        Binding("pagedown", "move(10)", "Hits a page down", show=False, id="search.page_down"),
        Binding("pageup", "move(-10)", "Hits a page up", show=False, id="search.page_up"),
        # Letters reach these only from the list (Tab): in the search box they are typed.
        Binding("j", "move(1)", "Next hit", show=False, id="search.down"),
        Binding("k", "move(-1)", "Previous hit", show=False, id="search.up"),
        Binding("g", "move(-1000000)", "First hit", show=False, id="search.first"),
        Binding("G", "move(1000000)", "Last hit", show=False, id="search.last"),
    ]

    def __init__(self, search: Search, *, query: str = "") -> None:
        super().__init__()
        self.search = search
        self.query_text = query
        self.hits: list[SearchHit] = []
        """The hits shown, in order."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Input(self.query_text, placeholder='Search all messages: words, "a phrase", pre…', id="search-input")
            yield Static("Type to search. Enter opens the highlighted message; Esc closes.", classes="status")
            yield OptionList(id="search-results")

    def on_mount(self) -> None:
        self.query_one(Input).focus()
        if self.query_text:
            self.run_search(self.query_text)

    @on(Input.Changed)
    def typed(self, event: Input.Changed) -> None:
        self.run_search(event.value)

    @work(exclusive=True, group="search")
    async def run_search(self, text: str) -> None:
        await asyncio.sleep(DEBOUNCE_S)
        started = time.perf_counter()
        try:
            hits = await asyncio.to_thread(self.search, text)
        except Exception as error:  # noqa: BLE001 - a failed search must not close the dialog
            self.query_one(".status", Static).update(Text(f"Search failed: {error}"))
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.show_hits(list(hits), text, elapsed_ms)

    def show_hits(self, hits: list[SearchHit], text: str, elapsed_ms: float) -> None:
        results = self.query_one(OptionList)
        # A refresh keeps the cursor on the message it was on, if that is still a hit.
        was = self.hits[results.highlighted].message_id if results.highlighted is not None and self.hits else None
        self.hits = hits
        results.clear_options()
        results.add_options(Option(hit_text(hit), id=str(index)) for index, hit in enumerate(hits))
        if hits:
            ids = [hit.message_id for hit in hits]
            results.highlighted = ids.index(was) if was in ids else 0
        if not text.strip():
            status = "Type to search."
        else:
            count = f"{len(hits)}+" if len(hits) >= 50 else str(len(hits))
            status = f"{count} message(s), newest first · {elapsed_ms:.0f} ms"
        self.query_one(".status", Static).update(Text(status))

    def action_move(self, step: int) -> None:
        results = self.query_one(OptionList)
        if results.option_count:
            current = results.highlighted if results.highlighted is not None else -step
            results.highlighted = max(0, min(results.option_count - 1, current + step))

    @on(Input.Submitted)
    def open_highlighted(self) -> None:
        index = self.query_one(OptionList).highlighted
        if index is not None and index < len(self.hits):
            self.dismiss(self.hits[index])

    @on(OptionList.OptionSelected)
    def chosen(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.hits[event.option_index])

    def action_dismiss_search(self) -> None:
        self.dismiss(None)
