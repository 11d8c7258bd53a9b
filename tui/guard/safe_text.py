"""Make untrusted text (model output, names, server errors) safe to put on a terminal."""

from __future__ import annotations

import json
import re
import sys
from typing import Any, TextIO

# C0 controls other than tab and newline become their visible "control picture" (ESC -> ␛),
# so an escape sequence is shown as text instead of acted on; DEL and C1 likewise.
_TABLE: dict[int, str] = {code: chr(0x2400 + code) for code in range(0x20) if code not in (9, 10)}
_TABLE[0x7F] = "\u2421"
_TABLE.update({code: "\ufffd" for code in range(0x80, 0xA0)})
# Bidi overrides and isolates can make displayed text differ from stored text.
_TABLE.update({code: "\ufffd" for code in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))})


# A zero-width joiner with nothing to join (after a space, at the start, after another joiner)
# makes Rich's width arithmetic disagree with itself and crash on the next wide character.
_STRAY_JOINERS = re.compile(r"(?:^|(?<=\s)|(?<=\u200d))\u200d+")


def terminal_safe(text: str) -> str:
    """`text` with every character that could steer the terminal replaced by a visible one."""
    text = text.translate(_TABLE)
    return _STRAY_JOINERS.sub("", text) if "\u200d" in text else text


def one_line(text: str, limit: int = 80) -> str:
    """A terminal-safe single line, for titles and names."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return terminal_safe(flat)


def echo(line: str = "", *, file: TextIO | None = None, end: str = "\n") -> None:
    """Print a line of lchat's own for the user, made terminal-safe whole, since it may carry outside
    text (names, paths, server errors). Every command prints its lines through here; the data a
    command exists to write (an export, an answer to a pipe) does not."""
    print(terminal_safe(line), end=end, file=sys.stdout if file is None else file, flush=True)


_JSON_ESCAPES = {
    code: f"\\u{code:04x}" for code in (0x7F, *range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}


def json_line(value: Any) -> str:
    """`value` as one line of JSON whose characters cannot steer a terminal: json escapes C0
    controls itself; DEL, C1 and bidi controls are escaped too, so the data read back is unchanged."""
    return json.dumps(value, ensure_ascii=False).translate(_JSON_ESCAPES)
