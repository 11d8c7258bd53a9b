"""One message of the chat: a header line (who, model, figures, state) and its text."""

from __future__ import annotations

import asyncio
import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Static

from tui.chat.part_order import Group, answer_groups
from tui.domain import ChatMessage, MessagePart, MessageStatus, PartKind, Role
from tui.domain.parts import call_id_of
from tui.guard.safe_text import terminal_safe
from tui.ui.widgets.message_header import (
    SHOWN_CHARS,
    attachments_line,
    cut_note,
    header_text,
    reasoning_figures,
)
from tui.ui.widgets.reasoning_block import ReasoningBlock
from tui.ui.widgets.streamed_markdown import StreamedMarkdown
from tui.ui.widgets.tool_calls import ToolCallsView

LIVE_BLOCK_CHARS = 12_000
"""A paragraph longer than this stops being drawn as it streams, and is drawn once at the end:
each frame re-renders the block in progress, so cost grows with its square."""
YIELD_EVERY_S = 0.008
"""Longest a writer keeps the event loop before letting the UI run, when pieces queue up."""


def _split_last_text(groups: list[Group]) -> tuple[list[Group], str]:
    """The blocks before an answer's last text, and that text ("" when a part came last)."""
    if groups and isinstance(groups[-1][1], str):
        return groups[:-1], groups[-1][1]
    return groups, ""


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
        self._live_reasoning: ReasoningBlock | None = None
        """The reasoning block streaming now, until something else arrives."""
        self._body_text: list[str] = []
        """Answer text streamed since the last part (the body shows it; a new part moves it above)."""
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
        if self.message.role is Role.USER:
            yield Static(Text(terminal_safe(self.message.content)[:SHOWN_CHARS]), classes="body")
        else:
            groups, last_text = _split_last_text(answer_groups(self.message.content, self.message.parts))
            yield from self._segments(groups)
            yield StreamedMarkdown(terminal_safe(last_text)[:SHOWN_CHARS], classes="body")
        yield Static(classes="long-answer")
        yield self._error

    def on_mount(self) -> None:
        # The chat view knows which model names two backends share (ChatView.shared_model_names).
        self.show_backend(self.message.model in getattr(self.parent, "shared_model_names", ()))
        self._showcut_note(len(self.message.content))
        self._show_status()

    def _showcut_note(self, length: int, streaming: bool = False) -> None:
        note = self.query_one(".long-answer", Static)
        note.display = streaming or length > SHOWN_CHARS
        if streaming:
            note.update(Text(f"A long answer, {length // 1000} KB so far: it is drawn when it ends.", style="italic"))
        elif note.display:
            note.update(cut_note(length))

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

    def _segments(self, groups: list[Group]) -> list[Widget]:
        """The widgets of an answer's blocks before its last text, in event order."""
        figures = reasoning_figures(self.message) if [kind for kind, _ in groups].count("reasoning") == 1 else {}
        widgets: list[Widget] = []
        for _, value in groups:
            if isinstance(value, str):
                widgets.append(StreamedMarkdown(terminal_safe(value)[:SHOWN_CHARS], classes="segment text-before"))
            elif isinstance(value, MessagePart):
                widgets.append(ReasoningBlock(value.text, **figures))
            else:
                widgets.append(ToolCallsView(value))
            widgets[-1].add_class("segment")
        return widgets

    @property
    def _segment_widgets(self) -> list[Widget]:
        return [child for child in self.children if child.has_class("segment")]

    async def _add_segment(self, widget: Widget) -> None:
        """Show a new part after everything so far: text that arrived since the last part stays
        above it, and the answer's text goes on below it."""
        widget.add_class("segment")
        body = self.query_one(".body", StreamedMarkdown)
        if not self._body_text:
            await self.mount(widget, before=body)
            return
        text, self._body_text = "".join(self._body_text), []
        body.remove_class("body")
        body.add_class("segment", "text-before")
        await body.finish(terminal_safe(text)[:SHOWN_CHARS])
        fresh = StreamedMarkdown(classes="body")
        await self.mount(widget, after=body)
        await self.mount(fresh, after=widget)
        if self._streaming_into is not None:
            self._streaming_into = fresh
            fresh.start()

    async def _end_live_reasoning(self) -> None:
        """Something other than reasoning arrived: the reasoning streaming so far folds away."""
        block, self._live_reasoning = self._live_reasoning, None
        if block is not None:
            await block.end()

    async def show_tool_part(self, part: MessagePart) -> None:
        """A tool call of this answer was stored or changed, or its result arrived: shown where
        it happened, after what arrived before it."""
        call_id = call_id_of(part)
        for view in self.query(ToolCallsView):
            if view.has_call(call_id):
                view.show_part(part)
                return
        if part.kind is not PartKind.TOOL_CALL:
            return
        await self._end_live_reasoning()
        segments = self._segment_widgets
        if not self._body_text and segments and isinstance(segments[-1], ToolCallsView):
            segments[-1].show_part(part)  # The same round, or one right after it.
        else:
            await self._add_segment(ToolCallsView([part]))

    def start_stream(self) -> None:
        """Answer text will arrive piece by piece through `write`."""
        self._streaming_into = self.query_one(".body", StreamedMarkdown)
        self._streaming_into.start()

    @property
    def reasoning_block(self) -> ReasoningBlock | None:
        """The answer's first reasoning block (an answer that called tools may have several)."""
        found = self.query(ReasoningBlock)
        return found.first() if found else None

    async def write_reasoning(self, piece: str) -> None:
        """More of the answer's reasoning: streamed into a block after what arrived before it."""
        if self._live_reasoning is None:
            self._live_reasoning = ReasoningBlock(live=True)
            await self._add_segment(self._live_reasoning)
        await self._live_reasoning.write(piece)

    def toggle_reasoning(self) -> bool:
        """Fold or unfold the reasoning (every block of it); False when the message has none."""
        blocks = list(self.query(ReasoningBlock))
        unfold = any(block.folded for block in blocks)
        for block in blocks:
            block.folded = not unfold
        return bool(blocks)

    def toggle_tool_calls(self) -> bool:
        """Unfold every tool call of the answer (fold them all when all are open); False when it made none."""
        runs = list(self.query(ToolCallsView))
        calls = [view for run in runs for view in run.calls()]
        open = not all(view.is_open for view in calls)
        for view in calls:
            view.unfold(open)
        return bool(calls)

    async def write(self, piece: str) -> None:
        """Add a piece of the answer; yields to the UI at most every `YIELD_EVERY_S`, so a
        backlog of pieces is taken in one go instead of one per event-loop turn."""
        if self._streaming_into is None:
            return
        await self._end_live_reasoning()  # The answer goes on: the reasoning folds away.
        self._body_text.append(piece)
        shown_kb = self._streamed_chars // 1000
        self._streamed_chars += len(piece)
        _, blank_line, after = piece.rpartition("\n\n")
        self._block_chars = len(after) if blank_line else self._block_chars + len(piece)
        self._live = self._live and self._streamed_chars <= SHOWN_CHARS and self._block_chars <= LIVE_BLOCK_CHARS
        if self._live:
            self._streaming_into.write(terminal_safe(piece))
        elif self._streamed_chars // 1000 != shown_kb:  # The note counts KB: redrawn when that changes.
            self._showcut_note(self._streamed_chars, streaming=True)
        now = time.monotonic()
        if now - self._yielded >= YIELD_EVERY_S:
            self._yielded = now
            await asyncio.sleep(0)

    async def finish(self, message: ChatMessage) -> None:
        """Show the final state: the answer as one full Markdown render."""
        self._streaming_into = None
        self.message = message
        self._body_text = []
        self.query_one(".header", Static).update(self._header())
        self._live_reasoning = None
        groups, last_text = _split_last_text(answer_groups(message.content, message.parts))
        if not await self._finish_segments(groups):
            await self.remove_children(self._segment_widgets)
            await self.mount_all(self._segments(groups), before=self.query_one(".body"))
        text = terminal_safe(message.content)
        self._showcut_note(len(text))
        body = self.query_one(".body")
        if isinstance(body, StreamedMarkdown):
            await body.finish(terminal_safe(last_text)[:SHOWN_CHARS])
        self._show_status()

    async def _finish_segments(self, groups: list[Group]) -> bool:
        """Bring the blocks shown live to the stored answer's final state; False when they do
        not match it (a part that could not be shown live), to be drawn again."""
        widgets = self._segment_widgets
        kinds = {StreamedMarkdown: "text", ReasoningBlock: "reasoning", ToolCallsView: "tools"}
        if [kinds.get(type(widget)) for widget in widgets] != [kind for kind, _ in groups]:
            return False
        single = [kind for kind, _ in groups].count("reasoning") == 1
        figures = reasoning_figures(self.message)
        for widget, (_, value) in zip(widgets, groups):
            if isinstance(widget, StreamedMarkdown) and isinstance(value, str):
                if widget.source != terminal_safe(value)[:SHOWN_CHARS]:
                    await widget.finish(terminal_safe(value)[:SHOWN_CHARS])
            elif isinstance(widget, ReasoningBlock) and isinstance(value, MessagePart):
                await widget.end(
                    tokens=figures["tokens"] if single else None, estimated=single and figures["estimated"]
                )
                if single:
                    widget.set_figures(**figures)
                await widget.show_text(value.text)
            elif isinstance(widget, ToolCallsView) and isinstance(value, list):
                for part in value:
                    widget.show_part(part)
        return True

    def _show_status(self) -> None:
        status = self.message.status
        self.set_class(status is MessageStatus.INTERRUPTED, "-interrupted")
        self.set_class(status is MessageStatus.ERROR, "-error")
        if status is MessageStatus.ERROR:
            self._error.update(Text(terminal_safe(self.message.error or "the answer failed")))
        elif status is MessageStatus.INTERRUPTED:
            self._error.update(Text("Answer interrupted: what arrived is kept."))
        self._error.display = status in (MessageStatus.ERROR, MessageStatus.INTERRUPTED)
