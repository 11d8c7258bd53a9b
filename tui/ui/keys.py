"""Key bindings as users see them: checking a keymap from config, and listing every binding."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from textual.app import App
from textual.binding import Binding
from textual.dom import DOMNode
from textual.keys import Keys
from textual.screen import Screen

from tui.ui.textual_compat import bindings_of, keymap

MODIFIERS = frozenset({"ctrl", "shift", "alt", "meta", "super", "hyper"})
NAMED_KEYS = frozenset(key.value for key in Keys) | frozenset(
    {
        "space",
        "enter",
        "escape",
        "tab",
        "backspace",
        "delete",
        "insert",
        "home",
        "end",
        "pageup",
        "pagedown",
        "up",
        "down",
        "left",
        "right",
        *(f"f{n}" for n in range(1, 25)),
    }
)
MOVEMENT_PREFIXES = ("cursor_", "scroll_", "page_")
"""Actions that only move within a list; they stay out of the command palette."""


def is_valid_key(key: str) -> bool:
    """Whether Textual can ever report `key` (e.g. "ctrl+s", "f5", "g", "question_mark")."""
    *modifiers, name = key.strip().lower().split("+")
    if not name or any(modifier not in MODIFIERS for modifier in modifiers):
        return False
    if len(name) == 1:
        return name.isprintable()
    return name in NAMED_KEYS or _is_character_name(name)


def _is_character_name(name: str) -> bool:
    """Names Textual uses for punctuation, like "question_mark" or "full_stop"."""
    try:
        unicodedata.lookup(name.replace("_", " "))
    except KeyError:
        return False
    return True


def check_keymap(keymap: Mapping[str, str], known_ids: set[str]) -> tuple[dict[str, str], list[str]]:
    """The usable part of a user keymap, and one line for each entry that is not."""
    usable: dict[str, str] = {}
    problems: list[str] = []
    for binding_id, keys in keymap.items():
        if binding_id not in known_ids:
            problems.append(f"keys.{binding_id}: no such binding id")
            continue
        bad = [key for key in keys.split(",") if not is_valid_key(key)]
        if bad or not keys.strip():
            problems.append(
                f"keys.{binding_id}: {', '.join(repr(k) for k in bad) or 'empty'} is not a key name; kept the default"
            )
            continue
        usable[binding_id] = keys
    return usable, problems


@dataclass(frozen=True)
class BoundAction:
    """One binding and the node whose action it runs."""

    node: DOMNode
    binding: Binding

    @property
    def what(self) -> str:
        """What the key does, in full: the footer's short description's tooltip, else the description."""
        return self.binding.tooltip or self.binding.description

    @property
    def in_palette(self) -> bool:
        return not self.binding.action.startswith(MOVEMENT_PREFIXES) and not self.binding.system


def bound_actions(app: App, screen: Screen | None = None) -> Iterator[BoundAction]:
    """Every binding of the app, the screen (default: the current one) and its widgets, once per id."""
    screen = screen or app.screen
    seen: set[tuple[str, type]] = set()
    for node in (app, screen, *screen.walk_children()):
        for bindings in bindings_of(node).key_to_bindings.values():
            for binding in bindings:
                key = (binding.id or binding.action, type(node))
                if key not in seen:
                    seen.add(key)
                    yield BoundAction(node, binding)


def keys_for(app: App, binding: Binding) -> str:
    """The keys that trigger `binding` now, the user's keymap applied, for display."""
    keys = keymap(app).get(binding.id, binding.key) if binding.id else binding.key
    return " / ".join(app.get_key_display(Binding(key.strip(), "")) for key in keys.split(","))
