"""A tool's answer as text the model can read: content blocks mapped, size capped, controls visible."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tui.guard.safe_text import terminal_safe

if TYPE_CHECKING:
    from mcp import types


@dataclass(frozen=True)
class ToolResult:
    """What a tool call gave back, ready for the model and the history."""

    text: str
    is_error: bool = False
    """The tool reported a failure (MCP `isError`), or the call failed (time limit, dead server)."""
    cut_from: int | None = None
    """The result's size in bytes before it was cut to the cap; None when it was not cut."""


def result_text(result: types.CallToolResult, max_bytes: int) -> ToolResult:
    """The result's content blocks as one text, cut to `max_bytes` of UTF-8."""
    pieces = [block_text(block) for block in result.content]
    if not pieces and result.structured_content is not None:
        pieces.append(json.dumps(result.structured_content, ensure_ascii=False))
    return capped("\n".join(pieces), max_bytes, is_error=result.is_error)


def capped(text: str, max_bytes: int, *, is_error: bool = False) -> ToolResult:
    """`text` made terminal-safe and cut at a character boundary to at most `max_bytes` bytes."""
    text = terminal_safe(text)
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return ToolResult(text, is_error)
    kept = encoded[:max_bytes].decode("utf-8", errors="ignore")
    note = f"\n[result cut to {max_bytes // 1024} KB of {len(encoded) // 1024} KB]"
    return ToolResult(kept + note, is_error, cut_from=len(encoded))


def block_text(block: Any) -> str:
    """One content block as text: text as is, images, audio and binary resources described."""
    from mcp import types

    if isinstance(block, types.TextContent):
        return block.text
    if isinstance(block, types.ImageContent | types.AudioContent):
        kind = "image" if isinstance(block, types.ImageContent) else "audio"
        return f"[{kind}: {block.mime_type}, {_decoded_size(block.data)} bytes]"
    if isinstance(block, types.EmbeddedResource):
        resource = block.resource
        if isinstance(resource, types.TextResourceContents):
            return resource.text
        mime = resource.mime_type or "binary"
        return f"[resource {resource.uri}: {mime}, {_decoded_size(resource.blob)} bytes]"
    if isinstance(block, types.ResourceLink):
        return f"[resource link: {block.name} {block.uri}]"
    return f"[{getattr(block, 'type', type(block).__name__)} content]"


def _decoded_size(data: str) -> int:
    try:
        return len(base64.b64decode(data, validate=False))
    except (binascii.Error, ValueError):
        return len(data)
