"""Fitting a conversation into a model's context window: estimate, then drop the oldest turns."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from tui.chat.sent_turns import message_turns
from tui.domain import ChatMessage, ChatTurn, PartKind, Role
from tui.domain.parts import attachment_of, tool_call_of

CHARS_PER_TOKEN = 3.0
"""Deliberately pessimistic (English averages about 4): trimming a little early beats an
engine refusing a prompt that does not fit."""
TURN_OVERHEAD = 4
"""Tokens a chat template adds around each message (role markers, separators)."""


def estimate_tokens(text: str) -> int:
    """Tokens `text` will take, estimated without the model's tokenizer."""
    return int(len(text) / CHARS_PER_TOKEN + 0.999) + TURN_OVERHEAD


IMAGE_TOKENS = 1024
"""What an attached image costs in the context, roughly (vision encoders take 256 to 1,600)."""


def message_tokens(message: ChatMessage) -> int:
    """An answer's own count when the engine reported it, else the estimate (attached files
    and images included; an answer's reasoning is never sent back, so it costs nothing), plus
    the tool results it is sent back with (its calls are in its own count)."""
    results = sum(estimate_tokens(part.text) for part in message.parts_of(PartKind.TOOL_RESULT))
    if message.role is Role.ASSISTANT and message.completion_tokens:
        return message.completion_tokens - (message.reasoning_tokens or 0) + TURN_OVERHEAD + results
    calls = sum(
        estimate_tokens(json.dumps(tool_call_of(part).arguments)) for part in message.parts_of(PartKind.TOOL_CALL)
    )
    attached = sum(
        IMAGE_TOKENS if file.is_image else estimate_tokens("x" * file.size)
        for file in map(attachment_of, message.parts_of(PartKind.ATTACHMENT))
    )
    return estimate_tokens(message.content) + attached + results + calls


@dataclass(frozen=True)
class Fitted:
    """The turns to send and what fitting them cost."""

    turns: list[ChatTurn]
    tokens: int
    """Estimated prompt tokens of `turns`."""
    limit: int | None
    """The context length fitted into (None: unknown, nothing was dropped)."""
    dropped: int = 0
    """Oldest messages left out to make room."""


def fit(
    system_prompt: str,
    messages: Sequence[ChatMessage],
    *,
    limit: int | None,
    reserve: int,
    turns_of: Callable[[ChatMessage], list[ChatTurn]] = message_turns,
) -> Fitted:
    """The system prompt and as many of the newest `messages` as fit in `limit - reserve`.

    The system prompt is always kept; whole turns go from the oldest, and the kept part
    never starts with an answer whose question was dropped. The newest message is always
    sent, even alone and too long, so the engine can say so. `turns_of` gives a message's turns
    (an answer with tool calls is several).
    """
    kept = [
        message
        for message in messages
        if (message.content or message.parts_of(PartKind.ATTACHMENT) or message.parts_of(PartKind.TOOL_RESULT))
        and message.role is not Role.SYSTEM
    ]
    system = [ChatTurn(Role.SYSTEM, system_prompt)] if system_prompt else []
    costs = [message_tokens(message) for message in kept]
    total = sum(costs) + (estimate_tokens(system_prompt) if system_prompt else 0)
    start = 0
    if limit is not None:
        budget = max(limit - reserve, 0)
        while start < len(kept) - 1 and total > budget:
            total -= costs[start]
            start += 1
        while start < len(kept) - 1 and kept[start].role is Role.ASSISTANT:
            total -= costs[start]
            start += 1
    turns = system + [turn for message in kept[start:] for turn in turns_of(message)]
    return Fitted(turns, total, limit, start)
