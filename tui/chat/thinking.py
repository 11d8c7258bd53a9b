"""Thinking settings: which a model offers, how they read, and the next one in the cycle."""

from __future__ import annotations

from tui.domain import THINK_LEVELS, THINK_SETTINGS, ModelInfo

LEVELS = THINK_LEVELS
SETTINGS = THINK_SETTINGS
"""Every setting: "" is the model's default."""
ASK_CHOICES = ("on", "off", *LEVELS)
"""What `lchat ask --think` takes."""


def think_choices(model: ModelInfo | None) -> list[str]:
    """The settings a model offers, its default first.

    A model known not to think offers only its default. One that lists levels (gpt-oss over
    Ollama) offers off and the levels; one that thinks without levels offers off and on; one
    whose abilities are unknown (OpenAI-compatible servers, GGUF files) offers off, on and,
    where its server takes `reasoning_effort`, the levels.
    """
    if model is None:
        return ["", "off", "on"]
    thinking = model.extra.get("thinking")
    if thinking is False:
        return [""]
    levels = [level for level in model.extra.get("think_levels", ()) if level in LEVELS]
    if levels:
        return ["", "off", *levels]
    return ["", "off", "on"]


def next_think(current: str, model: ModelInfo | None) -> str:
    """The setting after `current` among the model's choices (back to the default at the end)."""
    choices = think_choices(model)
    index = choices.index(current) if current in choices else -1
    return choices[(index + 1) % len(choices)]


def think_label(setting: str) -> str:
    """How a setting reads in the chat header and settings: "think: default", "think: high"."""
    return f"think: {setting or 'default'}"
