"""Conversations as files: JSON that imports back, and Markdown to read or share.

A document holds one conversation and the messages of its current path (the branches the
user left aside are not exported). `lchat export --all` writes JSON Lines, one document a line.
"""

from __future__ import annotations

import base64
import binascii
import html
import io
import json
import os
import re
import time
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from tui import __version__
from tui.chat.part_order import in_order
from tui.config.paths import make_private_dir, open_private
from tui.domain import ChatMessage, Conversation, MessagePart, MessageStatus, PartKind, Role
from tui.domain.parts import attachment_of
from tui.guard.bounded_files import TooLarge, Unreadable, open_regular, shown_path
from tui.store import HistoryStore
from tui.store.codec import settings_from_json, settings_to_json

FORMAT = "lchat.conversation"
VERSION = 2
"""2 added message parts (reasoning, tool calls and results, attachments) and the blobs."""
_CONVERSATION_FIELDS = (
    "title",
    "model",
    "backend",
    "system_prompt",
    "params",
    "created_at",
    "updated_at",
    "pinned",
    "archived",
)
_MESSAGE_FIELDS = (
    "role",
    "content",
    "status",
    "model",
    "backend",
    "error",
    "prompt_tokens",
    "completion_tokens",
    "ttft_s",
    "gen_s",
    "energy_wh",
    "reasoning_tokens",
    "reasoning_estimated",
    "reasoning_ttft_s",
    "created_at",
    "updated_at",
)
_NUMBERS = (
    "prompt_tokens",
    "completion_tokens",
    "ttft_s",
    "gen_s",
    "energy_wh",
    "reasoning_tokens",
    "reasoning_ttft_s",
)


IMPORT_MAX_BYTES = 64_000_000
"""Largest JSON document imported (a file, or one line of JSON Lines): room for a conversation
with a few large attachments, while a bigger one is refused before it is read."""
MESSAGE_MAX_CHARS = 16_000_000
"""Longest message (its text, or one part's) imported; lchat's own answers stay far below."""
MAX_ITEMS = 2_000_000
"""Most objects, lists and entries in one document: a long conversation has tens of thousands."""
MAX_NESTING = 64
"""Deepest nesting of brackets imported; an export is about 8 deep (a tool call's arguments add some)."""


class ImportFailed(ValueError):
    """A file that is not an lchat conversation export; str() says where and why."""


def document(store: HistoryStore, conversation_id: int) -> dict[str, Any]:
    """The export document of one conversation (its current path)."""
    conversation = store.get_conversation(conversation_id)
    if conversation is None:
        raise LookupError(f"There is no conversation {conversation_id}.")
    messages = store.list_messages(conversation_id)
    # The settings as the history stores them, so exports read the same as before they had a type.
    record = asdict(conversation) | {"params": settings_to_json(conversation.settings)}
    blobs: dict[str, str] = {}
    for message in messages:
        for part in message.parts_of(PartKind.ATTACHMENT):
            sha256 = attachment_of(part).sha256
            data = store.get_blob(sha256) if sha256 and sha256 not in blobs else None
            if data is not None:
                blobs[sha256] = base64.b64encode(data).decode("ascii")
    return {
        "format": FORMAT,
        "version": VERSION,
        "exported_by": f"lchat {__version__}",
        "conversation": {key: record[key] for key in _CONVERSATION_FIELDS},
        "messages": [_message_record(message) for message in messages],
        "blobs": blobs,
    }


def _message_record(message: ChatMessage) -> dict[str, Any]:
    record = {key: _plain(getattr(message, key)) for key in _MESSAGE_FIELDS}
    record["reasoning"] = message.reasoning
    record["parts"] = [
        {"kind": str(part.kind), "text": part.text, "data": part.data, "offset": part.offset} for part in message.parts
    ]
    return record


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, (Role, MessageStatus)) else value


def to_json(doc: dict[str, Any], *, indent: int | None = 2) -> str:
    return json.dumps(doc, ensure_ascii=False, indent=indent)


def model_shown(name: str) -> str:
    """A model as people read it: an embedded model's file name without its folder or .gguf
    (the whole path stays in the JSON export), any other model's name as it is."""
    if not name.startswith("/"):
        return name
    file_name = name.rsplit("/", 1)[-1]
    return file_name[:-5] if file_name.lower().endswith(".gguf") else file_name


def _param_text(value: Any) -> str:
    """A parameter's value as text, never a Python repr: a list as its items with commas, a
    string quoted (JSON-style) only when it holds spaces, commas or control characters."""
    if isinstance(value, list):
        return ", ".join(_param_text(item) for item in value)
    if isinstance(value, str):
        plain = value and value.isprintable() and not any(c.isspace() or c in ',;"' for c in value)
        return value if plain else json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def to_markdown(doc: dict[str, Any]) -> str:
    """A readable transcript: a title, the settings, then each message under a heading."""
    conversation = doc["conversation"]
    lines = [f"# {conversation['title'] or 'Untitled conversation'}", ""]
    if conversation["model"]:
        lines.append(f"- Model: {model_shown(conversation['model'])} ({conversation['backend']})")
    lines.append(f"- Started: {_when(conversation['created_at'])}")
    params = "; ".join(f"{key} {_param_text(value)}" for key, value in conversation["params"].items())
    if params:
        lines.append(f"- Parameters: {params}")
    if conversation["system_prompt"]:
        lines += ["", "**System prompt**", "", *(f"> {line}" for line in conversation["system_prompt"].splitlines())]
    for message in doc["messages"]:
        who = "You" if message["role"] == "user" else message["role"].capitalize()
        details = [_when(message["created_at"])]
        if message["role"] == "assistant" and message["model"]:
            details.insert(0, model_shown(message["model"]))
        if message["status"] not in ("complete",):
            details.append(message["status"])
        lines += ["", f"## {who} · {' · '.join(details)}", ""]
        # Text and parts in the order they arrived: text written before a tool call stays above it.
        for piece in in_order(message["content"], message.get("parts", []), lambda part: int(part.get("offset", 0))):
            lines += [piece, ""] if isinstance(piece, str) else _part_markdown(piece)
        while lines and not lines[-1]:
            lines.pop()
        if message["error"]:
            lines += ["", f"> Error: {message['error']}"]
    return "\n".join(lines).rstrip() + "\n"


def _part_markdown(part: dict[str, Any]) -> list[str]:
    """Reasoning and a tool call or result as a folded `<details>` block, an attachment as a line."""
    kind, data = part["kind"], part.get("data", {})
    if kind == PartKind.ATTACHMENT:
        return [f"📎 {data.get('name', 'attachment')} ({data.get('mime', '')}, {data.get('size', '?')} bytes)", ""]
    summary = {
        PartKind.REASONING: "Reasoning",
        PartKind.TOOL_CALL: f"Tool call: {data.get('name', '')}",
        PartKind.TOOL_RESULT: f"Tool result: {data.get('name', '')}",
    }.get(kind, kind)
    body = part.get("text") or json.dumps(data.get("arguments", data), ensure_ascii=False, indent=2)
    return ["<details>", f"<summary>{html.escape(summary)}</summary>", "", body, "", "</details>", ""]


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def parse(doc: Any, where: str = "the file") -> tuple[Conversation, list[ChatMessage], dict[str, bytes]]:
    """The conversation and messages a document describes; ImportFailed says what is wrong."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ImportFailed(f'{where} is not an lchat conversation export (no "format": "{FORMAT}").')
    if not isinstance(doc.get("version"), int) or doc["version"] > VERSION:
        raise ImportFailed(f"{where} has export version {doc.get('version')!r}; this lchat reads {VERSION}.")
    _check_sizes(doc, where)
    try:
        record = doc["conversation"]
        now = time.time()
        conversation = Conversation(
            id=0,
            title=str(record.get("title", "")),
            model=str(record.get("model", "")),
            backend=str(record.get("backend", "")),
            system_prompt=str(record.get("system_prompt", "")),
            settings=settings_from_json(record.get("params") or {}),
            created_at=float(record.get("created_at", now)),
            updated_at=float(record.get("updated_at", now)),
            pinned=bool(record.get("pinned", False)),
            archived=bool(record.get("archived", False)),
        )
        messages = [_message(item, now) for item in doc["messages"]]
        blobs = {str(key): base64.b64decode(value, validate=True) for key, value in (doc.get("blobs") or {}).items()}
    except (KeyError, TypeError, ValueError, AttributeError, binascii.Error) as error:
        raise ImportFailed(f"{where} is damaged: {type(error).__name__}: {error}") from None
    return conversation, messages, blobs


def _check_sizes(doc: dict[str, Any], where: str) -> None:
    """Refuse a document whose messages are longer than lchat imports, saying which one."""
    messages = doc.get("messages")
    for number, item in enumerate(messages if isinstance(messages, list) else [], start=1):
        if not isinstance(item, dict):
            continue
        texts = [item.get("content")] + [p.get("text") for p in item.get("parts") or [] if isinstance(p, dict)]
        longest = max((len(text) for text in texts if isinstance(text, str)), default=0)
        if longest > MESSAGE_MAX_CHARS:
            raise ImportFailed(
                f"{where}: message {number} is {longest:,} characters long; "
                f"lchat imports messages of up to {MESSAGE_MAX_CHARS:,}"
            )


def _message(item: dict[str, Any], now: float) -> ChatMessage:
    if not isinstance(item.get("content"), str):
        raise ValueError("a message has no text")
    numbers = {key: item.get(key) for key in _NUMBERS}
    return ChatMessage(
        id=0,
        conversation_id=0,
        role=Role(item["role"]),
        content=item["content"],
        status=MessageStatus(item.get("status", "complete")),
        model=str(item.get("model", "")),
        backend=str(item.get("backend", "")),
        error=str(item.get("error", "")),
        **numbers,
        reasoning_estimated=bool(item.get("reasoning_estimated", False)),
        created_at=float(item.get("created_at", now)),
        updated_at=float(item.get("updated_at", now)),
        parts=_parts(item),
    )


def _parts(item: dict[str, Any]) -> tuple[MessagePart, ...]:
    """A message's parts; a version-1 file (or another tool) may give only `reasoning`."""
    if "parts" in item:
        return tuple(
            MessagePart(
                PartKind(part["kind"]),
                text=str(part.get("text", "")),
                data=dict(part.get("data") or {}),
                seq=seq,
                offset=int(part.get("offset", 0)),
            )
            for seq, part in enumerate(item["parts"])
        )
    reasoning = item.get("reasoning")
    return (MessagePart(PartKind.REASONING, text=reasoning),) if isinstance(reasoning, str) and reasoning else ()


def read_documents(path: Path) -> Iterator[tuple[str, Any]]:
    """Each document in a file, with where it was: one JSON document, a list, or JSON Lines.

    Only a regular file is read (never a FIFO or a device), without blocking; a document over
    IMPORT_MAX_BYTES, with more than MAX_ITEMS items or nested deeper than MAX_NESTING is refused,
    saying which limit it passed. Each line of JSON Lines is checked on its own.
    """
    try:
        handle = open_regular(path, what="conversation export")
    except Unreadable as refused:
        raise ImportFailed(str(refused)) from None
    with handle:
        if os.fstat(handle.fileno()).st_size > IMPORT_MAX_BYTES:  # Only JSON Lines can be that long.
            yield from _json_lines(path, handle)
            return
        data = handle.read(IMPORT_MAX_BYTES + 1)
        if len(data) > IMPORT_MAX_BYTES:  # It grew while being read.
            raise ImportFailed(str(TooLarge(shown_path(path), IMPORT_MAX_BYTES)))
        text = _decode(data, str(path))
        del data  # Parsing needs the text; the bytes would only double the peak.
    end = text.find("\n")  # JSON Lines when the first line is a document and more follows.
    if end != -1 and _NOT_SPACE.search(text, end) and _is_json(text[:end], f"{path}:1"):
        yield from _json_lines(path, io.BytesIO(text.encode("utf-8")))
        return
    try:
        whole = _loads(text, str(path))
    except json.JSONDecodeError as error:
        raise ImportFailed(f"{path}:{error.lineno}: not JSON ({error.msg})") from None
    del text
    for index, doc in enumerate(whole if isinstance(whole, list) else [whole]):
        yield (f"{path}[{index}]" if isinstance(whole, list) else str(path)), doc


def _is_json(line: str, where: str) -> bool:
    try:
        _loads(line, where)
    except json.JSONDecodeError:
        return False
    return True


def _json_lines(path: Path, lines: BinaryIO) -> Iterator[tuple[str, Any]]:
    """One document a line, each line read with a bound."""
    number = 0
    while line := lines.readline(IMPORT_MAX_BYTES + 1):
        number += 1
        where = f"{path}:{number}"
        if len(line) > IMPORT_MAX_BYTES:
            raise ImportFailed(f"{where}: the line is over {IMPORT_MAX_BYTES // 1_000_000} MB, the most lchat imports")
        if line.strip():
            try:
                yield where, _loads(_decode(line, where), where)
            except json.JSONDecodeError as error:
                raise ImportFailed(f"{where}: not JSON ({error.msg})") from None


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ImportFailed(f"{where} is not UTF-8 text (byte {error.start:,})") from None


_NOT_SPACE = re.compile(r"\S")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def _loads(text: str, where: str) -> Any:
    """json.loads, with more than MAX_ITEMS items, or nesting deeper than MAX_NESTING, refused
    instead of built (`[[],[],...]` grows twentyfold in memory) or recursed into."""
    structure = _STRING.sub("", text)  # Commas and brackets inside strings are text, not items.
    items = structure.count(",") + structure.count("[") + structure.count("{")
    del structure
    if items > MAX_ITEMS:
        raise ImportFailed(
            f"{where} holds more than {MAX_ITEMS:,} items (objects, lists and their entries), the most lchat "
            "imports as one document; export conversations as JSON Lines (one a line) instead"
        )
    try:
        value = json.loads(text)
        if not _deeper_than(value, MAX_NESTING):
            return value
    except RecursionError:  # The C parser recurses once per bracket: ~1,000 deep ends here.
        pass
    raise ImportFailed(f"{where} is nested deeper than {MAX_NESTING} levels, the most lchat imports")


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` deep (walked without recursion)."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


def import_file(store: HistoryStore, path: Path) -> list[Conversation]:
    """Import every conversation in a file; all are checked before any is kept."""
    return import_files(store, [path])


def import_files(store: HistoryStore, paths: list[Path]) -> list[Conversation]:
    """Import every conversation in every file in one transaction: a bad document anywhere (the
    last file's, say) raises ImportFailed and nothing at all is kept. One document is in memory
    at a time."""
    return store.import_conversations(parse(doc, where) for path in paths for where, doc in read_documents(path))


def write_all(store: HistoryStore, out: TextIO, *, markdown: bool) -> int:
    """Every conversation, oldest first: JSON Lines, or Markdown separated by rules."""
    count = 0
    for conversation_id in store.conversation_ids():
        doc = document(store, conversation_id)
        if markdown:
            out.write(("\n---\n\n" if count else "") + to_markdown(doc))
        else:
            out.write(to_json(doc, indent=None) + "\n")
        count += 1
    return count


def file_stem(conversation: Conversation) -> str:
    """A file name for a conversation's export: its id and a tidy piece of its title."""
    words = "".join(c if c.isalnum() else "-" for c in conversation.title.lower()).split("-")
    slug = "-".join(word for word in words if word)[:40].strip("-") or "conversation"
    return f"{conversation.id}-{slug}"


def export_files(store: HistoryStore, conversation_id: int, folder: Path) -> list[Path]:
    """Write a conversation as Markdown and JSON into ``folder``; the two paths."""
    conversation = store.get_conversation(conversation_id)
    if conversation is None:
        raise LookupError(f"There is no conversation {conversation_id}.")
    doc = document(store, conversation_id)
    make_private_dir(folder)
    written = []
    for suffix, text in ((".md", to_markdown(doc)), (".json", to_json(doc) + "\n")):
        path = folder / f"{file_stem(conversation)}{suffix}"
        with open_private(path) as out:
            out.write(text)
        written.append(path)
    return written
