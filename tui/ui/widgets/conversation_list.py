"""The list of conversations, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.domain import Conversation
from tui.safe_text import one_line


class ConversationList(OptionList):
    """Shows conversations; Enter opens one, d or Delete asks to delete it."""

    BINDINGS = [
        Binding("j", "cursor_down", "Down", show=False, id="conversations.down"),
        Binding("k", "cursor_up", "Up", show=False, id="conversations.up"),
        Binding("g", "first", "First", show=False, id="conversations.first"),
        Binding("G", "last", "Last", show=False, id="conversations.last"),
        Binding("d,delete", "delete_conversation", "Delete", id="conversations.delete"),
    ]

    @dataclass
    class Opened(Message):
        """The user chose a conversation."""

        conversation_id: int

    @dataclass
    class DeleteRequested(Message):
        """The user asked to delete a conversation (not yet confirmed)."""

        conversation_id: int

    def show(self, conversations: Sequence[Conversation], *, current_id: int | None) -> None:
        """Replace the list, keeping the current conversation highlighted."""
        self.clear_options()
        self.add_options(
            Option(Text(one_line(c.title or "New conversation", 60)), id=str(c.id)) for c in conversations
        )
        if current_id is not None:
            self.highlight_conversation(current_id)

    def highlight_conversation(self, conversation_id: int) -> None:
        try:
            self.highlighted = self.get_option_index(str(conversation_id))
        except Exception:  # OptionDoesNotExist: it is on a page not shown
            pass

    @property
    def highlighted_id(self) -> int | None:
        option = self.highlighted_option
        return int(option.id) if option is not None and option.id else None

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Opened(int(event.option.id)))

    def action_delete_conversation(self) -> None:
        if self.highlighted_id is not None:
            self.post_message(self.DeleteRequested(self.highlighted_id))
