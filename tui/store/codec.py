"""Typed values as the history stores them (JSON), and back: what changes the types never
changes the stored form, so histories written before read the same."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tui.domain import ConversationSettings

_NUMBERS: dict[str, type] = {
    "temperature": float,
    "top_p": float,
    "max_tokens": int,
    "context_length": int,
    "seed": int,
}
_TEXTS = ("think", "lora", "preset")
_LISTS = ("stop", "tools")
SETTING_KEYS = ("tools", *_NUMBERS, "stop", *_TEXTS)
"""The keys the settings are written under, in the order they are written."""


def settings_to_json(settings: ConversationSettings) -> dict[str, Any]:
    """The settings as the `params` column holds them: only what is set, unknown keys kept."""
    value: dict[str, Any] = {}
    for key in SETTING_KEYS:
        setting = getattr(settings, key)
        if setting is not None:
            value[key] = list(setting) if key in _LISTS else setting
    return {**value, **{key: item for key, item in settings.extra.items() if key not in value}}


def settings_from_json(value: Mapping[str, Any]) -> ConversationSettings:
    """Settings from the stored mapping. A value of the wrong type (a hand-edited history) reads
    as unset and stays in `extra`, so it is written back as it was."""
    known: dict[str, Any] = {}
    extra: dict[str, Any] = {}
    for key, item in value.items():
        read = _read(key, item)
        if read is None:
            extra[key] = item
        else:
            known[key] = read
    return ConversationSettings(**known, extra=extra)


def _read(key: str, item: Any) -> Any:
    """`item` as setting `key` takes it; None when the key is unknown or the value unfit."""
    if key in _NUMBERS:
        if isinstance(item, bool) or not isinstance(item, int | float):
            return None
        if _NUMBERS[key] is int and isinstance(item, float) and not item.is_integer():
            return None
        return _NUMBERS[key](item)
    if key in _TEXTS:
        return item if isinstance(item, str) else None
    if key in _LISTS:
        return tuple(str(entry) for entry in item) if isinstance(item, list) else None
    return None
