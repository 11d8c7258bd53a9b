"""One message of the chat: a header line (who, model, figures, state) and its text."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from tui.attachments import size_label
from tui.domain import ChatMessage, MessagePart, MessageStatus, PartKind, Role
from tui.safe_text import one_line, terminal_safe
from tui.ui.widgets.reasoning_block import ReasoningBlock
from tui.ui.widgets.streamed_markdown import StreamedMarkdown
from tui.ui.widgets.tool_calls import ToolCallsView

SHOWN_CHARS = 64_000
"""An answer shows at most this much; the rest is saved, copied and exported, not drawn.
The final render parses and lays out the whole answer as Markdown widgets, so a runaway
megabyte answer would otherwise cost the UI tens of seconds."""
LIVE_BLOCK_CHARS = 12_000
"""A paragraph longer than this stops being drawn as it streams, and is drawn once at the end:
each frame re-renders the block in progress, so cost grows with its square."""
YIELD_EVERY_S = 0.008
"""Longest a writer keeps the event loop before letting the UI run, when pieces queue up."""

_STATUS_WORDS = {
    MessageStatus.STREAMING: "streaming…",
    MessageStatus.INTERRUPTED: "interrupted",
    MessageStatus.ERROR: "error",
}


def header_text(message: ChatMessage, *, with_backend: bool = False) -> Text:
    """The line above a message; built from Text so untrusted names are never markup.
    `with_backend`: name the model as backend/model (two backends serve that name)."""
    if message.role is Role.USER:
        return Text("You", style="bold")
    header = Text("Assistant", style="bold")
    if message.model:
        backend = f"{message.backend}/" if with_backend and message.backend else ""
        header.append(f" · {one_line(backend + model_label(message.model), 60)}", style="dim")
    if message.completion_tokens:
        prompt = f" (prompt {message.prompt_tokens})" if message.prompt_tokens is not None else ""
        header.append(f" · {message.completion_tokens} tok{prompt}", style="dim")
    if message.tokens_per_s:
        header.append(f" · {message.tokens_per_s:.1f} tok/s", style="dim")
    if message.reasoning_tokens:
        header.append(
            f" · thought {'~' if message.reasoning_estimated else ''}{message.reasoning_tokens} tok", style="dim"
        )
    if message.reasoning_ttft_s is not None:
        header.append(f" · first thought {message.reasoning_ttft_s * 1000:.0f} ms", style="dim")
    if message.ttft_s is not None:
        header.append(f" · TTFT {message.ttft_s * 1000:.0f} ms", style="dim")
    if message.energy_wh is not None:
        header.append(f" · {energy_label(message.energy_wh)}", style="dim")
    word = _STATUS_WORDS.get(message.status)
    if word:
        header.append(f" · {word}", style="bold")
    return header


def reasoning_figures(message: ChatMessage) -> dict[str, Any]:
    """How long the model thought (first reasoning to first answer token) and how much."""
    seconds = None
    if message.reasoning_ttft_s is not None and message.ttft_s is not None:
        seconds = max(0.0, message.ttft_s - message.reasoning_ttft_s)
    return {"seconds": seconds, "tokens": message.reasoning_tokens, "estimated": message.reasoning_estimated}


def energy_label(wh: float) -> str:
    """Energy in the unit that keeps two or three digits: "1.25 Wh", "0.42 Wh", "3.1 mWh"."""
    if wh >= 10:
        return f"{wh:.0f} Wh"
    if wh >= 0.1:
        return f"{wh:.2f} Wh"
    return f"{wh * 1000:.1f} mWh"


def model_label(name: str) -> str:
    """A model's short name: the file name of a path without .gguf, else the name itself."""
    label = name.rsplit("/", 1)[-1]
    return label[:-5] if label.lower().endswith(".gguf") else label


def _cut_note(length: int) -> Text:
    """The line under a message too long to show whole."""
    return Text(
        f"Showing the first {SHOWN_CHARS // 1000} KB of {length // 1000} KB. All of it is saved:"
        " ctrl+t copies the message, e in the chat list exports the chat.",
        style="italic",
    )


def attachments_line(parts: tuple[MessagePart, ...]) -> str:
    """The chip line under "You": each attached file's name and size (terminal-safe)."""
    return "   ".join(
        f"📎 {one_line(str(part.data.get('name', '?')), 40)} · {size_label(int(part.data.get('size', 0)))}"
        for part in parts
        if part.kind is PartKind.ATTACHMENT
    )


class MessageView(Vertical):
    """A message; an answer can stream into it and is marked when it did not complete."""

    DEFAULT_CSS = """
    MessageView { height: auto; padding: 0 1; margin: 0 0 1 0; }
    MessageView > .header { height: auto; color: $text-muted; }
    MessageView.-user { background: $boost; border-left: thick $secondary; }
    MessageView.-assistant { border-left: thick $primary; }
    MessageView.-interrupted { border-left: thick $warning; }
    MessageView.-error { border-left: thick $error; }
    MessageView.-selected { border-left: thick $accent; background: $accent 12%; }
    MessageView.-found { background: $warning 15%; }
    MessageView > .error-text { color: $error; height: auto; }
    MessageView > .attachments { height: auto; color: $text-muted; }
    MessageView > .long-answer { height: auto; color: $text-muted; }
    """

    def __init__(self, message: ChatMessage) -> None:
        super().__init__(classes=f"-{message.role.value}")
        self.message = message
        self.branch: tuple[int, int] | None = None
        """Place among sibling branches and how many there are, once known."""
        self._streaming_into: StreamedMarkdown | None = None
        self._yielded = float("-inf")
        self._live = True
        """False once an answer grew too long to draw as it streams (it stays so: no gaps)."""
        self._streamed_chars = 0
        self._block_chars = 0
        """Characters since the last blank line: the size of the block Textual re-parses."""
        self._error = Static("", classes="error-text")
        self._error.display = False
        self.with_backend = False
        """Whether the header names the backend too (set by the chat view: a shared model name)."""

    @property
    def message_id(self) -> int:
        return self.message.id

    def compose(self) -> ComposeResult:
        yield Static(self._header(), classes="header")
        attached = attachments_line(self.message.parts)
        if attached:
            yield Static(Text(attached), classes="attachments")
        if self.message.reasoning:
            yield ReasoningBlock(self.message.reasoning, **reasoning_figures(self.message))
        calls = [part for part in self.message.parts if part.kind in (PartKind.TOOL_CALL, PartKind.TOOL_RESULT)]
        yield ToolCallsView(calls)
        text = terminal_safe(self.message.content)
        shown = text[:SHOWN_CHARS]
        if self.message.role is Role.USER:
            yield Static(Text(shown), classes="body")
        else:
            yield StreamedMarkdown(shown, classes="body")
        yield Static(classes="long-answer")
        yield self._error

    def on_mount(self) -> None:
        # The chat view knows which model names two backends share (ChatView.shared_model_names).
        self.show_backend(self.message.model in getattr(self.parent, "shared_model_names", ()))
        self._show_cut_note(len(self.message.content))
        self._show_status()

    def _show_cut_note(self, length: int, streaming: bool = False) -> None:
        note = self.query_one(".long-answer", Static)
        note.display = streaming or length > SHOWN_CHARS
        if streaming:
            note.update(Text(f"A long answer, {length // 1000} KB so far: it is drawn when it ends.", style="italic"))
        elif note.display:
            note.update(_cut_note(length))

    def show_backend(self, shown: bool) -> None:
        if shown != self.with_backend:
            self.with_backend = shown
            self.query_one(".header", Static).update(self._header())

    def _header(self) -> Text:
        header = header_text(self.message, with_backend=self.with_backend)
        if self.branch and self.branch[1] > 1:
            header.append(f" · ‹ {self.branch[0]}/{self.branch[1]} ›", style="bold")
        return header

    def show_branch(self, branch: tuple[int, int]) -> None:
        """Show this message's place among its branches (alt+left / alt+right move between them)."""
        self.branch = branch
        if self.is_mounted:
            self.query_one(".header", Static).update(self._header())

    def show_tool_part(self, part: MessagePart) -> None:
        """A tool call of this answer was stored or changed, or its result arrived."""
        self.query_one(ToolCallsView).show_part(part)

    def start_stream(self) -> None:
        """Answer text will arrive piece by piece through `write`."""
        self._streaming_into = self.query_one(StreamedMarkdown)
        self._streaming_into.start()

    @property
    def reasoning_block(self) -> ReasoningBlock | None:
        found = self.query(ReasoningBlock)
        return found.first() if found else None

    async def write_reasoning(self, piece: str) -> None:
        """More of the answer's reasoning: streamed into a block above the answer text."""
        block = self.reasoning_block
        if block is None:
            block = ReasoningBlock(live=True)
            await self.mount(block, before=self.query_one(".body"))
        await block.write(piece)

    def toggle_reasoning(self) -> bool:
        """Fold or unfold the reasoning; False when the message has none."""
        block = self.reasoning_block
        if block is not None:
            block.toggle()
        return block is not None

    def toggle_tool_calls(self) -> bool:
        """Unfold or fold the tool calls; False when the message made none."""
        return self.query_one(ToolCallsView).toggle()

    async def write(self, piece: str) -> None:
        """Add a piece of the answer; yields to the UI at most every `YIELD_EVERY_S`, so a
        backlog of pieces is taken in one go instead of one per event-loop turn."""
        if self._streaming_into is None:
            return
        block = self.reasoning_block
        if block is not None and not block.folded and self._streamed_chars == 0:
            await block.end()  # The answer begins: the reasoning folds away.
        shown_kb = self._streamed_chars // 1000
        self._streamed_chars += len(piece)
        _, blank_line, after = piece.rpartition("\n\n")
        self._block_chars = len(after) if blank_line else self._block_chars + len(piece)
        self._live = self._live and self._streamed_chars <= SHOWN_CHARS and self._block_chars <= LIVE_BLOCK_CHARS
        if self._live:
            self._streaming_into.write(terminal_safe(piece))
        elif self._streamed_chars // 1000 != shown_kb:  # The note counts KB: redrawn when that changes.
            self._show_cut_note(self._streamed_chars, streaming=True)
        now = time.monotonic()
        if now - self._yielded >= YIELD_EVERY_S:
            self._yielded = now
            await asyncio.sleep(0)

    async def finish(self, message: ChatMessage) -> None:
        """Show the final state: the answer as one full Markdown render."""
        self._streaming_into = None
        self.message = message
        self.query_one(".header", Static).update(self._header())
        block = self.reasoning_block
        if block is not None:
            figures = reasoning_figures(message)
            await block.end(tokens=figures["tokens"], estimated=figures["estimated"])
            block.set_figures(**figures)
            await block.show_text(message.reasoning)
        text = terminal_safe(message.content)
        self._show_cut_note(len(text))
        body = self.query_one(".body")
        if isinstance(body, StreamedMarkdown):
            await body.finish(text[:SHOWN_CHARS])
        self._show_status()

    def _show_status(self) -> None:
        status = self.message.status
        self.set_class(status is MessageStatus.INTERRUPTED, "-interrupted")
        self.set_class(status is MessageStatus.ERROR, "-error")
        if status is MessageStatus.ERROR:
            self._error.update(Text(terminal_safe(self.message.error or "the answer failed")))
        elif status is MessageStatus.INTERRUPTED:
            self._error.update(Text("Answer interrupted: what arrived is kept."))
        self._error.display = status in (MessageStatus.ERROR, MessageStatus.INTERRUPTED)
