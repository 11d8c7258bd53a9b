"""What a message shows around its text: the header line (who, model, figures, state), the line
under a question naming its files, and the note on an answer cut for the screen."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from tui.chat.attachments import size_label
from tui.domain import ChatMessage, MessagePart, MessageStatus, PartKind, Role
from tui.domain.parts import attachment_of
from tui.guard.safe_text import one_line

SHOWN_CHARS = 64_000
"""An answer shows at most this much; the rest is saved, copied and exported, not drawn.
The final render parses and lays out the whole answer as Markdown widgets, so a runaway
megabyte answer would otherwise cost the UI tens of seconds."""
_STATUS_WORDS = {
    MessageStatus.STREAMING: "streaming…",
    MessageStatus.INTERRUPTED: "interrupted",
    MessageStatus.ERROR: "error",
}


def header_text(message: ChatMessage, *, with_backend: bool = False) -> Text:
    """The line above a message; built from Text so untrusted names are never markup.
    `with_backend`: name the model as backend/model (two backends serve that name)."""
    if message.role is Role.USER:
        return Text("You", style="bold")
    header = Text("Assistant", style="bold")
    if message.model:
        backend = f"{message.backend}/" if with_backend and message.backend else ""
        header.append(f" · {one_line(backend + model_label(message.model), 60)}", style="dim")
    if message.completion_tokens:
        prompt = f" (prompt {message.prompt_tokens})" if message.prompt_tokens is not None else ""
        header.append(f" · {message.completion_tokens} tok{prompt}", style="dim")
    if message.tokens_per_s:
        header.append(f" · {message.tokens_per_s:.1f} tok/s", style="dim")
    if message.reasoning_tokens:
        header.append(
            f" · thought {'~' if message.reasoning_estimated else ''}{message.reasoning_tokens} tok", style="dim"
        )
    if message.reasoning_ttft_s is not None:
        header.append(f" · first thought {message.reasoning_ttft_s * 1000:.0f} ms", style="dim")
    if message.ttft_s is not None:
        header.append(f" · TTFT {message.ttft_s * 1000:.0f} ms", style="dim")
    if message.energy_wh is not None:
        header.append(f" · {energy_label(message.energy_wh)}", style="dim")
    word = _STATUS_WORDS.get(message.status)
    if word:
        header.append(f" · {word}", style="bold")
    return header


def reasoning_figures(message: ChatMessage) -> dict[str, Any]:
    """How long the model thought (first reasoning to first answer token) and how much."""
    seconds = None
    if message.reasoning_ttft_s is not None and message.ttft_s is not None:
        seconds = max(0.0, message.ttft_s - message.reasoning_ttft_s)
    return {"seconds": seconds, "tokens": message.reasoning_tokens, "estimated": message.reasoning_estimated}


def energy_label(wh: float) -> str:
    """Energy in the unit that keeps two or three digits: "1.25 Wh", "0.42 Wh", "3.1 mWh"."""
    if wh >= 10:
        return f"{wh:.0f} Wh"
    if wh >= 0.1:
        return f"{wh:.2f} Wh"
    return f"{wh * 1000:.1f} mWh"


def model_label(name: str) -> str:
    """A model's short name: the file name of a path without .gguf, else the name itself."""
    label = name.rsplit("/", 1)[-1]
    return label[:-5] if label.lower().endswith(".gguf") else label


def cut_note(length: int) -> Text:
    """The line under a message too long to show whole."""
    return Text(
        f"Showing the first {SHOWN_CHARS // 1000} KB of {length // 1000} KB. All of it is saved:"
        " ctrl+t copies the message, e in the chat list exports the chat.",
        style="italic",
    )


def attachments_line(parts: tuple[MessagePart, ...]) -> str:
    """The chip line under "You": each attached file's name and size (terminal-safe)."""
    return "   ".join(
        f"📎 {one_line(file.name or '?', 40)} · {size_label(file.size)}"
        for file in (attachment_of(part) for part in parts if part.kind is PartKind.ATTACHMENT)
    )
