"""Sizes and counts for people: 1.2 GB, 3.2B parameters."""

from __future__ import annotations


def gb(size: int | None) -> str:
    """Bytes for people: 1.2 GB, 350 MB, 12 KB (powers of 1000, as disks and downloads count)."""
    if size is None:
        return "?"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def count_text(count: int | None) -> str:
    """Parameters for people: 3.2B, 135M."""
    if not count:
        return ""
    return f"{count / 1e9:.1f}B" if count >= 1e9 else f"{count / 1e6:.0f}M"
