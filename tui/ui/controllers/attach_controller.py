"""The attach controller: files attached to the message being written (alt+a, or a pasted path),
shown as chips above the composer until the message is sent."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path

from textual.screen import Screen

from tui.chat.attachments import AttachmentRefused, read_attachment
from tui.domain import Attachment
from tui.guard.safe_text import one_line
from tui.ui.path_suggester import PathSuggester
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.prompts import InputQuestion
from tui.ui.toast import tell
from tui.ui.widgets.attachment_chips import AttachmentChips
from tui.ui.widgets.composer import Composer

ATTACH = "attach"
"""The worker group reading files to attach."""


class AttachController:
    """Owns the pending attachments; the answer controller takes them when a send is accepted."""

    def __init__(
        self,
        *,
        screen: Screen,
        chips: AttachmentChips,
        composer: Composer,
        max_bytes: int,
        blind_model: Callable[[], str | None] = lambda: None,
    ) -> None:
        self.screen = screen
        self.chips = chips
        self.composer = composer
        self.max_bytes = max_bytes
        self.blind_model = blind_model
        """The current model's name when it is known to take no images (its images are not decoded)."""
        self.pending: list[Attachment] = []

    def ask(self) -> None:
        """alt+a: ask for a path (completed from the current folder) and attach that file."""
        question = InputQuestion(
            "Attach a file (text or image):",
            placeholder="path/to/file",
            hint="→ completes    Enter: attach    Esc: cancel",
            suggester=PathSuggester(),
        )
        self.screen.app.push_screen(question, self._chosen)

    def _chosen(self, answer: str | None) -> None:
        if answer:
            self.screen.run_worker(self.attach(Path(answer).expanduser()), group=ATTACH)
        self.composer.focus()

    def offer(self, path: Path, text: str) -> None:
        """A pasted path: attach the file (y) or insert the text as pasted (n)."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.screen.run_worker(self.attach(path), group=ATTACH)
            else:
                self.composer.insert(text)
            self.composer.focus()

        self.screen.app.push_screen(ConfirmScreen(f"Attach {one_line(str(path), 120)}?"), answered)

    async def attach(self, path: Path) -> None:
        """Read the file off the event loop; a refusal is said in a toast, nothing is attached.
        The read never blocks (a FIFO) nor runs on (/dev/zero), so quitting never waits for it."""
        try:
            attachment = await asyncio.to_thread(
                read_attachment, path, max_bytes=self.max_bytes, blind_model=self.blind_model()
            )
        except AttachmentRefused as refused:
            tell(self.screen, str(refused), severity="warning", timeout=10)
            return
        self.pending.append(attachment)
        self.chips.show(self.pending)

    def remove(self, index: int) -> None:
        """Take attachment `index` off (negative: from the end); nothing when there is none."""
        index = index + len(self.pending) if index < 0 else index
        if 0 <= index < len(self.pending):
            del self.pending[index]
            self.chips.show(self.pending)
            if not self.pending:
                self.composer.focus()

    def sent(self, attachments: Sequence[Attachment]) -> None:
        """The message carrying `attachments` was accepted (saved): they leave the chips."""
        self.pending = [a for a in self.pending if not any(a is sent for sent in attachments)]
        self.chips.show(self.pending)
