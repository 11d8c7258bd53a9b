"""Where the user writes: Enter sends, ctrl+j (or shift+enter) starts a new line."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from tui.chat.attachments import pasted_path
from tui.ui.textual_compat import keymap, text_area_on_key


class Composer(TextArea):
    """A multi-line input that posts `Submitted` on Enter."""

    DEFAULT_CSS = """
    Composer { height: auto; min-height: 3; max-height: 10; }
    """

    # Dispatched by _on_key below; listed here for their ids (help, palette, keymap).
    BINDINGS = [
        Binding("enter", "send", "Send", show=False, id="chat.send"),
        Binding("ctrl+j,shift+enter,alt+enter", "newline", "New line", show=False, id="chat.newline"),
    ]

    @dataclass
    class Submitted(Message):
        """The user sent `text` (never blank)."""

        composer: Composer
        text: str

    @dataclass
    class PathPasted(Message):
        """What was pasted is the path of an existing file: the screen offers to attach it; the
        text is not inserted unless the screen puts it back (`insert`)."""

        path: Path
        text: str

    @dataclass
    class LastAttachmentRemoved(Message):
        """Backspace or Delete in an empty composer: take the last attached file off."""

        index: int = -1
        """Counted from the end, as the chips' `Removed` counts from the start."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.show_keys()

    def show_keys(self) -> None:
        """Name the send and new-line keys in the placeholder: the defaults, or the user's keymap."""
        send, newline = (self._first_key(binding_id) for binding_id in ("chat.send", "chat.newline"))
        self.placeholder = f"Ask anything · {send} sends · {newline} new line"

    def _first_key(self, binding_id: str) -> str:
        default = next(b.key for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        keys = keymap(self.app) if self.is_attached else {}
        first = keys.get(binding_id, default).split(",")[0].strip()
        return first.capitalize() if first == "enter" else first

    async def _on_key(self, event: events.Key) -> None:
        # TextArea takes Enter for itself before any binding is looked at, and a priority
        # binding would run ahead of keys still queued here (the last letters typed before
        # Enter), so these two are matched here, in order, with the user's keymap applied.
        for binding_id, action in (("chat.send", self.action_send), ("chat.newline", self.action_newline)):
            if event.key in self._keys_of(binding_id):
                event.prevent_default()
                event.stop()
                action()
                return
        if event.key in ("backspace", "delete") and not self.text:
            self.post_message(self.LastAttachmentRemoved())  # Nothing to delete here: a chip goes.
        if event.key.startswith("alt+") and len(event.key) == len("alt+a"):
            # alt+letter is one of lchat's keys (alt+a attach, alt+t thinking...), never text: keep
            # TextArea from typing the letter, and let the key go on to the screen's bindings.
            event.prevent_default()
            return
        await text_area_on_key(self, event)

    async def _on_paste(self, event: events.Paste) -> None:
        # Runs before TextArea's own handler; prevent_default keeps that one from inserting.
        path = None if self.read_only else pasted_path(event.text)
        if path is not None:
            event.prevent_default()
            event.stop()
            self.post_message(self.PathPasted(path, event.text))

    def _keys_of(self, binding_id: str) -> set[str]:
        default = next(b.key for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        return {key.strip() for key in keymap(self.app).get(binding_id, default).split(",")}

    def action_send(self) -> None:
        if self.text.strip():
            self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        self.insert("\n")
