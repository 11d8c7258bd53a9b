"""Splits a model's raw output into reasoning and answer, by the markers its chat template uses.

Pure and streaming: text arrives in pieces cut anywhere (a marker may span pieces), and what
comes out is `ReasoningPiece`s and `TextPiece`s whose answer text never holds the reasoning.
Two formats: `<think>`...`</think>` tags (Qwen3, DeepSeek-R1, and `<think>` inside an
OpenAI-compatible server's content), and gpt-oss's harmony channels.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from tui.domain import THINK_LEVELS as LEVELS
from tui.engines.base import ReasoningPiece, TextPiece

Piece = ReasoningPiece | TextPiece

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
HARMONY_MARKERS = ("<|channel|>", "<|message|>", "<|start|>", "<|end|>", "<|return|>", "<|call|>", "<|constrain|>")
"""gpt-oss's harmony special tokens: the child must decode these to text for the splitter."""
LONGEST_HEADER = 80
"""Most characters a harmony header (`<|start|>assistant<|channel|>final<|message|>`) is waited for."""


class Splitter(Protocol):
    """What every format's splitter does."""

    markers: tuple[str, ...]
    """The markers it splits on (special tokens among them must be decoded for it)."""

    @property
    def reasoning(self) -> bool:
        """Whether the text now arriving is reasoning."""

    @property
    def saw_reasoning(self) -> bool:
        """Whether any reasoning text came out."""

    def feed(self, text: str) -> list[Piece]: ...

    def flush(self) -> list[Piece]: ...


class _Output:
    """Turns text of known kind into pieces: each part's leading blank lines and the
    reasoning's trailing ones are dropped (templates put newlines around the markers)."""

    def __init__(self, reasoning: bool) -> None:
        self.reasoning = reasoning
        self.saw_reasoning = False
        self._fresh = reasoning
        self._held_space = ""

    def switch(self, reasoning: bool) -> None:
        """A marker: what follows is reasoning (or answer); held space at the end of reasoning goes."""
        if reasoning != self.reasoning:
            self._held_space = ""
        self.reasoning = reasoning
        self._fresh = True

    def emit(self, text: str, out: list[Piece]) -> None:
        if self._fresh:
            text = text.lstrip()
            if not text:
                return
            self._fresh = False
        if not self.reasoning:
            if text:
                out.append(TextPiece(text))
            return
        body = text.rstrip()
        if body:
            out.append(ReasoningPiece(self._held_space + body))
            self.saw_reasoning = True
            self._held_space = text[len(body) :]
        else:
            self._held_space += text


def _partial_tail(text: str, markers: tuple[str, ...]) -> int:
    """Length of the longest end of `text` that is the beginning of a marker."""
    best = 0
    for marker in markers:
        for n in range(min(len(text), len(marker) - 1), best, -1):
            if text.endswith(marker[:n]):
                best = n
                break
    return best


class ThinkSplitter:
    """`<think>`...`</think>` anywhere in the output; `inside` when the prompt opened the block.

    A stray `</think>` in the answer or a repeated `<think>` in the reasoning is dropped.
    """

    def __init__(self, *, inside: bool = False, opener: str = THINK_OPEN, closer: str = THINK_CLOSE) -> None:
        self._out = _Output(inside)
        self.markers: tuple[str, ...] = (opener, closer)
        self._buffer = ""

    @property
    def reasoning(self) -> bool:
        return self._out.reasoning

    @property
    def saw_reasoning(self) -> bool:
        return self._out.saw_reasoning

    def feed(self, text: str) -> list[Piece]:
        out: list[Piece] = []
        self._buffer += text
        opener = self.markers[0]
        while True:
            found = [(at, marker) for marker in self.markers if (at := self._buffer.find(marker)) >= 0]
            if not found:
                break
            at, marker = min(found)
            self._out.emit(self._buffer[:at], out)
            self._buffer = self._buffer[at + len(marker) :]
            self._out.switch(marker == opener)
        keep = _partial_tail(self._buffer, self.markers)
        self._out.emit(self._buffer[: len(self._buffer) - keep], out)
        self._buffer = self._buffer[len(self._buffer) - keep :]
        return out

    def flush(self) -> list[Piece]:
        out: list[Piece] = []
        self._out.emit(self._buffer, out)
        self._buffer = ""
        return out


class HarmonySplitter:
    """gpt-oss's channels: `<|channel|>analysis<|message|>` starts reasoning, any other channel
    (final, commentary) answer text; `<|start|>role`, `<|end|>`, `<|return|>` are dropped."""

    markers: tuple[str, ...] = HARMONY_MARKERS

    def __init__(self) -> None:
        self._out = _Output(False)
        self._buffer = ""

    @property
    def reasoning(self) -> bool:
        return self._out.reasoning

    @property
    def saw_reasoning(self) -> bool:
        return self._out.saw_reasoning

    def feed(self, text: str) -> list[Piece]:
        out: list[Piece] = []
        self._buffer += text
        while True:
            at = self._buffer.find("<|")
            if at < 0:
                keep = 1 if self._buffer.endswith("<") else 0
                self._out.emit(self._buffer[: len(self._buffer) - keep], out)
                self._buffer = self._buffer[len(self._buffer) - keep :]
                return out
            self._out.emit(self._buffer[:at], out)
            self._buffer = self._buffer[at:]
            used = self._marker()
            if used is None and len(self._buffer) <= LONGEST_HEADER:
                return out  # Not complete yet: wait for the rest.
            if used is None or used < 0:  # No marker after all: plain text.
                used = 2
                self._out.emit("<|", out)
            self._buffer = self._buffer[used:]

    def _marker(self) -> int | None:
        """Characters of the complete marker (or header) that starts the buffer, acted on; None
        while it is incomplete, -1 when the buffer starts with no marker."""
        buffer = self._buffer
        end = buffer.find("|>", 2)
        if end < 0:
            return None
        token = buffer[: end + 2]
        if token not in HARMONY_MARKERS:
            return -1
        if token == "<|channel|>":
            body = buffer.find("<|message|>", end)
            if body < 0:
                return None
            channel = buffer[end + 2 : body].strip()
            self._out.switch(channel.startswith("analysis"))
            return body + len("<|message|>")
        if token == "<|start|>":  # The role name follows, up to the next marker.
            rest = buffer.find("<|", end)
            return rest if rest >= 0 else None
        return len(token)

    def flush(self) -> list[Piece]:
        out: list[Piece] = []
        self._out.emit(self._buffer, out)
        self._buffer = ""
        return out


def splitter_for_template(template: str, prompt: str) -> Splitter | None:
    """The splitter a chat template's output needs, given the prompt it rendered; None when
    the template knows no reasoning markers."""
    if "<|channel|>" in template:
        return HarmonySplitter()
    if THINK_CLOSE in template or THINK_OPEN in template:
        return ThinkSplitter(inside=prompt_opens_think(prompt))
    return None


def template_thinking(template: str) -> dict[str, Any]:
    """What a chat template says of thinking, as ModelInfo.extra holds it (tui.chat.thinking):
    gpt-oss's levels (its `reasoning_effort`); `<think>` templates think (on and off, honoured
    where the template reads `enable_thinking`); a template with no markers cannot."""
    if "<|channel|>" in template:
        return {"thinking": True, "think_levels": list(LEVELS)}
    if THINK_CLOSE in template or THINK_OPEN in template:
        return {"thinking": True}
    return {"thinking": False}


def prompt_opens_think(prompt: str) -> bool:
    """Whether the rendered prompt leaves a `<think>` block open for the model to continue."""
    return prompt.rfind(THINK_OPEN) > prompt.rfind(THINK_CLOSE)


def ignored_think(think: str | None, *, thought: bool) -> str:
    """What to tell the user when the model did not follow the think setting, else ""."""
    if think == "off" and thought:
        return "the model thought although thinking was set off"
    return ""


class Tally:
    """What a stream of pieces says for its `Finished`: when the first of each kind came, and
    how many characters of each, to estimate the reasoning's share of one token total."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.first_answer: float | None = None
        self.first_reasoning: float | None = None
        self.pieces = 0
        self.chars = [0, 0]
        """Characters of reasoning, of answer."""

    def note(self, piece: Piece) -> Piece:
        now = time.monotonic()
        if isinstance(piece, ReasoningPiece):
            self.first_reasoning = self.first_reasoning or now
            self.chars[0] += len(piece.text)
        else:
            self.first_answer = self.first_answer or now
            self.chars[1] += len(piece.text)
        self.pieces += 1
        return piece

    @property
    def first(self) -> float | None:
        """When the first piece of either kind came."""
        return min((t for t in (self.first_answer, self.first_reasoning) if t), default=None)

    @property
    def ttft_s(self) -> float | None:
        return self.first_answer - self.started if self.first_answer else None

    @property
    def reasoning_ttft_s(self) -> float | None:
        return self.first_reasoning - self.started if self.first_reasoning else None

    @property
    def thought(self) -> bool:
        return self.chars[0] > 0

    def estimated_reasoning_tokens(self, total: int) -> int | None:
        """The reasoning's share of `total` tokens, by characters; None when there was no reasoning."""
        if not self.chars[0]:
            return None
        return round(total * self.chars[0] / sum(self.chars))
