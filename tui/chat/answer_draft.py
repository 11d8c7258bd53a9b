"""An answer being written: its text and parts as they arrive, and saving them as they grow."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from tui.domain import ChatMessage, MessagePart, PartKind
from tui.domain.parts import ToolCallData, ToolResultData, tool_call_part, tool_result_part
from tui.store import HistoryStore, StoreError

logger = logging.getLogger(__name__)


class AnswerDraft:
    """Collects an answer's text, reasoning and other parts in arrival order.

    New parts are written at once (a tool call must be on disk before it runs); text and
    reasoning grow in memory and reach the disk at each `save`. A part whose first write
    failed (disk full) keeps no id and is inserted by the next save or the final one.
    It is the tool loop's `ToolSink`: calls and results come in typed, never as dicts.
    """

    def __init__(self, store: HistoryStore, message: ChatMessage) -> None:
        self.store = store
        self.message = message
        self.started = time.perf_counter()
        """When the request was sent, for figures the engine does not report."""
        self.first_reasoning_s: float | None = None
        self.first_text_s: float | None = None
        self._text: list[str] = []
        self._length = 0
        self._parts: list[MessagePart] = []
        self._reasoning: list[str] | None = None
        """The reasoning part being written (the last of `_parts`), or None."""
        self._reasoning_chars = 0
        self._dirty: set[int] = set()
        """Indexes of stored parts whose text grew since the last save."""

    @property
    def text(self) -> str:
        return "".join(self._text)

    @property
    def parts(self) -> list[MessagePart]:
        """Every part so far, the one being written with its text so far."""
        if self._reasoning is None:
            return list(self._parts)
        return [*self._parts[:-1], replace(self._parts[-1], text="".join(self._reasoning))]

    @property
    def reasoning_chars(self) -> int:
        return self._reasoning_chars

    def add_text(self, piece: str) -> None:
        if self.first_text_s is None:
            self.first_text_s = time.perf_counter() - self.started
        self._close_reasoning()
        self._text.append(piece)
        self._length += len(piece)

    def add_reasoning(self, piece: str) -> None:
        if self.first_reasoning_s is None:
            self.first_reasoning_s = time.perf_counter() - self.started
        if self._reasoning is None:
            self._add_part(MessagePart(PartKind.REASONING, offset=self._length))
            self._reasoning = []
        self._reasoning.append(piece)
        self._reasoning_chars += len(piece)
        self._dirty.add(len(self._parts) - 1)

    def _add_part(self, part: MessagePart) -> MessagePart:
        """Store a new part now (placed after the text so far) and return it."""
        self._close_reasoning()
        part = replace(part, offset=self._length, seq=len(self._parts))
        try:
            part = self.store.add_part(self.message.id, part)
        except StoreError as error:
            logger.warning("could not save a part of answer %s yet: %s", self.message.id, error)
        self._parts.append(part)
        return part

    def call_started(self, call: ToolCallData, *, offset: int) -> MessagePart:
        """Store a tool call now, before it runs (`offset` is ignored: it goes after the text so far)."""
        return self._add_part(tool_call_part(call))

    def call_changed(self, handle: MessagePart, call: ToolCallData) -> MessagePart:
        """Save a stored tool call's new state or approval now."""
        return self._update_part(handle, data=call.to_json())

    def result(self, result: ToolResultData, text: str, *, offset: int) -> MessagePart:
        """Store a tool's result now."""
        return self._add_part(tool_result_part(result, text))

    def _update_part(self, part: MessagePart, *, data: dict[str, Any]) -> MessagePart:
        """Change a stored part's data and save it now."""
        index = next(i for i, known in enumerate(self._parts) if known is part or (known.id and known.id == part.id))
        updated = replace(self._parts[index], data=data)
        self._parts[index] = updated
        if updated.id is not None:
            try:
                self.store.update_part(updated.id, data=data)
            except StoreError as error:
                logger.warning("could not save a part of answer %s yet: %s", self.message.id, error)
        return updated

    def save(self) -> None:
        """Commit the text and parts so far; a failure (disk full) is retried at the next save."""
        parts = self.parts
        changed = [parts[index] for index in sorted(self._dirty)] + [p for p in parts if p.id is None]
        try:
            self.store.update_message_content(self.message.id, self.text, parts=changed)
        except StoreError as error:
            logger.warning("could not save answer %s so far: %s", self.message.id, error)
            return
        self._dirty.clear()
        if any(part.id is None for part in self._parts):  # Inserted just now: learn their ids.
            stored = self.store.get_message(self.message.id)
            if stored is not None and len(stored.parts) == len(self._parts):
                self._parts = [replace(mine, id=kept.id) for mine, kept in zip(self._parts, stored.parts)]

    def _close_reasoning(self) -> None:
        if self._reasoning is not None:
            self._parts[-1] = replace(self._parts[-1], text="".join(self._reasoning))
            self._reasoning = None
