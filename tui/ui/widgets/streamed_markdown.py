"""Markdown that streams at the cost of what changes: `start`, `write(piece)`, `finish(final_text)`.

While text arrives it is drawn by `LiveLines`, a line-API widget: a finished block is rendered
once as Markdown (Rich's) into cached strips, the block in progress is shown as wrapped source
text, re-wrapped at most once a frame from its last hard line only, and only the lines that
changed are refreshed. Its height grows a few lines at a time, since each change of height
costs a layout of the screen and a repaint of the scrolled view. When the text ends, one
Textual `Markdown` render replaces it, identical to a full render of the final text.
"""

from __future__ import annotations

import time

from markdown_it import MarkdownIt
from rich.markdown import Markdown as RichMarkdown
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Markdown

FRAME_S = 1 / 30
"""Pieces written within this long are drawn together."""
GROW_LINES = 4
"""The live lines' height grows at least this many lines at a time (the last few may be blank
until text comes), and up to `MAX_GROW_LINES` when text comes faster."""
MAX_GROW_LINES = 16
PRETTY_SHARE = 0.1
"""Most of the time spent rendering finished blocks as Markdown; past it (a fast stream)
they stay wrapped source until the final render."""

_parser = MarkdownIt("commonmark")


def split_finished(text: str) -> int:
    """How many characters at the start of `text` are whole Markdown blocks that nothing can change.

    A top-level block is finished once a later one has begun (CommonMark never reopens it)."""
    starts = [
        token.map[0]
        for token in _parser.parse(text)
        if token.level == 0 and token.nesting >= 0 and token.map is not None
    ]
    if len(starts) < 2:
        return 0
    lines = text.splitlines(keepends=True)
    return sum(len(line) for line in lines[: starts[-1]])


class LiveLines(Widget):
    """Text streaming in as Markdown, drawn line by line: each frame costs the lines it changes."""

    DEFAULT_CSS = "LiveLines { height: auto; }"

    def __init__(self, *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._pieces: list[str] = []
        self._text = ""
        self._done = 0
        """Characters of `text` drawn as finished blocks."""
        self._drawn = 0
        """Characters of `text` the strips show."""
        self._blocks: list[str] = []
        self._done_strips: list[Strip] = []
        self._tail_strips: list[Strip] = []
        self._tail_lines: list[list[Strip]] = []
        """Strips of each whole hard line of the block in progress."""
        self._width = 0
        self._scheduled = False
        self._reserved = 0
        """Height kept for the lines to come."""
        self._pretty_after = 0.0
        """When finished blocks may be rendered as Markdown again (see PRETTY_SHARE)."""

    @property
    def text(self) -> str:
        """Everything written so far."""
        if self._pieces:
            self._text += "".join(self._pieces)
            self._pieces.clear()
        return self._text

    def write(self, piece: str) -> None:
        """Add `piece`; it is drawn with whatever else arrives within the frame."""
        self._pieces.append(piece)
        if not self._scheduled and self.is_mounted:
            self._scheduled = True
            self.set_timer(FRAME_S, self.draw)

    def _strips(self, lines: list[list[Segment]]) -> list[Strip]:
        return [Strip(Segment.simplify(line), self._width) for line in lines]

    def _markdown(self, markdown: str) -> list[Strip]:
        console = self.app.console
        options = console.options.update(width=self._width, height=None, highlight=False)
        return self._strips(console.render_lines(RichMarkdown(markdown), options, pad=True))

    def _wrapped(self, line: str) -> list[Strip]:
        """One hard line of source, wrapped; the last one's strips change as it grows."""
        console = self.app.console
        options = console.options.update(width=self._width, height=None, highlight=False)
        return self._strips(console.render_lines(Text(line), options, pad=True))

    def _tail(self) -> list[Strip]:
        """The block in progress: its finished hard lines from the cache, the last one wrapped anew."""
        strips: list[Strip] = []
        *whole, last = self.text[self._done :].split("\n")
        for index, line in enumerate(whole):
            if index >= len(self._tail_lines):
                self._tail_lines.append(self._wrapped(line))
            strips += self._tail_lines[index]
        del self._tail_lines[len(whole) :]
        return strips + (self._wrapped(last) if last else [])

    def _rerender(self, width: int) -> None:
        """Draw everything again at `width` (the first time, and after a resize)."""
        self._width = width
        self._reserved = 0
        self._done_strips = []
        self._tail_lines = []
        if width > 0:
            for block in self._blocks:
                self._add_done(block)
            self._tail_strips = self._tail()
        self._drawn = len(self.text)

    def _add_done(self, block: str) -> None:
        started = time.perf_counter()
        if started >= self._pretty_after:
            strips = self._markdown(block)
            ended = time.perf_counter()
            self._pretty_after = ended + (ended - started) * (1 / PRETTY_SHARE - 1)
        else:
            strips = [strip for line in block.strip("\n").split("\n") for strip in self._wrapped(line)]
        if strips and self._done_strips:
            self._done_strips.append(Strip.blank(self._width))
        self._done_strips += strips

    @property
    def _height(self) -> int:
        return max(self._reserved, len(self._done_strips) + len(self._tail_strips))

    def _reserve(self, grown: int) -> None:
        """Keep room for the next lines: one layout per few lines, not per line."""
        lines = len(self._done_strips) + len(self._tail_strips)
        if lines > self._reserved:
            self._reserved = lines + min(MAX_GROW_LINES, max(GROW_LINES, 2 * grown)) - 1

    def draw(self) -> None:
        """Draw what was written since the last frame (frames call this)."""
        self._scheduled = False
        if len(self.text) == self._drawn or not self._width:
            return
        old_height, old_lines = self._height, len(self._done_strips) + len(self._tail_strips)
        first_changed = len(self._done_strips)
        if finished := split_finished(self.text[self._done :]):
            block = self.text[self._done : self._done + finished]
            self._blocks.append(block)
            self._done += finished
            self._tail_lines = []
            self._add_done(block)
        old_tail = self._tail_strips if first_changed == len(self._done_strips) else []
        self._tail_strips = self._tail()
        self._drawn = len(self.text)
        self._reserve(len(self._done_strips) + len(self._tail_strips) - old_lines)
        same = 0  # Only the lines that differ are drawn again.
        while same < min(len(old_tail), len(self._tail_strips)) and old_tail[same] == self._tail_strips[same]:
            same += 1
        first_changed += same
        lines = len(self._done_strips) + len(self._tail_strips)
        if self._height != old_height:
            self.refresh(layout=True)
        elif (changed := max(lines, old_lines) - first_changed) > 0:  # Not the blank lines kept below.
            self.refresh(Region(0, first_changed, self._width, changed))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if width != self._width:
            self._rerender(width)
        return self._height

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width != self._width:
            self._rerender(width)
        done = len(self._done_strips)
        strip = (
            self._done_strips[y]
            if y < done
            else (self._tail_strips[y - done] if y - done < len(self._tail_strips) else Strip.blank(width))
        )
        return strip.apply_style(self.rich_style)


class StreamedMarkdown(Widget):
    """A Markdown text that can also be streamed into: `start`, `write(piece)`, `finish(final_text)`."""

    DEFAULT_CSS = """
    StreamedMarkdown { height: auto; }
    /* -1 takes back the last block's bottom margin (1 in every block). */
    StreamedMarkdown > Markdown { margin: 0 0 -1 0; padding: 0; }
    """

    def __init__(self, text: str = "", *, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self._text = text
        self._live: LiveLines | None = None

    def compose(self) -> ComposeResult:
        yield Markdown(self._text)

    @property
    def source(self) -> str:
        """The text shown: what streamed so far, or the final text."""
        return self._live.text if self._live is not None else self.query_one(Markdown).source

    @property
    def streaming(self) -> bool:
        return self._live is not None

    def start(self) -> None:
        """Text arrives piece by piece from now on, drawn live until `finish` (it mounts its
        live lines; pieces written before they are mounted are drawn when they are)."""
        if self._live is None:
            self._live = LiveLines()
            self.query_one(Markdown).display = False
            self.mount(self._live)

    def write(self, piece: str) -> None:
        """Add a piece of the text (drawn within a frame)."""
        if self._live is not None:
            self._live.write(piece)

    async def finish(self, final_text: str) -> None:
        """Show `final_text` as one full Markdown render, in place of the live lines."""
        if self._live is not None:
            self._live.draw()  # What the last frame had not drawn yet shows while Markdown renders.
        markdown = self.query_one(Markdown)
        await markdown.update(final_text)
        markdown.display = True
        if self._live is not None:
            live, self._live = self._live, None
            await live.remove()
