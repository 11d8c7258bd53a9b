"""One answer's tool calls: each stored as it happens, approved (or refused), run, its result stored,
and the turns that send the results back to the model.

The answer pipeline (tui.chat.answers) owns the answer and the engine; this module owns what happens between two rounds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from tui.domain import (
    ChatTurn,
    GenerationOptions,
    MessagePart,
    Role,
    ToolCall,
)
from tui.domain.parts import ToolCallData, ToolResultData, tool_call_of
from tui.engines.base import ChatEvent, Finished, ReasoningPiece, TextPiece, ToolCallRequest
from tui.tools.approval import (
    Approval,
    ApprovalPolicy,
    ApprovalRequest,
    Approver,
    Decision,
)
from tui.tools.catalog import ToolInfo, by_model_name
from tui.tools.results import ToolResult, capped

REFUSED_TEXT = "The user refused to run this tool call. Do not call it again; answer without it."
TOO_MANY_ROUNDS_TEXT = "Not run: this answer has made as many rounds of tool calls as allowed ({rounds})."


class CallState(StrEnum):
    """Where a stored tool call is in its life."""

    ASKED = "asked"
    """Waiting for the user's answer."""
    APPROVED = "approved"
    """Running (or was, when lchat died: then shown as interrupted)."""
    REFUSED = "refused"
    DONE = "done"
    INTERRUPTED = "interrupted"
    """Approved or asked but never finished (stopped, or lchat was killed); never re-run by itself."""


UNFINISHED = (CallState.ASKED, CallState.APPROVED)


@dataclass(frozen=True)
class ToolCallShown:
    """A tool call part was stored or changed (its state, its approval)."""

    part: MessagePart


@dataclass(frozen=True)
class ToolResultShown:
    """A tool's result part was stored."""

    part: MessagePart


ToolUpdate = ToolCallShown | ToolResultShown


class ToolSink(Protocol):
    """Where one answer's tool calls and results are kept as they happen, each written at once
    (AnswerDraft is one). The stored part it returns is the handle for later changes."""

    def call_started(self, call: ToolCallData, *, offset: int) -> MessagePart: ...

    def call_changed(self, handle: MessagePart, call: ToolCallData) -> MessagePart: ...

    def result(self, result: ToolResultData, text: str, *, offset: int) -> MessagePart: ...


def _changed(sink: ToolSink, part: MessagePart, **changes: Any) -> MessagePart:
    return sink.call_changed(part, tool_call_of(part).changed(**changes))


@dataclass
class ToolRunner:
    """Runs the tool calls of one answer, round after round, up to `max_rounds`."""

    conversation_id: int
    tools: Sequence[ToolInfo]
    """The tools this conversation has on (the model is offered these only)."""
    call: Callable[[ToolInfo, dict[str, Any]], Any]
    """Runs one approved call: an awaitable giving a ToolResult (ToolServers.call)."""
    policy: ApprovalPolicy
    approver: Approver
    max_rounds: int = 8
    max_bytes: int = 16 * 1024
    rounds: int = 0

    def offer(self, options: GenerationOptions) -> GenerationOptions:
        """`options` with this conversation's tools offered to the model."""
        return replace(options, tools=tuple(tool.spec() for tool in self.tools))

    async def run(
        self, calls: Sequence[ToolCall], sink: ToolSink, *, offset: int, results: list[tuple[ToolCall, ToolResult]]
    ) -> AsyncIterator[ToolUpdate]:
        """Store, approve and run `calls` in order, appending each result to `results`."""
        self.rounds += 1
        for call in calls:
            async for update in self._one(call, sink, offset, results):
                yield update

    async def _one(
        self, call: ToolCall, sink: ToolSink, offset: int, results: list[tuple[ToolCall, ToolResult]]
    ) -> AsyncIterator[ToolUpdate]:
        tool = by_model_name(self.tools, call.name)
        part = sink.call_started(
            ToolCallData(
                id=call.id,
                name=call.name,
                tool=tool.name if tool else call.name,
                server=tool.server if tool else "",
                arguments=call.arguments,
                approval="",
                state=CallState.ASKED.value,
                round=self.rounds,  # Later turns send each round's calls together, as asked.
            ),
            offset=offset,
        )
        yield ToolCallShown(part)
        try:
            result, part = await self._decide_and_run(call, tool, part, sink)
        except (asyncio.CancelledError, GeneratorExit):
            _changed(sink, part, state=CallState.INTERRUPTED.value)
            raise
        if tool_call_of(part).state != CallState.REFUSED:
            part = _changed(sink, part, state=CallState.DONE.value)
        yield ToolCallShown(part)
        stored = sink.result(
            ToolResultData(id=call.id, name=call.name, is_error=result.is_error, cut_from=result.cut_from),
            result.text,
            offset=offset,
        )
        results.append((call, result))
        yield ToolResultShown(stored)

    async def _decide_and_run(
        self, call: ToolCall, tool: ToolInfo | None, part: MessagePart, sink: ToolSink
    ) -> tuple[ToolResult, MessagePart]:
        if tool is None:
            known = ", ".join(t.model_name for t in self.tools) or "none"
            part = _changed(sink, part, state=CallState.REFUSED.value, approval=Approval.REFUSED.value)
            return capped(
                f"There is no tool named {call.name!r}; the tools are: {known}.", self.max_bytes, is_error=True
            ), part
        if self.rounds > self.max_rounds:
            part = _changed(sink, part, state=CallState.REFUSED.value, approval=Approval.REFUSED.value)
            return ToolResult(TOO_MANY_ROUNDS_TEXT.format(rounds=self.max_rounds), is_error=True), part
        approval = self.policy.approved_in(self.conversation_id, tool)
        if approval is None:
            decision = await self.approver(ApprovalRequest(self.conversation_id, tool, dict(call.arguments)))
            if decision is Decision.ALWAYS:
                self.policy.remember(self.conversation_id, tool)
            approval = Approval.REFUSED if decision is Decision.REFUSE else Approval.USER
        if approval is Approval.REFUSED:
            part = _changed(sink, part, state=CallState.REFUSED.value, approval=approval.value)
            return ToolResult(REFUSED_TEXT, is_error=True), part
        # Committed before the call starts: after a kill, an approved call without a result is
        # shown as interrupted, and nothing ever runs it again by itself.
        part = _changed(sink, part, state=CallState.APPROVED.value, approval=approval.value)
        return await self.call(tool, dict(call.arguments)), part


def follow_up_turns(text: str, reasoning: str, results: Sequence[tuple[ToolCall, ToolResult]]) -> list[ChatTurn]:
    """What the model is sent after a round: its own turn (text, reasoning, calls), then each result."""
    calls = tuple(call for call, _ in results)
    turns = [ChatTurn(Role.ASSISTANT, text, reasoning=reasoning, tool_calls=calls)]
    turns.extend(
        ChatTurn(Role.TOOL, result.text, tool_call_id=call.id, tool_name=call.name) for call, result in results
    )
    return turns


ChatFunction = Callable[[str, Sequence[ChatTurn], GenerationOptions], AsyncGenerator[ChatEvent, None]]


async def with_tools(
    chat: ChatFunction,
    model: str,
    turns: Sequence[ChatTurn],
    options: GenerationOptions,
    runner: ToolRunner | None,
    sink: ToolSink | None,
) -> AsyncGenerator[ChatEvent | ToolUpdate, None]:
    """The engine's events for one answer, its tool calls run between rounds: text and reasoning
    pieces as they come, tool updates, and one Finished with the figures of every round.

    The loop keeps the text it passes on itself (each round's is sent back with its calls), so
    `sink` only ever receives the tool calls and results, never reads the answer back."""
    if runner is None or sink is None or not runner.tools:
        async with aclosing(chat(model, turns, options)) as events:
            async for event in events:
                yield event
        return
    options, turns, totals = runner.offer(options), list(turns), None
    shown = 0  # Characters of answer text passed on so far: where the next part goes.
    while True:
        calls: list[ToolCall] = []
        reasoning: list[str] = []
        text: list[str] = []
        async with aclosing(chat(model, turns, options)) as events:
            async for event in events:
                if isinstance(event, ToolCallRequest):
                    calls.append(event.call)
                elif isinstance(event, Finished):
                    totals = _added(totals, event)
                else:
                    if isinstance(event, ReasoningPiece):
                        reasoning.append(event.text)
                    elif isinstance(event, TextPiece):
                        text.append(event.text)
                        shown += len(event.text)
                    yield event
        if not calls:
            break
        results: list[tuple[ToolCall, ToolResult]] = []
        async for update in runner.run(calls, sink, offset=shown, results=results):
            yield update
        turns += follow_up_turns("".join(text), "".join(reasoning), results)
        if runner.rounds >= runner.max_rounds:
            options = replace(options, tools=())  # The last round answers with what it has.
    if totals is not None:
        yield totals


def _added(total: Finished | None, round_: Finished) -> Finished:
    """One answer's figures over its rounds: tokens and times added up, the prompt of the last round."""
    if total is None:
        return round_

    def both(a: float | None, b: float | None) -> float | None:
        return None if a is None and b is None else (a or 0) + (b or 0)

    reasoning = both(total.reasoning_tokens, round_.reasoning_tokens)
    return replace(
        round_,
        completion_tokens=total.completion_tokens + round_.completion_tokens,
        ttft_s=total.ttft_s if total.ttft_s is not None else round_.ttft_s,
        gen_s=total.gen_s + round_.gen_s,
        prompt_s=both(total.prompt_s, round_.prompt_s),
        load_s=total.load_s or round_.load_s,
        reasoning_tokens=int(reasoning) if reasoning is not None else None,
        reasoning_estimated=total.reasoning_estimated or round_.reasoning_estimated,
        reasoning_ttft_s=total.reasoning_ttft_s if total.reasoning_ttft_s is not None else round_.reasoning_ttft_s,
    )
