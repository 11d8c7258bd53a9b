"""The one home of Textual internals lchat relies on (names with a leading underscore).

Each is reached through a function here, so a Textual upgrade that moves one breaks one
module, and `tests/test_textual_compat.py` says which name moved before anything else runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import textual
from textual import events
from textual._compositor import Compositor
from textual.geometry import Region
from textual.strip import Strip
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
    "textual._compositor.Compositor": ("_get_renders",),
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


def crop_partial_updates() -> None:
    """Make Textual's partial screen updates render only the rows that changed (once per process).

    Textual 8 renders every line of each widget whose clip overlaps an update, then keeps the
    changed rows: a streamed token that changes one line of the answer re-rendered the footer,
    the composer and the conversation list, every frame (about 12 widgets a frame, most of its
    rendering). Each widget's clip is narrowed to the update's rows first; what reaches
    the terminal is the same (`tests/test_textual_compat.py`)."""
    original = _get(Compositor, "_get_renders")
    if getattr(original, "crops_rows", False):
        return

    def get_renders(self: Compositor, crop: Region | None = None) -> Iterator[tuple[Region, Region, list[Strip]]]:
        if crop is None:  # A full update: every line of every widget is wanted.
            yield from original(self, crop)
            return
        for widget, (region, clip) in self.visible_widgets.items():
            top, bottom = max(clip.y, crop.y), min(clip.bottom, crop.bottom)
            if bottom <= top:
                continue
            clip = Region(clip.x, top, clip.width, bottom - top)
            if not crop.overlaps(clip):
                continue
            x, y, width, height = region.intersection(clip)
            if width and height:
                yield region, clip, widget.render_lines(Region(x - region.x, y - region.y, width, height))

    get_renders.crops_rows = True  # type: ignore[attr-defined]
    get_renders.__wrapped__ = original  # type: ignore[attr-defined]
    Compositor._get_renders = get_renders  # type: ignore[method-assign]
