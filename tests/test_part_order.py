"""One order for an answer's parts, the order of events, everywhere: the live view, the view after
it ends, after alt+r, after reopening the conversation, `lchat show` and the export."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

import pytest

from tests.test_backup_export import run_cli
from tests.test_tools_servers import SERVER
from tui.chat.part_order import answer_groups, in_order
from tui.config import Config, McpConfig, McpServerConfig
from tui.domain import ChatTurn, GenerationOptions, ModelInfo, PartKind, ToolCall
from tui.engines.base import ChatEvent, Engine, Finished, ReasoningPiece, TextPiece, ToolCallRequest
from tui.store import HistoryStore
from tui.ui.app import LchatApp
from tui.ui.screens.tool_select_screen import ToolSelectScreen
from tui.ui.widgets.message_view import MessageView
from tui.ui.widgets.reasoning_block import ReasoningBlock
from tui.ui.widgets.streamed_markdown import StreamedMarkdown
from tui.ui.widgets.tool_calls import ToolCallsView, ToolCallView

SIZE = (120, 40)
RESULT = "Sunny, 21 C in Oslo (metric)"
HOLD = object()
"""In a script: wait here until the test lets the engine go on."""


class RoundsEngine(Engine):
    """Plays one scripted round of events per request (the last one again after that)."""

    name = "rounds"

    def __init__(self, rounds: Sequence[Sequence[object]]) -> None:
        self.rounds = rounds
        self.requests: list[list[ChatTurn]] = []
        self.go_on = asyncio.Event()

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(name="tooler", backend=self.name, context_length=4096)]

    def supports_tools(self, model: str) -> bool | None:
        return True

    async def chat(
        self, model: str, messages: Sequence[ChatTurn], options: GenerationOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        self.requests.append(list(messages))
        for event in self.rounds[min(len(self.requests), len(self.rounds)) - 1]:
            if event is HOLD:
                await self.go_on.wait()
            else:
                assert isinstance(event, TextPiece | ReasoningPiece | ToolCallRequest)
                yield event
            await asyncio.sleep(0)
        yield Finished(prompt_tokens=10, completion_tokens=5, ttft_s=0.01, gen_s=0.1)


def _script(lead_text: str) -> list[list[object]]:
    """Reasoning, (text,) a tool call; its result; reasoning, text."""
    call = ToolCall("call_1", "weather", {"city": "Oslo"})
    first: list[object] = [ReasoningPiece("First"), ReasoningPiece(" thought.")]
    first += [TextPiece(lead_text)] if lead_text else []
    return [
        [*first, ToolCallRequest(call)],
        [ReasoningPiece("Second thought."), TextPiece("The "), TextPiece("answer."), HOLD],
    ]


def _expected(lead_text: str) -> list[tuple[str, str]]:
    lead = [("text", lead_text)] if lead_text else []
    return [
        ("reasoning", "First thought."),
        *lead,
        ("tool", f"weather → {RESULT}"),
        ("reasoning", "Second thought."),
        ("text", "The answer."),
    ]


def shown_order(view: MessageView) -> list[tuple[str, str]]:
    """The answer's blocks as they stand on screen, top to bottom (the header aside)."""
    found: list[tuple[str, str]] = []
    for child in view.children:
        if isinstance(child, ReasoningBlock):
            found.append(("reasoning", child.query_one(StreamedMarkdown).source))
        elif isinstance(child, ToolCallsView):
            for call in child.query(ToolCallView):
                result = call.result.text if call.result is not None else "(no result)"
                found.append(("tool", f"{call.call.data['name']} → {result}"))
        elif isinstance(child, StreamedMarkdown) and child.source:
            found.append(("text", child.source))
    return found


async def until(pilot, condition: Callable[[], object], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await pilot.pause(0.02)


def _config() -> Config:
    servers = {"t": McpServerConfig(command=sys.executable, args=[SERVER])}
    return Config(mcp=McpConfig(servers=servers, allow=["t.weather"]))


@pytest.mark.parametrize("lead_text", ["", "Let me look."], ids=["call-after-reasoning", "text-before-call"])
async def test_parts_keep_the_order_of_events_everywhere(open_services, paths, lead_text: str) -> None:
    engine = RoundsEngine(_script(lead_text))
    expected = _expected(lead_text)
    app = LchatApp(open_services(engine, config=_config()))
    async with app.run_test(size=SIZE) as pilot:
        main = app.screen
        await main.models.loaded.wait()
        await pilot.press("f10")
        await until(pilot, lambda: isinstance(app.screen, ToolSelectScreen))
        await pilot.press("enter")
        await until(pilot, lambda: not isinstance(app.screen, ToolSelectScreen))
        await pilot.press(*"Weather?", "enter")

        # Live: the last text has arrived, the answer has not ended.
        await until(pilot, lambda: ("text", "The answer.") in shown_order(main.query(MessageView).last()))
        answer = main.query(MessageView).last()
        assert shown_order(answer) == expected
        engine.go_on.set()
        await until(pilot, lambda: not main.answers.generating)
        await pilot.pause()
        assert shown_order(answer) == expected  # Ended.
        await pilot.press("alt+r")  # Every reasoning block unfolds, where it was.
        await pilot.pause()
        assert not any(block.folded for block in answer.query(ReasoningBlock))
        assert shown_order(answer) == expected
        conversation_id = answer.message.conversation_id

    # Reopened from the file by a new lchat.
    with HistoryStore.open(paths.database) as store:
        stored = store.list_messages(conversation_id)[-1]
    assert [part.kind for part in stored.parts] == [
        PartKind.REASONING,
        PartKind.TOOL_CALL,
        PartKind.TOOL_RESULT,
        PartKind.REASONING,
    ]
    app = LchatApp(open_services(RoundsEngine(_script(lead_text)), config=_config()))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: len(app.screen.query(MessageView)) == 2)
        assert shown_order(app.screen.query(MessageView).last()) == expected

    # `lchat show` and both exports.
    code, shown, _ = run_cli("show", str(conversation_id))
    assert code == 0
    markers = ["First thought.", *([lead_text] if lead_text else []), "Tool call: weather", RESULT]
    markers += ["Second thought.", "The answer."]
    at = [shown.index(marker) for marker in markers]
    assert at == sorted(at), shown
    code, exported, _ = run_cli("export", str(conversation_id))
    message = json.loads(exported)["messages"][-1]
    pieces = in_order(message["content"], message["parts"], lambda part: part["offset"])
    assert [piece if isinstance(piece, str) else piece["kind"] for piece in pieces] == [
        "reasoning",
        *([lead_text] if lead_text else []),
        "tool_call",
        "tool_result",
        "reasoning",
        "The answer.",
    ]


def test_groups_cut_the_text_where_each_part_arrived() -> None:
    from tui.domain import MessagePart

    def part(kind: PartKind, offset: int, **data: Any) -> MessagePart:
        return MessagePart(kind, text="t", data=data, offset=offset)

    call, result = part(PartKind.TOOL_CALL, 3, id="a"), part(PartKind.TOOL_RESULT, 3, id="a")
    thought = part(PartKind.REASONING, 3)
    assert answer_groups("abcdef", [part(PartKind.REASONING, 0), call, result, thought]) == [
        ("reasoning", part(PartKind.REASONING, 0)),
        ("text", "abc"),
        ("tools", [call, result]),
        ("reasoning", thought),
        ("text", "def"),
    ]
    assert in_order("ab", [part(PartKind.REASONING, 9)], lambda p: p.offset) == ["ab", part(PartKind.REASONING, 9)]
