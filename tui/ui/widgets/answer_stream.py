"""Streaming an answer into a Markdown widget without one event-loop turn per token."""

from __future__ import annotations

import asyncio
import time

from textual.widgets import Markdown
from textual.widgets.markdown import MarkdownStream

from tui.ui.textual_compat import stream_append

YIELD_EVERY_S = 0.008
"""Longest a writer keeps the event loop before letting the UI (and the stream) run."""


class AnswerStream(MarkdownStream):
    """Textual's Markdown stream, except that a write yields to the event loop at most every
    `YIELD_EVERY_S` rather than every time.

    Textual's own `write` sleeps after each fragment, so when tokens are already waiting the
    UI takes one per loop turn, and a turn that paints a frame costs tens of milliseconds: it
    absorbed about 300 tokens/s on 2 cores. Fragments still reach the stream at once; they are
    shown whenever the writer next waits (for the engine, or here).
    """

    def __init__(self, markdown_widget: Markdown) -> None:
        super().__init__(markdown_widget)
        self._yielded = float("-inf")  # The first write yields, so the updater task starts.

    async def write(self, markdown_fragment: str) -> None:
        if not markdown_fragment:
            return
        stream_append(self, markdown_fragment)
        now = time.monotonic()
        if now - self._yielded >= YIELD_EVERY_S:
            self._yielded = now
            await asyncio.sleep(0)


def answer_stream(markdown: Markdown) -> AnswerStream:
    """Start streaming into `markdown` (what `Markdown.get_stream` does, with `AnswerStream`)."""
    stream = AnswerStream(markdown)
    stream.start()
    return stream
