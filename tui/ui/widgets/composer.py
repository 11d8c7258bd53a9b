"""Where the user writes: Enter sends, ctrl+j (or shift+enter) starts a new line."""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class Composer(TextArea):
    """A multi-line input that posts `Submitted` on Enter."""

    DEFAULT_CSS = """
    Composer { height: auto; min-height: 3; max-height: 10; }
    """

    # Priority, so they come before TextArea's own Enter. Terminals differ: most send ctrl+j
    # as a line feed; kitty-protocol ones report shift+enter.
    BINDINGS = [
        Binding("enter", "send", "Send", show=False, priority=True, id="chat.send"),
        Binding("ctrl+j,shift+enter,alt+enter", "newline", "New line", show=False, priority=True,
                id="chat.newline"),
    ]

    @dataclass
    class Submitted(Message):
        """The user sent `text` (never blank)."""

        composer: Composer
        text: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.placeholder = "Ask anything · Enter sends · ctrl+j new line"

    def action_send(self) -> None:
        if self.text.strip():
            self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        self.insert("\n")
