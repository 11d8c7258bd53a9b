"""Plain domain types shared by the store, the engines and the UI (no Textual here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    """Who wrote a message."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"


class MessageStatus(StrEnum):
    """Life cycle of a stored message; only answers are ever anything but complete."""

    STREAMING = "streaming"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    ERROR = "error"


@dataclass(frozen=True)
class Conversation:
    """One conversation as kept in the history."""

    id: int
    title: str
    model: str
    backend: str
    system_prompt: str
    params: dict[str, Any]
    created_at: float
    updated_at: float
    pinned: bool = False
    """Listed above the others."""
    archived: bool = False
    """Kept, but listed only in the archive view."""


@dataclass(frozen=True)
class ChatMessage:
    """One message of a conversation, with the figures of the answer that produced it."""

    id: int
    conversation_id: int
    role: Role
    content: str
    status: MessageStatus = MessageStatus.COMPLETE
    model: str = ""
    backend: str = ""
    error: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    ttft_s: float | None = None
    gen_s: float | None = None
    energy_wh: float | None = None
    """Energy the answer took, where power was readable while it was generated."""
    created_at: float = 0.0
    updated_at: float = 0.0
    parent_id: int | None = None
    """The message this one answers or follows; siblings (same parent) are branches."""

    @property
    def tokens_per_s(self) -> float | None:
        """Answer tokens per second of generation, when both figures are known."""
        if self.completion_tokens and self.gen_s:
            return self.completion_tokens / self.gen_s
        return None


@dataclass(frozen=True)
class SearchHit:
    """A message that matched a full-text search."""

    message_id: int
    conversation_id: int
    conversation_title: str
    role: Role
    snippet: str
    """The matching passage; each match sits between MATCH_START and MATCH_END."""
    created_at: float
    archived: bool = False


MATCH_START, MATCH_END = "\x02", "\x03"
"""Markers around matches in a SearchHit snippet (control characters never shown as text)."""


@dataclass(frozen=True)
class ChatTurn:
    """A message as an engine receives it."""

    role: Role
    content: str


@dataclass(frozen=True)
class GenerationOptions:
    """Sampling settings for one answer; None means the engine's default."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    lora: str | None = None
    """A GGUF LoRA adapter for the embedded engine: its path; "" for none; None for the model's saved default."""


@dataclass(frozen=True)
class ModelInfo:
    """A model an engine can run, with what is known of it without loading it."""

    name: str
    """Identifier passed back to the engine's chat()."""
    backend: str
    path: str | None = None
    size_bytes: int | None = None
    architecture: str = ""
    parameters: int | None = None
    quantization: str = ""
    context_length: int | None = None
    has_chat_template: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
