"""Untrusted text stays text: nothing that could steer a terminal survives."""

from __future__ import annotations

import re

from tui.guard.safe_text import one_line, terminal_safe


def test_controls_become_visible_symbols() -> None:
    safe = terminal_safe("a\x1b]52;c;aGk=\x07b\x1b[2Jc\x9b31md\x7fe\u202eright\u2066x\tz\ny")
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]", safe)
    assert safe.startswith("a\u241b]52;c;aGk=\u2407b\u241b[2Jc")
    assert "\t" in safe and "\n" in safe  # layout characters stay


def test_ordinary_text_is_unchanged() -> None:
    text = "Grüße 👩‍👩‍👧 مرحبا 漢字 `code` **bold**\n\tindented"
    assert terminal_safe(text) == text


def test_one_line_flattens_and_shortens() -> None:
    assert one_line("a\n b\x1bc", 80) == "a b\u241bc"
    assert one_line("x" * 100, 10) == "x" * 9 + "…"


def test_stray_zero_width_joiners_are_dropped_but_emoji_sequences_kept() -> None:
    # A joiner with nothing before it crashes Rich's cell arithmetic on the next wide character.
    assert terminal_safe("\u200d\u200d漢字 x \u200d👩") == "漢字 x 👩"
    family = "👩\u200d👩\u200d👧"
    assert terminal_safe(family) == family
