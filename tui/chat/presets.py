"""Conversation parameters: checking what the user typed, and what a preset sets."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from tui.config import PARAM_RANGES, PresetConfig
from tui.domain import ConversationSettings
from tui.store.codec import settings_from_json, settings_to_json

PARAMS: dict[str, tuple[type, float, float]] = {
    name: (float if name in ("temperature", "top_p") else int, *bounds) for name, bounds in PARAM_RANGES.items()
}
"""Each parameter a conversation may set: its type and the range accepted."""
STOP_KEY = "stop"
"""A conversation's stop strings (a list), beside the numbers above."""
PRESET_KEY = "preset"
"""Where a conversation's settings remember the preset they were taken from."""
NOT_SAMPLING = ("lora", "think", "tools")
"""Settings the settings dialog (F8) and presets may leave alone (the adapter, thinking, the tools
chosen with F10): applying them keeps these unless they set them themselves, and keeps any stored key
this version does not know."""
THINK_KEY = "think"
_ESCAPES = {"\\n": "\n", "\\t": "\t", "\\\\": "\\"}


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


def parse_stops(typed: str) -> list[str]:
    """Stop strings from a text field: one a line, with \\n for a line break and \\t for a tab."""
    return [re.sub(r"\\[nt\\]", lambda m: _ESCAPES[m.group()], line) for line in typed.splitlines() if line]


def stops_text(stops: list[str]) -> str:
    """The text field for `stops`: what `parse_stops` reads back as the same list."""
    return "\n".join(s.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t") for s in stops)


def preset_settings(name: str, preset: PresetConfig, *, keep: ConversationSettings) -> ConversationSettings:
    """The settings a conversation gets from a preset: the ones it sets and its name, beside what
    `keep` (the conversation's settings) holds that presets do not set (its LoRA adapter, thinking)."""
    chosen = {key: getattr(preset, key) for key in PARAMS if getattr(preset, key) is not None}
    if preset.stop is not None:
        chosen[STOP_KEY] = list(preset.stop)
    if preset.think is not None:
        chosen[THINK_KEY] = preset.think
    return settings_from_json({**_not_sampling(keep), **chosen, PRESET_KEY: name})


def form_params(settings: ConversationSettings) -> dict[str, Any]:
    """The settings as the settings dialog's fields read them (by key, as stored)."""
    return settings_to_json(settings)


def dialog_settings(typed: Mapping[str, Any], current: ConversationSettings) -> ConversationSettings:
    """The settings after the settings dialog: what it edits, and what it does not show kept
    (thinking set back to the model's default, "", is dropped)."""
    params = {**_not_sampling(current), **typed}
    if params.get(THINK_KEY) == "":
        del params[THINK_KEY]
    return settings_from_json(params)


def _not_sampling(settings: ConversationSettings) -> dict[str, Any]:
    return {key: value for key, value in settings_to_json(settings).items() if key in NOT_SAMPLING} | dict(
        settings.extra
    )
