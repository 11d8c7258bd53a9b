"""Where the user writes: Enter sends, ctrl+j (or shift+enter) starts a new line."""

from __future__ import annotations

from dataclasses import dataclass

from textual import events
from textual.message import Message
from textual.widgets import TextArea


class Composer(TextArea):
    """A multi-line input that posts `Submitted` on Enter."""

    DEFAULT_CSS = """
    Composer { height: auto; min-height: 3; max-height: 10; }
    """

    # Terminals differ: most send ctrl+j as a line feed; kitty-protocol ones report shift+enter.
    NEWLINE_KEYS = frozenset({"ctrl+j", "shift+enter", "alt+enter"})

    @dataclass
    class Submitted(Message):
        """The user sent `text` (never blank)."""

        composer: Composer
        text: str

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.placeholder = "Ask anything · Enter sends · ctrl+j new line"

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            if self.text.strip():
                self.post_message(self.Submitted(self, self.text))
            return
        if event.key in self.NEWLINE_KEYS:
            event.prevent_default()
            event.stop()
            self.insert("\n")
            return
        await super()._on_key(event)
