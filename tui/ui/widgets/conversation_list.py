"""The list of conversations, pinned first, then newest first; loaded a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.domain import Conversation
from tui.guard.safe_text import one_line

MORE_MARGIN = 10
"""Ask for the next page when the cursor comes this close to the last loaded row."""


class ConversationList(OptionList):
    """Shows conversations; Enter opens one, d or Delete asks to delete it, and other keys
    ask to rename, pin, archive or export it."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="conversations.down"),
        Binding("k", "cursor_up", "Up", show=False, id="conversations.up"),
        Binding("g", "first", "First", show=False, id="conversations.first"),
        Binding("G", "last", "Last", show=False, id="conversations.last"),
        Binding("d,delete", "delete_conversation", "Delete", id="conversations.delete"),
        Binding("r", "request('rename')", "Rename", id="conversations.rename"),
        Binding("p", "request('pin')", "Pin", id="conversations.pin"),
        Binding("a", "request('archive')", "Archive", id="conversations.archive"),
        Binding("A", "request('archive_view')", "Archive view", id="conversations.archive_view"),
        Binding("e", "request('export')", "Export", id="conversations.export"),
        Binding("slash", "request('search')", "Search", show=False, id="conversations.search"),
    ]

    @dataclass
    class Requested(Message):
        """The user asked for `verb` (rename, pin, archive, archive_view, export, search)
        on the highlighted conversation (None when the list is empty)."""

        verb: str
        conversation_id: int | None

    class MoreWanted(Message):
        """The cursor neared the end of the loaded rows and more exist."""

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.has_more = False
        """Whether rows exist beyond those loaded."""
        self._asked_for_more = False

    @dataclass
    class Opened(Message):
        """The user chose a conversation."""

        conversation_id: int

    @dataclass
    class DeleteRequested(Message):
        """The user asked to delete a conversation (not yet confirmed)."""

        conversation_id: int

    def show(self, conversations: Sequence[Conversation], *, current_id: int | None, has_more: bool = False) -> None:
        """Replace the list, keeping the current conversation highlighted."""
        self.clear_options()
        self.append(conversations, has_more=has_more)
        if current_id is not None:
            self.highlight_conversation(current_id)
        if self.highlighted is None and self.option_count:
            self.highlighted = 0

    def append(self, conversations: Sequence[Conversation], *, has_more: bool) -> None:
        """Add the next page below the rows already shown."""
        self.add_options(Option(row_text(c), id=str(c.id)) for c in conversations)
        self.has_more = has_more
        self._asked_for_more = False

    def highlight_conversation(self, conversation_id: int) -> None:
        try:
            self.highlighted = self.get_option_index(str(conversation_id))
        except Exception:  # OptionDoesNotExist: it is on a page not shown
            pass

    @property
    def highlighted_id(self) -> int | None:
        option = self.highlighted_option
        return int(option.id) if option is not None and option.id else None

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        if self.has_more and not self._asked_for_more and event.option_index >= self.option_count - MORE_MARGIN:
            self._asked_for_more = True
            self.post_message(self.MoreWanted())

    def action_request(self, verb: str) -> None:
        self.post_message(self.Requested(verb, self.highlighted_id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Opened(int(event.option.id)))

    def action_delete_conversation(self) -> None:
        if self.highlighted_id is not None:
            self.post_message(self.DeleteRequested(self.highlighted_id))


def row_text(conversation: Conversation) -> Text:
    """A row: a pin mark for pinned ones, then the title (shown as text, never markup)."""
    row = Text("* " if conversation.pinned else "", style="bold")
    row.append(one_line(conversation.title or "New conversation", 60))
    return row
