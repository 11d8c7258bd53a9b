"""The engine contract: one async shape for every backend, and one family of errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from tui.domain import ChatTurn, GenerationOptions, ModelInfo, ToolCall


@dataclass(frozen=True)
class TextPiece:
    """A piece of the answer, in order; pieces concatenate to the answer."""

    text: str


@dataclass(frozen=True)
class ReasoningPiece:
    """A piece of the model's reasoning; never part of the answer text."""

    text: str


@dataclass(frozen=True)
class ToolCallRequest:
    """The model asks for a tool call, complete (arguments parsed). The answer's round ends
    with its `Finished`; the caller runs the calls and asks again with the results."""

    call: ToolCall


@dataclass(frozen=True)
class Finished:
    """The last event of an answer: token counts and timings."""

    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None
    """Seconds from the request to the first piece."""
    gen_s: float
    """Seconds from the first piece to the last."""
    stop_reason: str = "stop"
    """"stop" (end of turn), "length" (max tokens) or another engine word."""
    cached_tokens: int = 0
    """Prompt tokens taken from the KV cache instead of evaluated."""
    prompt_s: float | None = None
    """Seconds the engine spent evaluating the prompt, where it reports it."""
    load_s: float | None = None
    """Seconds the engine spent loading the model for this answer, where it reports it."""
    reasoning_tokens: int | None = None
    """Of `completion_tokens`, how many were reasoning, where known or estimated."""
    reasoning_estimated: bool = False
    """`reasoning_tokens` is an estimate (the engine reported one total)."""
    reasoning_ttft_s: float | None = None
    """Seconds from the request to the first reasoning piece (`ttft_s`: the first answer piece)."""
    notice: str = ""
    """Something the user should be told about this answer, e.g. that the model ignored the think setting."""

    @property
    def tokens_per_s(self) -> float | None:
        return self.completion_tokens / self.gen_s if self.gen_s > 0 else None


ChatEvent = TextPiece | ReasoningPiece | ToolCallRequest | Finished


class EngineError(Exception):
    """An engine failure; str() is a message a user can read."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached or started."""


class ModelNotFound(EngineError):
    """The named model does not exist for this engine."""


class ModelLoadError(EngineError):
    """The model exists but cannot be loaded (not a usable GGUF, too big...)."""


class EngineCrashed(EngineError):
    """The engine died in the middle of its work (a signal, an abort, OOM)."""


class BadRequest(EngineError):
    """The engine refused the request (prompt too long, bad option...)."""


class Engine(Protocol):
    """What every backend provides.

    `chat` returns an async iterator of `TextPiece` events followed by exactly one
    `Finished`. Cancelling the consuming task cancels generation. Failures raise
    `EngineError` subclasses, never library exceptions. An engine that loads models with less
    context than they were trained for says so in an optional `context_cap` attribute; one that
    talks to a server has `url` and `local` (whether that server is on this machine).
    """

    name: str

    async def list_models(self) -> list[ModelInfo]: ...

    def chat(
        self, model: str, messages: Sequence[ChatTurn], options: GenerationOptions
    ) -> AsyncIterator[ChatEvent]: ...

    async def aclose(self) -> None: ...
