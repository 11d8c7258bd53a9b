"""Plain domain types shared by the store, the engines and the UI (no Textual here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

THINK_LEVELS = ("low", "medium", "high")
"""The thinking levels a model may offer; engines and config read them, so they live down here."""
THINK_SETTINGS = ("", "off", "on", *THINK_LEVELS)
"""Every thinking setting: "" is the model's default."""


class Role(StrEnum):
    """Who wrote a message. TOOL exists only in what engines are sent (a tool's result);
    the history keeps results as parts of the answer that called the tool."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"


class MessageStatus(StrEnum):
    """Life cycle of a stored message; only answers are ever anything but complete."""

    STREAMING = "streaming"
    COMPLETE = "complete"
    INTERRUPTED = "interrupted"
    ERROR = "error"


class PartKind(StrEnum):
    """What a part of a message holds, beside its answer text (kept in `ChatMessage.content`)."""

    REASONING = "reasoning"
    """What a thinking model thought before (or between) its answer's words."""
    TOOL_CALL = "tool_call"
    """A call the model asked for: data is a `tui.domain.parts.ToolCallData` in its stored form."""
    TOOL_RESULT = "tool_result"
    """What a tool answered (text); data is a `tui.domain.parts.ToolResultData` in its stored form."""
    ATTACHMENT = "attachment"
    """A file or image the user attached: data is a `tui.domain.parts.AttachmentData`; the bytes are a blob."""


@dataclass(frozen=True)
class MessagePart:
    """One part of a message other than its answer text.

    Parts are ordered by `seq`; `offset` is how many characters of the message's text came
    before the part, so reasoning, tool calls and text interleave as they arrived.
    """

    kind: PartKind
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    seq: int = 0
    offset: int = 0
    id: int | None = None
    """The stored part's id; None before it is stored."""


@dataclass(frozen=True)
class ToolCall:
    """A tool call as a model asked for it."""

    id: str
    name: str
    arguments: dict[str, Any]


@dataclass(frozen=True)
class Attachment:
    """A file or image sent with a user's message."""

    name: str
    mime: str
    data: bytes
    """The bytes as sent: an image already downscaled, a text file as read."""

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")

    @property
    def text(self) -> str:
        """A text file's content (invalid bytes replaced); "" for an image."""
        return "" if self.is_image else self.data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class ConversationSettings:
    """A conversation's own settings; None means the configured default (or the model's)."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    context_length: int | None = None
    """The context to fit into, when smaller than the model's."""
    seed: int | None = None
    stop: tuple[str, ...] | None = None
    """Stop strings; None: the configured ones, (): none at all."""
    think: str | None = None
    """Thinking: "off", "on" or a level; "" the model's default; None the configured default."""
    lora: str | None = None
    """A GGUF LoRA adapter's path for the embedded engine; None: the model's saved default."""
    preset: str | None = None
    """The preset the settings were taken from, as shown in the header."""
    tools: tuple[str, ...] | None = None
    """The MCP servers (or server.tool entries) the conversation has on; None: tools off."""
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Stored keys this version does not know (or could not read), kept so writing back loses nothing."""


@dataclass(frozen=True)
class Conversation:
    """One conversation as kept in the history."""

    id: int
    title: str
    model: str
    backend: str
    system_prompt: str
    settings: ConversationSettings
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
    reasoning_tokens: int | None = None
    """Tokens the model spent thinking (an estimate where `reasoning_estimated`)."""
    reasoning_estimated: bool = False
    """The engine reported one total, so the reasoning/answer split was estimated."""
    reasoning_ttft_s: float | None = None
    """Seconds from the request to the first reasoning token (`ttft_s` is the first answer token)."""
    parts: tuple[MessagePart, ...] = ()
    """Reasoning, tool calls and results, attachments, in order (the answer text is `content`)."""

    @property
    def reasoning(self) -> str:
        """All the message's reasoning, in order."""
        return "".join(part.text for part in self.parts if part.kind is PartKind.REASONING)

    def parts_of(self, kind: PartKind) -> list[MessagePart]:
        return [part for part in self.parts if part.kind is kind]

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
    in_part: bool = False
    """The match is in the message's reasoning or a tool result, not its text."""


MATCH_START, MATCH_END = "\x02", "\x03"
"""Markers around matches in a SearchHit snippet (control characters never shown as text)."""


@dataclass(frozen=True)
class ChatTurn:
    """A message as an engine receives it."""

    role: Role
    content: str
    reasoning: str = ""
    """An assistant turn's reasoning; sent back only within a turn that called tools."""
    tool_calls: tuple[ToolCall, ...] = ()
    """The calls an assistant turn asked for."""
    tool_call_id: str = ""
    """For a TOOL turn: the call it answers."""
    tool_name: str = ""
    """For a TOOL turn: the tool that answered."""
    attachments: tuple[Attachment, ...] = ()
    """Files and images sent with a user turn."""


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
    think: str | None = None
    """Thinking: None for the model's default, "off", "on", or a level ("low", "medium", "high")."""
    tools: tuple[ToolSpec, ...] = ()
    """Tools the model may call this turn."""


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to the model: its name, what it does, and a JSON Schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any]

    def as_openai(self) -> dict[str, Any]:
        """The `tools` entry Ollama and OpenAI-compatible servers (and chat templates) take."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


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


def text_block(attachment: Attachment) -> str:
    """A text file as the model reads it: delimited and named."""
    body = attachment.text
    newline = "" if body.endswith("\n") else "\n"
    return f'<file name="{attachment.name}">\n{body}{newline}</file>'


def turn_text(turn: ChatTurn) -> str:
    """A turn's text with its text files in front of it, each delimited and named (every engine sends this)."""
    blocks = [text_block(a) for a in turn.attachments if not a.is_image]
    return "\n\n".join([*blocks, turn.content]) if blocks else turn.content


def turn_images(turn: ChatTurn) -> list[Attachment]:
    return [attachment for attachment in turn.attachments if attachment.is_image]
