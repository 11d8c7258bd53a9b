"""The streaming renderer: nothing written is lost while it streams, and the end is a full Markdown render."""

from __future__ import annotations

import re
from io import StringIO

from rich.console import Console
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Markdown

from tui.ui.widgets.streamed_markdown import LiveLines, StreamedMarkdown, split_finished

SIZE = (80, 30)
ANSWER = """## Steps

First a paragraph that is long enough to wrap over more than one line of the terminal, with **bold**
and `code` in it, then a list:

- one item
- a second item, longer, that wraps because it goes on and on past the edge of the widget
  1. nested
  2. numbers

```python
def tokens_per_second(count: int, seconds: float) -> float:

    return count / seconds
```

| model | tok/s |
|---|---|
| small | 97.7 |
| large | 12.0 |

> a quote
> over two lines

Last words."""


def pieces(text: str, size: int = 3) -> list[str]:
    """Token-sized pieces, some splitting a line ending or a fence."""
    return [text[i : i + size] for i in range(0, len(text), size)]


class Host(App[None]):
    def __init__(self, text: str = "") -> None:
        super().__init__()
        self.text = text

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield StreamedMarkdown(self.text)


def screen_output(app: App) -> str:
    update = app.screen._compositor.render_update(full=True)
    console = Console(file=StringIO(), force_terminal=True, color_system="truecolor", width=SIZE[0])
    return update.render_segments(console)


def live_text(live: LiveLines) -> str:
    return "\n".join(live.render_line(y).text.rstrip() for y in range(live.size.height))


def words(text: str) -> list[str]:
    """The words and numbers of a text, whatever Markdown decorates them with (a fence's
    language is shown only while its block is in progress, so it is left out)."""
    return [word for word in re.findall(r"[A-Za-z_]{2,}|\d+\.\d+", text) if word != "python"]


async def test_streamed_text_is_all_shown_and_ends_as_a_full_render() -> None:
    streamed, fresh = Host(), Host(ANSWER)
    async with streamed.run_test(size=SIZE) as pilot:
        widget = streamed.query_one(StreamedMarkdown)
        widget.start()
        written = ""
        for piece in pieces(ANSWER):
            widget.write(piece)
            written += piece
            if len(written) % 60 < 3:
                await pilot.pause(0.05)
                live = widget.query_one(LiveLines)
                assert widget.source == written
                # Every word written is on screen, in order (the last may still be growing).
                assert words(live_text(live))[:-1] == words(written)[:-1]
        await pilot.pause(0.1)
        await widget.finish(ANSWER)
        await pilot.pause()
        assert not widget.query(LiveLines) and widget.source == ANSWER
        streamed_screen = screen_output(streamed)
        streamed_blocks = [
            (type(block).__name__, block.source)
            for block in widget.query_one(Markdown).children
            if hasattr(block, "source")
        ]
    async with fresh.run_test(size=SIZE) as pilot:
        await pilot.pause()
        fresh_screen = screen_output(fresh)
        fresh_blocks = [
            (type(block).__name__, block.source)
            for block in fresh.query_one(StreamedMarkdown).query_one(Markdown).children
            if hasattr(block, "source")
        ]
    assert streamed_screen == fresh_screen
    assert streamed_blocks == fresh_blocks


async def test_a_bare_markdown_widget_renders_the_same_blocks() -> None:
    class Bare(App[None]):
        def compose(self) -> ComposeResult:
            yield Markdown(ANSWER)

    async with Host(ANSWER).run_test(size=SIZE) as pilot:
        await pilot.pause()
        ours = [type(child).__name__ for child in pilot.app.query_one(Markdown).query("*")]
    async with Bare().run_test(size=SIZE) as pilot:
        await pilot.pause()
        bare = [type(child).__name__ for child in pilot.app.query_one(Markdown).query("*")]
    assert ours == bare and "MarkdownFence" in ours and "MarkdownTable" in ours


async def test_live_lines_keep_up_with_a_fast_stream_and_a_resize() -> None:
    text = ANSWER * 20
    async with Host().run_test(size=SIZE) as pilot:
        widget = pilot.app.query_one(StreamedMarkdown)
        widget.start()
        for piece in pieces(text, 7):
            widget.write(piece)
        await pilot.pause(0.1)
        await pilot.resize_terminal(50, 20)
        await pilot.pause(0.1)
        live = widget.query_one(LiveLines)
        assert words(live_text(live)) == words(text)


def test_a_block_is_finished_once_the_next_one_starts() -> None:
    assert split_finished("A paragraph\nstill going") == 0
    assert split_finished("A paragraph.\n\nNext") == len("A paragraph.\n\n")
    fence = "```\ncode\n\nmore code\n"
    assert split_finished(fence) == 0  # A blank line inside a fence ends nothing.
    assert split_finished("- one\n\n- two") == 0  # Still one (loose) list.
