"""Tool calls coming back over the wire: Ollama's whole calls and OpenAI's streamed fragments, and
the error that means a model has no tool support. (The turns that carry calls and results out are
built in tui.engines.wire.)"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tui.domain import ToolCall

if TYPE_CHECKING:  # The clients are imported when first used.
    from ollama import Message
    from openai.types.chat.chat_completion_chunk import ChoiceDeltaToolCall

NO_TOOLS = "this model does not call tools"
"""What the user reads when tools are on and the model cannot use them."""


def says_no_tools(message: str) -> bool:
    """Whether a server's error means the model has no tool support (Ollama: "... does not support tools")."""
    return "does not support tools" in message or "tools are not supported" in message.lower()


def ollama_calls(calls: Iterable[Message.ToolCall] | None, first_index: int) -> list[ToolCall]:
    """An Ollama chunk's `message.tool_calls` as ToolCalls; Ollama sends no ids, so they are numbered."""
    found = []
    for index, call in enumerate(calls or (), start=first_index):
        arguments = call.function.arguments
        found.append(ToolCall(f"call_{index}", call.function.name, _as_object(arguments)))
    return found


@dataclass
class ToolCallFragments:
    """Streamed OpenAI `tool_calls` deltas put together: the first fragment of an index brings its id
    and name, later ones pieces of the arguments' JSON."""

    _calls: dict[int, dict[str, str]] = field(default_factory=dict)
    """By index: the id, the name and the arguments' JSON so far."""

    def add(self, deltas: Iterable[ChoiceDeltaToolCall] | None) -> None:
        for delta in deltas or ():
            entry = self._calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            if delta.id:
                entry["id"] = delta.id
            function = delta.function
            if function is not None:
                if function.name:
                    entry["name"] += function.name
                if function.arguments:
                    entry["arguments"] += function.arguments

    def calls(self) -> list[ToolCall]:
        return [
            ToolCall(entry["id"] or f"call_{index}", entry["name"], _parsed(entry["arguments"]))
            for index, entry in sorted(self._calls.items())
        ]


def _parsed(text: str) -> dict[str, Any]:
    """Arguments sent as a JSON string; what does not parse is kept whole for the user to see."""
    if not text.strip():
        return {}
    try:
        return _as_object(json.loads(text))
    except json.JSONDecodeError:
        return {"_unparsed": text}


def _as_object(value: object) -> dict[str, Any]:
    if isinstance(value, dict):
        return dict(value)
    if isinstance(value, str):
        return _parsed(value)
    return {"_value": value}
