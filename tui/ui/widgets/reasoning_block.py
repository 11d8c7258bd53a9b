"""An answer's reasoning: streamed live above the answer, folded once the answer begins."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.reactive import reactive
from textual.widgets import Static

from tui.guard.safe_text import terminal_safe
from tui.ui.widgets.streamed_markdown import StreamedMarkdown

SHOWN_CHARS = 64_000
"""Reasoning shows at most this much, like an answer (all of it is kept)."""


def reasoning_summary(
    *, live: bool, seconds: float | None, tokens: int | None, estimated: bool, folded: bool = True
) -> Text:
    """The block's title line: "Thinking… 12 s · 340 tokens" or "▸ Thought for 12 s · ~340 tokens"
    (▸ folded, ▾ shown)."""
    title = Text("" if live else "▸ " if folded else "▾ ", style="dim")
    title.append("Thinking…" if live else "Thought", style="italic")
    if seconds is not None:
        title.append(f" {seconds:.0f} s" if live else f" for {seconds:.0f} s", style="dim")
    if tokens:
        title.append(f" · {'~' if estimated else ''}{tokens} tokens", style="dim")
    return title


class ReasoningBlock(Vertical):
    """What the model thought: a title line and the text, which folds away when asked."""

    DEFAULT_CSS = """
    ReasoningBlock { height: auto; margin: 0 0 1 0; border-left: solid $secondary 50%; padding: 0 1; }
    ReasoningBlock > .reasoning-title { height: auto; color: $text-muted; }
    ReasoningBlock > StreamedMarkdown { color: $text-muted; }
    ReasoningBlock > StreamedMarkdown > Markdown { margin: 0; }
    ReasoningBlock.-folded > StreamedMarkdown { display: none; }
    """

    folded: reactive[bool] = reactive(False)
    """Whether only the title line shows."""

    def __init__(
        self,
        text: str = "",
        *,
        live: bool = False,
        tokens: int | None = None,
        estimated: bool = False,
        seconds: float | None = None,
    ) -> None:
        super().__init__()
        self._text = text
        self._live = live
        self._tokens = tokens
        self._estimated = estimated
        self._seconds = seconds
        self._started = time.monotonic()
        self._chars = len(text)
        self._stream: StreamedMarkdown | None = None
        self.set_reactive(ReasoningBlock.folded, not live)

    def compose(self) -> ComposeResult:
        yield Static(self._title(), classes="reasoning-title")
        yield StreamedMarkdown(terminal_safe(self._text[:SHOWN_CHARS]))

    def on_mount(self) -> None:
        self.set_class(self.folded, "-folded")
        if self._live:
            self._stream = self.query_one(StreamedMarkdown)
            self._stream.start()
            self._ticker = self.set_interval(1.0, self._show_title)

    def watch_folded(self, folded: bool) -> None:
        self.set_class(folded, "-folded")
        self._show_title()

    def _title(self) -> Text:
        seconds = time.monotonic() - self._started if self._live else self._seconds
        title = reasoning_summary(
            live=self._live, seconds=seconds, tokens=self._tokens, estimated=self._estimated, folded=self.folded
        )
        if not self._live:
            title.append("  (alt+r shows it)" if self.folded else "  (alt+r folds it)", style="dim")
        return title

    def _show_title(self) -> None:
        if self.is_mounted:
            self.query_one(".reasoning-title", Static).update(self._title())

    async def write(self, piece: str) -> None:
        """More reasoning, while it streams."""
        self._chars += len(piece)
        if self._stream is not None and self._chars <= SHOWN_CHARS:
            self._stream.write(terminal_safe(piece))

    async def end(self, *, tokens: int | None = None, estimated: bool = False) -> None:
        """The reasoning is over (the answer began, or the message ended): fold it."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            await stream.finish(stream.source)
            self._ticker.stop()
        if self._live:
            self._seconds = time.monotonic() - self._started
            self._live = False
        self._tokens = tokens if tokens is not None else self._tokens
        self._estimated = estimated or self._estimated
        self.folded = True
        self._show_title()

    def set_figures(self, *, seconds: float | None, tokens: int | None, estimated: bool) -> None:
        """The figures stored with the finished answer."""
        self._seconds = seconds if seconds is not None else self._seconds
        self._tokens, self._estimated = tokens, estimated
        self._show_title()

    async def show_text(self, text: str) -> None:
        """Draw the whole reasoning once (the stored text, after streaming)."""
        await self.query_one(StreamedMarkdown).finish(terminal_safe(text[:SHOWN_CHARS]))

    def toggle(self) -> None:
        self.folded = not self.folded
