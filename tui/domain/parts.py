"""What a tool call, a tool result and an attachment part hold, typed, and their stored JSON form.

`MessagePart.data` keeps the JSON form the history has always stored (so old histories, exports
and partial data read as before); these classes are how lchat's code writes and reads it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from tui.domain import MessagePart, PartKind, ToolCall


@dataclass(frozen=True)
class ToolCallData:
    """A call the model asked for, as stored: which tool, with what, and how far it got."""

    id: str
    name: str
    """The name the model used."""
    tool: str = ""
    """The tool's own name on its server ("" in data stored without it)."""
    server: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)
    approval: str = ""
    """Who approved it (an `Approval` value), or "" while undecided."""
    state: str = ""
    """Where it is in its life (a `CallState` value)."""
    round: int | None = None
    """Which round of the answer asked for it; None in histories written before rounds were kept."""

    def changed(self, **changes: Any) -> ToolCallData:
        return replace(self, **changes)

    def as_call(self) -> ToolCall:
        """The call as sent back to the model."""
        return ToolCall(self.id, self.name, dict(self.arguments))

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "tool": self.tool,
            "server": self.server,
            "arguments": self.arguments,
            "approval": self.approval,
            "state": self.state,
            "round": self.round,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolCallData:
        arguments = data.get("arguments")
        round_ = data.get("round")
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            tool=str(data.get("tool") or ""),
            server=str(data.get("server") or ""),
            arguments=dict(arguments) if isinstance(arguments, dict) else {},
            approval=str(data.get("approval") or ""),
            state=str(data.get("state") or ""),
            round=round_ if isinstance(round_, int) else None,
        )


@dataclass(frozen=True)
class ToolResultData:
    """What a tool answered, beside its text (kept in the part's text)."""

    id: str
    """The id of the call it answers."""
    name: str
    is_error: bool = False
    cut_from: int | None = None
    """The result's size in bytes before it was cut; None when it was not cut."""

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "is_error": self.is_error, "cut_from": self.cut_from}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ToolResultData:
        cut_from = data.get("cut_from")
        return cls(
            id=str(data.get("id", "")),
            name=str(data.get("name", "")),
            is_error=bool(data.get("is_error")),
            cut_from=cut_from if isinstance(cut_from, int) else None,
        )


@dataclass(frozen=True)
class AttachmentData:
    """A file or image the user attached; its bytes are a blob named by `sha256`."""

    name: str
    mime: str
    size: int
    sha256: str = ""
    """Set by the store when it keeps the bytes; "" before."""

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "mime": self.mime, "size": self.size}
        if self.sha256:
            data["sha256"] = self.sha256
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AttachmentData:
        size = data.get("size")
        return cls(
            name=str(data.get("name", "")),
            mime=str(data.get("mime", "")),
            size=size if isinstance(size, int) else 0,
            sha256=str(data.get("sha256", "")),
        )


def tool_call_of(part: MessagePart) -> ToolCallData:
    """A TOOL_CALL part's data, typed."""
    return ToolCallData.from_json(part.data)


def tool_result_of(part: MessagePart) -> ToolResultData:
    """A TOOL_RESULT part's data, typed."""
    return ToolResultData.from_json(part.data)


def attachment_of(part: MessagePart) -> AttachmentData:
    """An ATTACHMENT part's data, typed."""
    return AttachmentData.from_json(part.data)


def call_id_of(part: MessagePart) -> str:
    """The id of the call a TOOL_CALL part is, or a TOOL_RESULT part answers."""
    return (tool_result_of(part) if part.kind is PartKind.TOOL_RESULT else tool_call_of(part)).id


def tool_call_part(call: ToolCallData, *, offset: int = 0) -> MessagePart:
    return MessagePart(PartKind.TOOL_CALL, data=call.to_json(), offset=offset)


def tool_result_part(result: ToolResultData, text: str, *, offset: int = 0) -> MessagePart:
    return MessagePart(PartKind.TOOL_RESULT, text=text, data=result.to_json(), offset=offset)


def attachment_part_of(attachment: AttachmentData) -> MessagePart:
    return MessagePart(PartKind.ATTACHMENT, data=attachment.to_json())
