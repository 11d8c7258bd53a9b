"""Copying through the terminal (OSC 52), so it reaches the user's clipboard over SSH and in tmux.

The terminal never confirms a copy, so lchat copies where it can and says plainly where it
cannot: text too long for terminals to accept, and terminals known to ignore OSC 52.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass

MAX_ENCODED = 100_000
"""Longest OSC 52 payload sent: xterm and others silently drop longer ones."""
_NO_OSC52 = {"linux": "the Linux console has no clipboard", "dumb": "this terminal has no clipboard"}
# Terminal codes (ECMA-48), 7-bit and 8-bit: strings (OSC, DCS, APC, PM, SOS) up to their
# terminator, CSI sequences, two-character escapes; then any control character left but tab and newline.
_SEQUENCES = re.compile(
    r"(?:\x1b[\]P_^X]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)"
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def copyable(text: str) -> str:
    """`text` without terminal codes: what a copy puts on the clipboard. An answer's escape
    sequences (colours, OSC 8 links, a hidden OSC 52) would be obeyed wherever it is pasted;
    a link keeps its visible text."""
    return _CONTROLS.sub("", _SEQUENCES.sub("", text))


def osc52(text: str) -> str:
    """The escape sequence that asks the terminal to put `text` on the clipboard."""
    return f"\x1b]52;c;{base64.b64encode(text.encode('utf-8')).decode('ascii')}\a"


def encoded_length(text: str) -> int:
    return 4 * ((len(text.encode("utf-8")) + 2) // 3)


def passthrough(sequence: str, environ: Mapping[str, str]) -> list[str]:
    """The same sequence wrapped for a multiplexer between lchat and the terminal, if any.

    tmux forwards a wrapped sequence when `allow-passthrough` is on, and handles the plain
    one itself when `set-clipboard` is on; sending both covers either setting.
    """
    if environ.get("TMUX"):
        return ["\x1bPtmux;" + sequence.replace("\x1b", "\x1b\x1b") + "\x1b\\"]
    if environ.get("STY"):  # GNU screen
        return ["\x1bP" + sequence + "\x1b\\"]
    return []


def cannot_copy(text: str, environ: Mapping[str, str]) -> str | None:
    """Why OSC 52 will not work for `text` here, or None when it should."""
    reason = _NO_OSC52.get(environ.get("TERM", ""))
    if reason:
        return reason
    if environ.get("TERM_PROGRAM") == "Apple_Terminal":
        return "macOS Terminal ignores clipboard requests (iTerm2, kitty, WezTerm and others accept them)"
    if encoded_length(text) > MAX_ENCODED:
        return f"{len(text):,} characters is more than terminals accept at once"
    return None


@dataclass(frozen=True)
class CodeBlock:
    """A fenced or indented code block of a Markdown message."""

    code: str
    language: str = ""


def code_blocks(markdown: str) -> list[CodeBlock]:
    """Every code block in `markdown`, in order."""
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(markdown)
    return [
        CodeBlock(token.content, token.info.strip().split(" ")[0] if token.info else "")
        for token in tokens
        if token.type in ("fence", "code_block")
    ]
