"""Tool calls inside a model's own output (the embedded engine), in the formats of the common families:

- Qwen 2.5/3 and Hermes: `<tool_call>{"name": ..., "arguments": {...}}</tool_call>`, one block per call;
- Llama 3.1+: the whole answer is `{"name": ..., "parameters": {...}}` (after `<|python_tag|>` for built-ins);
- Mistral: `[TOOL_CALLS][{"name": ..., "arguments": {...}}, ...]`, and in v11+ tokenizers
  `[TOOL_CALLS]name[ARGS]{...}` (optionally `[CALL_ID]id` before `[ARGS]`), repeated per call.

Several markers are special tokens: the engine must decode them as text for this to see them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from tui.domain import ToolCall

QWEN_OPEN, QWEN_CLOSE = "<tool_call>", "</tool_call>"
MISTRAL = "[TOOL_CALLS]"
PYTHON_TAG = "<|python_tag|>"
MARKERS = (QWEN_OPEN, MISTRAL, PYTHON_TAG)

_decoder = json.JSONDecoder()


@dataclass(frozen=True)
class Parsed:
    """An output split into its answer text and the calls it made."""

    text: str
    calls: list[ToolCall]


def parse_tool_calls(output: str) -> Parsed:
    """The calls in `output` (any of the formats above) and the text around them."""
    if QWEN_OPEN in output:
        return _qwen(output)
    if MISTRAL in output:
        return _mistral(output)
    return _llama(output)


def _qwen(output: str) -> Parsed:
    text: list[str] = []
    calls: list[ToolCall] = []
    rest = output
    while QWEN_OPEN in rest:
        before, _, rest = rest.partition(QWEN_OPEN)
        text.append(before)
        body, closed, after = rest.partition(QWEN_CLOSE)
        call = _call(_json_at(body.strip()), len(calls))
        if call is None:  # Not a call after all: keep it as text.
            text.append(QWEN_OPEN + body + (QWEN_CLOSE if closed else ""))
        else:
            calls.append(call)
        rest = after
    text.append(rest)
    return Parsed("".join(text).strip() if calls else output, calls)


def _mistral(output: str) -> Parsed:
    before, _, rest = output.partition(MISTRAL)
    calls: list[ToolCall] = []
    value = _json_at(rest.strip())
    if isinstance(value, list):  # The older form: one JSON list of calls.
        calls = [call for index, item in enumerate(value) if (call := _call(item, index))]
    else:  # v11+: name[ARGS]{...} (or name[CALL_ID]id[ARGS]{...}) after each [TOOL_CALLS].
        for index, chunk in enumerate(output.split(MISTRAL)[1:]):
            found = re.match(r"\s*([\w.-]+)\s*(?:\[CALL_ID\]\s*([\w-]+)\s*)?\[ARGS\]\s*", chunk)
            if not found:
                continue
            arguments = _json_at(chunk[found.end() :])
            if isinstance(arguments, dict):
                calls.append(ToolCall(found.group(2) or f"call_{index}", found.group(1), arguments))
    return Parsed(before.strip(), calls) if calls else Parsed(output, [])


def _llama(output: str) -> Parsed:
    body = output.strip()
    if body.startswith(PYTHON_TAG):
        body = body[len(PYTHON_TAG) :].strip()
    calls: list[ToolCall] = []
    for index, piece in enumerate(part for part in body.split(";") if part.strip()) if body.startswith("{") else ():
        call = _call(_json_at(piece.strip()), index)
        if call is None:
            return Parsed(output, [])
        calls.append(call)
    return Parsed("", calls) if calls else Parsed(output, [])


def _json_at(text: str) -> object:
    """The JSON value `text` starts with (what follows it is ignored), or None."""
    try:
        value, _ = _decoder.raw_decode(text)
    except json.JSONDecodeError:
        return None
    return value


def _call(value: object, index: int) -> ToolCall | None:
    """A call from {"name", "arguments"|"parameters", "id"?}; None if `value` is not one."""
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    if isinstance(arguments, str):
        arguments = _json_at(arguments)
    if not isinstance(arguments, dict):
        return None
    call_id = value.get("id")
    return ToolCall(call_id if isinstance(call_id, str) and call_id else f"call_{index}", value["name"], arguments)


@dataclass
class ToolCallScanner:
    """Streams an output's text while holding back what may be a tool call, so a call's JSON never
    shows as answer text; `finish` parses what was held."""

    _shown: list[str] = field(default_factory=list)
    _held: str = ""
    _holding: bool = False

    def feed(self, piece: str) -> str:
        """The part of `piece` that is surely answer text."""
        if self._holding:
            self._held += piece
            return ""
        text = self._held + piece
        starts = [text.find(marker) for marker in MARKERS if marker in text]
        if not self._shown and text.lstrip().startswith("{"):
            starts.append(0)  # Llama's bare JSON call: the whole answer is the call.
        if starts:
            cut = min(starts)
            self._holding, self._held = True, text[cut:]
            return self._emit(text[:cut])
        keep = max((_partial(text, marker) for marker in MARKERS), default=0)
        if not self._shown and not text.strip():
            keep = len(text)  # Leading blanks: wait to see whether a bare JSON call follows.
        self._held = text[len(text) - keep :] if keep else ""
        return self._emit(text[: len(text) - keep])

    def finish(self) -> Parsed:
        """The rest of the text (held text that was no call) and the calls."""
        held, self._held = self._held, ""
        parsed = parse_tool_calls(held) if self._holding else Parsed(held, [])
        return Parsed(parsed.text if parsed.calls else held, parsed.calls)

    def _emit(self, text: str) -> str:
        if text:
            self._shown.append(text)
        return text


def _partial(text: str, marker: str) -> int:
    """How many characters at the end of `text` could begin `marker`."""
    for size in range(min(len(marker) - 1, len(text)), 0, -1):
        if text.endswith(marker[:size]):
            return size
    return 0
