"""An answer streamed into the chat ends exactly as the same message shown afresh."""

from __future__ import annotations

from textual.app import App
from textual.strip import Strip

from tests.scripted_engine import ScriptedEngine, fixed_script
from tests.test_streamed_markdown import ANSWER, pieces
from tui.ui.app import LchatApp
from tui.ui.widgets.message_view import MessageView
from tui.ui.widgets.streamed_markdown import LiveLines

SIZE = (80, 30)


def chat_lines(app: App) -> list[str]:
    """The chat pane as drawn, styles included (the composer's blinking cursor left out)."""
    from tui.ui.widgets.chat_view import ChatView

    region = app.screen.query_one(ChatView).region
    update = app.screen._compositor.render_update(full=True)
    return [
        repr(list(Strip.join(chops).crop(region.x, region.right)))
        for chops in list(update.strips)[region.y : region.bottom]
    ]


async def test_a_streamed_answer_ends_as_it_shows_when_reopened(open_services) -> None:
    services = open_services(ScriptedEngine(script=fixed_script(*pieces(ANSWER, 4)), delay=0.002))
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"go", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = app.screen.query(MessageView).last()
        assert answer.message.content == ANSWER
        assert answer.query_one(".body").source == ANSWER
        assert not answer.query(LiveLines)
        streamed_height = answer.outer_size.height
        streamed_screen = chat_lines(app)
        assert any("Last words." in line for line in streamed_screen)
        await app.screen.open_conversation(answer.message.conversation_id)
        await pilot.pause()
        reopened = app.screen.query(MessageView).last()
        assert reopened is not answer and reopened.message.content == ANSWER
        assert reopened.outer_size.height == streamed_height
        assert chat_lines(app) == streamed_screen


async def test_reasoning_streams_through_the_same_renderer_and_ends_whole(open_services) -> None:
    from tui.ui.widgets.reasoning_block import ReasoningBlock
    from tui.ui.widgets.streamed_markdown import StreamedMarkdown

    thoughts = pieces("First I consider **the list**:\n\n- one\n- two\n\nThen I answer.", 5)
    engine = ScriptedEngine(script=fixed_script(*pieces(ANSWER, 4)), reasoning=thoughts, delay=0.002)
    app = LchatApp(open_services(engine))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"go", "enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        answer = app.screen.query(MessageView).last()
        block = answer.query_one(ReasoningBlock)
        assert block.folded and not block.query(LiveLines)
        assert block.query_one(StreamedMarkdown).source == "".join(thoughts) == answer.message.reasoning
        assert answer.query_one(".body").source == ANSWER
