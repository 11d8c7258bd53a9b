"""The files attached to the message being written, as chips above the composer."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from tui.chat.attachments import chip_label
from tui.domain import Attachment


class AttachmentChips(OptionList):
    """One line per attached file (name, size, estimated tokens); Delete removes the one
    highlighted (the last, until another is chosen), and shift+tab from the composer reaches
    them. Hidden while nothing is attached."""

    DEFAULT_CSS = """
    AttachmentChips { height: auto; max-height: 5; border: none; padding: 0 1; background: $boost; }
    AttachmentChips.-empty { display: none; }
    """
    BINDINGS = [
        Binding("delete,backspace,x", "remove_attachment", "Remove attachment", show=False, id="attachments.remove"),
    ]

    @dataclass
    class Removed(Message):
        """The user took an attachment off the message."""

        index: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="-empty")
        self.attachments: list[Attachment] = []

    def show(self, attachments: list[Attachment]) -> None:
        """Show these attachments (the composer's list, after any change)."""
        self.attachments = list(attachments)
        self.clear_options()
        self.add_options([Option(Text(chip_label(attachment))) for attachment in attachments])
        self.highlighted = len(attachments) - 1 if attachments else None
        self.set_class(not attachments, "-empty")

    def action_remove_attachment(self) -> None:
        if self.highlighted is not None and self.attachments:
            self.post_message(self.Removed(self.highlighted))
