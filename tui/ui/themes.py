"""Themes as TOML data files, turned into Textual themes."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from textual.theme import Theme

from tui.guard.bounded_files import read_regular_file

_THEME_FIELDS = {f.name for f in fields(Theme)}
THEME_MAX_BYTES = 100_000
"""A theme file is a few hundred bytes; a larger one is refused unread."""


@dataclass
class LoadedThemes:
    """Themes that loaded, and one line for each file that did not."""

    themes: list[Theme] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def builtin_themes_dir() -> Path:
    """`themes/` inside the installed package, or the checkout's top-level one."""
    packaged = Path(__file__).resolve().parent.parent / "themes"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parents[2] / "themes"


def load_themes(*folders: Path) -> LoadedThemes:
    """Every *.toml theme in `folders`; later folders may replace earlier themes by name."""
    loaded = LoadedThemes()
    for folder in folders:
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            try:
                loaded.themes.append(theme_from_file(path))
            except Exception as error:  # noqa: BLE001 - a bad theme file must never stop lchat
                loaded.problems.append(f"{path.name}: {error}")
    return loaded


def theme_from_file(path: Path) -> Theme:
    # A FIFO or /dev/zero named *.toml must not hold up the start: regular files only, bounded.
    data = tomllib.loads(read_regular_file(path, THEME_MAX_BYTES, what="theme file").decode("utf-8"))
    unknown = data.keys() - _THEME_FIELDS
    if unknown:
        raise ValueError(f"unknown fields {', '.join(sorted(unknown))}")
    if not isinstance(data.get("name"), str) or not isinstance(data.get("primary"), str):
        raise ValueError("a theme needs a name and a primary colour")
    theme = Theme(**data)
    # Resolving the colour system now turns a bad colour into this file's error, not a crash later.
    theme.to_color_system()
    return theme
