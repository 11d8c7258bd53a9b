"""What managing models hands back: details rows and download progress (the abilities
themselves are declared on the engine contract, tui.engines.base.Engine)."""

from __future__ import annotations

from dataclasses import dataclass

Details = list[tuple[str, str]]
"""What is known of a model, as (label, value) rows in display order."""


@dataclass(frozen=True)
class Progress:
    """One step of a download: what is happening and, while bytes move, how many of how many."""

    status: str
    completed: int | None = None
    total: int | None = None
