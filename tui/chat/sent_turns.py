"""A stored message as the turns an engine is sent: an answer that called tools becomes its own
calls, their results and its text, in the order they happened; its reasoning stays out."""

from __future__ import annotations

from collections.abc import Sequence

from tui.domain import Attachment, ChatMessage, ChatTurn, MessagePart, PartKind, Role
from tui.domain.parts import tool_call_of, tool_result_of


def message_turns(message: ChatMessage, attachments: Sequence[Attachment] = ()) -> list[ChatTurn]:
    """`message` as turns; `attachments`: a user message's files, their bytes read back.

    An answer's rounds of tool calls each become an assistant turn carrying the round's calls (and
    the text written before them), then one TOOL turn per result; the text after the last round is a
    last assistant turn. A call without a result (stopped before it ran) is left out: every protocol
    wants each call it is sent answered."""
    if message.role is not Role.ASSISTANT or not message.parts_of(PartKind.TOOL_RESULT):
        return [ChatTurn(message.role, message.content, attachments=tuple(attachments))]
    results = {tool_result_of(part).id: part for part in message.parts_of(PartKind.TOOL_RESULT)}
    turns: list[ChatTurn] = []
    shown = 0
    for calls in _rounds(message.parts):
        answered = [call for call in calls if tool_call_of(call).id in results]
        if not answered:
            continue
        before = message.content[shown : answered[0].offset]
        shown = max(shown, answered[0].offset)
        sent = [tool_call_of(part).as_call() for part in answered]
        turns.append(ChatTurn(Role.ASSISTANT, before, tool_calls=tuple(sent)))
        for call in sent:
            turns.append(ChatTurn(Role.TOOL, results[call.id].text, tool_call_id=call.id, tool_name=call.name))
    rest = message.content[shown:]
    if rest or not turns:
        turns.append(ChatTurn(Role.ASSISTANT, rest))
    return turns


def _rounds(parts: Sequence[MessagePart]) -> list[list[MessagePart]]:
    """The answer's tool calls grouped by the round that asked for them. Calls stored before rounds
    were recorded: a new round starts at a call that follows a result and reasoning or more text."""
    rounds: list[list[MessagePart]] = []
    after_result = False
    last_round: object = None
    last_offset = -1
    for part in sorted(parts, key=lambda p: p.seq):
        if part.kind is PartKind.TOOL_CALL:
            round_ = tool_call_of(part).round
            if round_ is not None:
                new = round_ != last_round
            else:
                new = not rounds or (after_result and part.offset != last_offset)
            if new:
                rounds.append([])
            rounds[-1].append(part)
            last_round, last_offset, after_result = round_, part.offset, False
        elif part.kind is PartKind.TOOL_RESULT:
            after_result = True
        elif part.kind is PartKind.REASONING and after_result:
            last_offset = -1  # Reasoning between a result and a call: the model was asked again.
    return rounds
