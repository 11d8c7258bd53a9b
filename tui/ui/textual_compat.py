"""The one home of Textual internals lchat relies on (names with a leading underscore).

Each is reached through a function here, so a Textual upgrade that moves one breaks one
module, and `tests/test_textual_compat.py` says which name moved before anything else runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import textual
from textual import events
from textual.widgets import TextArea

if TYPE_CHECKING:
    from textual.app import App
    from textual.binding import BindingsMap
    from textual.dom import DOMNode
    from textual.driver import Driver

PRIVATE_NAMES: dict[str, tuple[str, ...]] = {
    "textual.app.App (instances)": ("_keymap", "_driver"),
    "textual.dom.DOMNode (instances)": ("_bindings",),
    "textual.widgets.TextArea": ("_on_key",),
}
"""Every private attribute used through this module, by the class that owns it."""


class TextualMoved(RuntimeError):
    """A Textual internal lchat relies on is gone: this module needs updating."""


def _get(owner: object, name: str) -> Any:
    try:
        return getattr(owner, name)
    except AttributeError:
        raise TextualMoved(
            f"textual {textual.__version__}: {type(owner).__name__}.{name} is gone; update tui/ui/textual_compat.py"
        ) from None


def keymap(app: App) -> Mapping[str, str]:
    """The user's keymap as installed with `App.set_keymap` (binding id to keys)."""
    return _get(app, "_keymap")


def bindings_of(node: DOMNode) -> BindingsMap:
    """The bindings a node declares (its `BINDINGS`, parsed), without those of its ancestors."""
    return _get(node, "_bindings")


def terminal_driver(app: App) -> Driver | None:
    """The driver writing to the terminal, or None before it starts or after it stops."""
    return _get(app, "_driver")


async def text_area_on_key(area: TextArea, event: events.Key) -> None:
    """TextArea's own key handling (typing, Enter, Tab), for a subclass whose `_on_key` (the
    handler Textual runs before any binding) takes some keys first."""
    await _get(TextArea, "_on_key")(area, event)
