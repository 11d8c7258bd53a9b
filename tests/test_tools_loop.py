"""The tool runner between two rounds: every call stored, approved or refused, run, its result stored."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tui.domain import MessagePart, PartKind, Role, ToolCall
from tui.domain.parts import ToolCallData, ToolResultData, tool_call_part, tool_result_part
from tui.tools.approval import ApprovalPolicy, ApprovalRequest, Decision
from tui.tools.catalog import ToolInfo, named
from tui.tools.loop import REFUSED_TEXT, ToolRunner, follow_up_turns
from tui.tools.results import ToolResult

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}}
TOOLS = named([ToolInfo("wx", "weather", "Weather.", SCHEMA), ToolInfo("fs", "delete", "Delete.", SCHEMA)])


class MemorySink:
    """Parts kept in order, with every change of their data, as a store would keep them."""

    def __init__(self) -> None:
        self.parts: dict[int, MessagePart] = {}
        self.history: list[tuple[int, dict[str, Any]]] = []

    def call_started(self, call: ToolCallData, *, offset: int) -> MessagePart:
        return self.add_part(tool_call_part(call, offset=offset))

    def call_changed(self, handle: MessagePart, call: ToolCallData) -> MessagePart:
        return self.update_part(handle, data=call.to_json())

    def result(self, result: ToolResultData, text: str, *, offset: int) -> MessagePart:
        return self.add_part(tool_result_part(result, text, offset=offset))

    def add_part(self, part: MessagePart) -> MessagePart:
        stored = MessagePart(part.kind, part.text, dict(part.data), part.seq, part.offset, id=len(self.parts) + 1)
        self.parts[stored.id] = stored
        self.history.append((stored.id, dict(part.data)))
        return stored

    def update_part(self, part: MessagePart, *, data: dict[str, Any]) -> MessagePart:
        assert part.id is not None
        self.parts[part.id] = MessagePart(part.kind, part.text, dict(data), part.seq, part.offset, id=part.id)
        self.history.append((part.id, dict(data)))
        return self.parts[part.id]

    def states(self) -> list[str]:
        return [part.data["state"] for part in self.parts.values() if part.kind is PartKind.TOOL_CALL]


def runner(
    decisions: list[Decision], ran: list[tuple[str, dict[str, Any]]], allow: list[str] = (), max_rounds: int = 8
) -> tuple[ToolRunner, list[ApprovalRequest]]:
    asked: list[ApprovalRequest] = []

    async def approver(request: ApprovalRequest) -> Decision:
        asked.append(request)
        return decisions.pop(0)

    async def call(tool: ToolInfo, arguments: dict[str, Any]) -> ToolResult:
        ran.append((tool.qualified, arguments))
        return ToolResult(f"{tool.name} ok")

    return ToolRunner(
        conversation_id=7,
        tools=TOOLS,
        call=call,
        policy=ApprovalPolicy(allow=list(allow), servers=["wx", "fs"]),
        approver=approver,
        max_rounds=max_rounds,
    ), asked


async def _run(tool_runner: ToolRunner, sink: MemorySink, calls: list[ToolCall]) -> list[tuple[ToolCall, ToolResult]]:
    results: list[tuple[ToolCall, ToolResult]] = []
    async for _ in tool_runner.run(calls, sink, offset=0, results=results):
        pass
    return results


async def test_run_once_asks_each_time_and_records_who_approved() -> None:
    ran: list = []
    tool_runner, asked = runner([Decision.ONCE, Decision.ONCE], ran)
    sink = MemorySink()
    await _run(tool_runner, sink, [ToolCall("c1", "weather", {"city": "Oslo"})])
    await _run(tool_runner, sink, [ToolCall("c2", "weather", {"city": "Rome"})])
    assert len(asked) == 2 and asked[0].tool.qualified == "wx.weather" and asked[0].arguments == {"city": "Oslo"}
    assert ran == [("wx.weather", {"city": "Oslo"}), ("wx.weather", {"city": "Rome"})]
    calls = [part for part in sink.parts.values() if part.kind is PartKind.TOOL_CALL]
    assert [(p.data["server"], p.data["tool"], p.data["approval"], p.data["state"]) for p in calls] == [
        ("wx", "weather", "user", "done"),
        ("wx", "weather", "user", "done"),
    ]
    # The call was committed as approved before it ran (what a kill -9 would leave behind).
    first_call_states = [data["state"] for part_id, data in sink.history if part_id == calls[0].id]
    assert first_call_states == ["asked", "approved", "done"]
    results = [part for part in sink.parts.values() if part.kind is PartKind.TOOL_RESULT]
    assert [(p.text, p.data["id"], p.data["is_error"]) for p in results] == [
        ("weather ok", "c1", False),
        ("weather ok", "c2", False),
    ]


async def test_always_holds_for_the_rest_of_the_conversation() -> None:
    ran: list = []
    tool_runner, asked = runner([Decision.ALWAYS], ran)
    sink = MemorySink()
    await _run(
        tool_runner, sink, [ToolCall("c1", "weather", {"city": "Oslo"}), ToolCall("c2", "weather", {"city": "Rome"})]
    )
    assert len(asked) == 1 and len(ran) == 2
    approvals = [part.data["approval"] for part in sink.parts.values() if part.kind is PartKind.TOOL_CALL]
    assert approvals == ["user", "conversation"]


async def test_refused_calls_never_run_and_the_model_is_told() -> None:
    ran: list = []
    tool_runner, _ = runner([Decision.REFUSE], ran)
    sink = MemorySink()
    results = await _run(tool_runner, sink, [ToolCall("c1", "delete", {"city": "Oslo"})])
    assert ran == []
    assert sink.states() == ["refused"]
    assert results[0][1] == ToolResult(REFUSED_TEXT, is_error=True)
    turns = follow_up_turns("", "thinking", results)
    assert [turn.role for turn in turns] == [Role.ASSISTANT, Role.TOOL]
    assert turns[0].tool_calls == (ToolCall("c1", "delete", {"city": "Oslo"}),) and turns[0].reasoning == "thinking"
    assert (turns[1].content, turns[1].tool_call_id, turns[1].tool_name) == (REFUSED_TEXT, "c1", "delete")


async def test_allowed_tools_run_without_asking_others_are_still_asked() -> None:
    ran: list = []
    tool_runner, asked = runner([Decision.REFUSE], ran, allow=["wx.weather"])
    sink = MemorySink()
    await _run(tool_runner, sink, [ToolCall("c1", "weather", {}), ToolCall("c2", "delete", {})])
    assert ran == [("wx.weather", {})] and [request.tool.name for request in asked] == ["delete"]
    approvals = [part.data["approval"] for part in sink.parts.values() if part.kind is PartKind.TOOL_CALL]
    assert approvals == ["config", "refused"]


async def test_an_unknown_tool_is_refused_with_the_known_names() -> None:
    ran: list = []
    tool_runner, asked = runner([], ran)
    sink = MemorySink()
    results = await _run(tool_runner, sink, [ToolCall("c1", "rm_rf", {})])
    assert asked == [] and ran == []
    assert results[0][1].text == "There is no tool named 'rm_rf'; the tools are: weather, delete."


async def test_rounds_past_the_limit_are_not_run() -> None:
    ran: list = []
    tool_runner, _ = runner([], ran, allow=["wx.weather"], max_rounds=1)
    sink = MemorySink()
    await _run(tool_runner, sink, [ToolCall("c1", "weather", {})])
    results = await _run(tool_runner, sink, [ToolCall("c2", "weather", {})])
    assert len(ran) == 1
    assert results[0][1].text.startswith("Not run: this answer has made as many rounds of tool calls as allowed (1)")


async def test_stopping_while_the_user_is_asked_leaves_the_call_interrupted() -> None:
    sink = MemorySink()
    waiting = asyncio.Event()

    async def approver(request: ApprovalRequest) -> Decision:
        waiting.set()
        await asyncio.sleep(60)
        return Decision.ONCE

    async def call(tool: ToolInfo, arguments: dict[str, Any]) -> ToolResult:
        raise AssertionError("must not run")

    tool_runner = ToolRunner(conversation_id=1, tools=TOOLS, call=call, policy=ApprovalPolicy(), approver=approver)
    task = asyncio.create_task(_run(tool_runner, sink, [ToolCall("c1", "weather", {})]))
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert sink.states() == ["interrupted"]
    assert not any(part.kind is PartKind.TOOL_RESULT for part in sink.parts.values())
