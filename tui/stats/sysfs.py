"""Reading the one-value files of /sys and /proc: a missing or odd file is "unknown", not an error."""

from __future__ import annotations

from pathlib import Path


def read_text(path: Path) -> str:
    """The file's stripped text, or "" when it cannot be read."""
    try:
        return path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def read_number(path: Path) -> float | None:
    """The file's number, or None when it cannot be read or is not a number."""
    try:
        return float(path.read_text())
    except (OSError, ValueError):
        return None
