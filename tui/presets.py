"""Conversation parameters: checking what the user typed, and what a preset sets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tui.config import PresetConfig

PARAMS: dict[str, tuple[type, float, float]] = {
    "temperature": (float, 0.0, 5.0),
    "top_p": (float, 0.0, 1.0),
    "max_tokens": (int, 1, 1_000_000),
    "context_length": (int, 64, 10_000_000),
    "seed": (int, 0, 2**32 - 1),
}
"""Each parameter a conversation may set: its type and the range accepted."""
PRESET_KEY = "preset"
"""Where a conversation's params remember the preset it took them from."""


def parse_params(typed: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Parameters from text fields (blank: the default), and a reason for each bad field."""
    params: dict[str, Any] = {}
    problems: dict[str, str] = {}
    for name, raw in typed.items():
        kind, low, high = PARAMS[name]
        text = raw.strip()
        if not text:
            continue
        try:
            value = kind(text) if kind is float else int(text)
        except ValueError:
            problems[name] = "a whole number" if kind is int else "a number"
            continue
        if not low <= value <= high:
            problems[name] = f"between {low:g} and {high:g}"
            continue
        params[name] = value
    return params, problems


def preset_params(name: str, preset: PresetConfig) -> dict[str, Any]:
    """The params a conversation gets from a preset: the ones it sets, and its name."""
    chosen = {key: getattr(preset, key) for key in PARAMS if getattr(preset, key) is not None}
    return {**chosen, PRESET_KEY: name}
