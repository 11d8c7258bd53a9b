"""Links in answers: only web addresses open, and only once the user has seen the whole address."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from urllib.parse import urlsplit

from textual.app import App

from tui.guard.safe_text import one_line
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.toast import tell

OPENABLE = ("http", "https")
"""The schemes a link may have to be opened; file:, javascript:, custom handlers... never are."""


def refusal(url: str) -> str | None:
    """Why `url` is not opened, or None for a web address lchat may offer to open."""
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in OPENABLE or not parts.hostname:
        return f"Not opened: lchat opens only http and https links, not {one_line(url, 100)}"
    if any(char.isspace() or unicodedata.category(char).startswith("C") for char in url):
        return f"Not opened: the link has spaces or control characters in it ({one_line(url, 100)})"
    return None


async def confirm_and_open(app: App, url: str, open_url: Callable[[str], None]) -> None:
    """Ask before opening `url` (shown whole); refuse anything but http(s) with a message."""
    problem = refusal(url)
    if problem is not None:
        tell(app, problem, severity="warning", timeout=10)
        return
    if await app.push_screen_wait(ConfirmScreen(f"Open this address in your browser?\n\n{url}")):
        open_url(url)
