"""Columns the store selects and how rows become domain objects."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from tui.domain import ChatMessage, Conversation, MessagePart, MessageStatus, PartKind, Role
from tui.store.codec import settings_from_json

CONVERSATION_COLUMNS = "id, title, model, backend, system_prompt, params, created_at, updated_at, pinned, archived"
MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, status, model, backend, error, "
    "prompt_tokens, completion_tokens, ttft_s, gen_s, energy_wh, created_at, updated_at, parent_id, "
    "reasoning_tokens, reasoning_estimated, reasoning_ttft_s"
)
PART_COLUMNS = "id, message_id, seq, kind, text, data, text_offset"


def conversation(row: sqlite3.Row) -> Conversation:
    # Selected columns are named exactly like the dataclass fields, but for `params` (the settings).
    fields = {key: row[key] for key in row.keys() if key != "params"}
    return Conversation(
        **{
            **fields,
            "settings": settings_from_json(decode_params(row["params"])),
            "pinned": bool(row["pinned"]),
            "archived": bool(row["archived"]),
        }
    )


def decode_params(text: str) -> dict[str, Any]:
    # A hand-edited or damaged value should cost the settings, not the conversation.
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def message(row: sqlite3.Row) -> ChatMessage:
    return ChatMessage(
        **{
            **dict(row),
            "role": Role(row["role"]),
            "status": MessageStatus(row["status"]),
            "reasoning_estimated": bool(row["reasoning_estimated"]),
        }
    )


def part(row: sqlite3.Row) -> MessagePart:
    return MessagePart(
        kind=PartKind(row["kind"]),
        text=row["text"],
        data=decode_params(row["data"]),
        seq=row["seq"],
        offset=row["text_offset"],
        id=row["id"],
    )
