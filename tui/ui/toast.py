"""The one way lchat shows a notification: its text is shown as text, never obeyed."""

from __future__ import annotations

from textual.app import App
from textual.notifications import SeverityLevel
from textual.widget import Widget

from tui.guard.safe_text import terminal_safe


def tell(
    where: App | Widget, message: str, *, severity: SeverityLevel = "information", timeout: float | None = None
) -> None:
    """Show `message` in a toast; titles, names and server errors in it stay plain text.

    Control characters are made visible (ESC shows as ␛) and Textual markup is not parsed, so
    `[/bold]` or `[@click=app.quit]` in a conversation title is shown, not acted on.
    """
    where.notify(terminal_safe(message), severity=severity, timeout=timeout, markup=False)
