"""Completing a file path as it is typed, from the folder lchat was started in."""

from __future__ import annotations

import os
from pathlib import Path

from textual.suggester import Suggester


class PathSuggester(Suggester):
    """Suggests the first entry of the typed folder that starts with the typed name (folders end
    in "/", so the next part completes in turn); → takes the suggestion."""

    def __init__(self, *, base: Path | None = None) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.base = base

    async def get_suggestion(self, value: str) -> str | None:
        typed = os.path.expanduser(value)
        folder, _, stem = typed.rpartition("/")
        where = Path(folder or ".") if folder or not value.startswith("/") else Path("/")
        if not where.is_absolute() and self.base is not None:
            where = self.base / where
        try:
            names = sorted(entry.name + ("/" if entry.is_dir() else "") for entry in os.scandir(where))
        except OSError:
            return None
        hidden_ok = stem.startswith(".")
        for name in names:
            if name.startswith(stem) and name != stem and (hidden_ok or not name.startswith(".")):
                return value[: len(value) - len(stem)] + name
        return None
