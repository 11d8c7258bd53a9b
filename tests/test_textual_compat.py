"""The Textual internals lchat relies on are where tui/ui/textual_compat.py expects them: a Textual
upgrade that moves one fails here, by name, before the features using it misbehave."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import ClassVar

import pytest
import textual
from textual._compositor import Compositor
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll
from textual.geometry import Region
from textual.widgets import Footer, Input, Markdown, Static, TextArea

from tui.ui import textual_compat
from tui.ui.textual_compat import (
    TextualMoved,
    bindings_of,
    crop_partial_updates,
    keymap,
    terminal_driver,
)

UI = Path(textual_compat.__file__).parent


class Host(App[None]):
    BINDINGS: ClassVar = [("ctrl+x", "bell", "Bell")]

    def compose(self) -> ComposeResult:
        yield Markdown()


async def test_every_internal_is_where_lchat_expects_it() -> None:
    app = Host()
    async with app.run_test():
        markdown = app.query_one(Markdown)
        for owner, names in [
            (app, ("_keymap", "_driver")),
            (markdown, ("_bindings",)),
        ]:
            missing = [name for name in names if not hasattr(owner, name)]
            assert not missing, f"textual {textual.__version__} moved {type(owner).__name__}.{missing}"
        assert hasattr(TextArea, "_on_key"), f"textual {textual.__version__} moved TextArea._on_key"
        assert hasattr(Compositor, "_get_renders"), f"textual {textual.__version__} moved Compositor._get_renders"
        assert sorted(sum(textual_compat.PRIVATE_NAMES.values(), ())) == sorted(
            ("_keymap", "_driver", "_bindings", "_on_key", "_get_renders")
        )
        app.set_keymap({"x.id": "ctrl+y"})
        assert keymap(app) == {"x.id": "ctrl+y"}
        assert "ctrl+x" in bindings_of(app).key_to_bindings
        assert terminal_driver(app) is not None


def test_a_moved_internal_is_named() -> None:
    with pytest.raises(TextualMoved, match=r"object._keymap is gone; update tui/ui/textual_compat.py"):
        keymap(object())  # type: ignore[arg-type]


def test_no_other_ui_module_reaches_into_textual() -> None:
    """Outside textual_compat, no ui module reads another object's private names (`self._x` is its
    own; `os._exit` is public): that is how Textual's internals stay in one place."""
    offenders = []
    for path in sorted(UI.rglob("*.py")):
        if path.name == "textual_compat.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls", "os", "sys"):
                continue
            offenders.append(f"{path.relative_to(UI)}:{node.lineno} {ast.unparse(node)}")
    assert not offenders, offenders


class Chat(App[None]):
    """A screen shaped like lchat's: a title, a scrolled answer, an input, a footer."""

    BINDINGS: ClassVar = [("ctrl+x", "bell", "Bell")]

    def compose(self) -> ComposeResult:
        yield Static("title", id="title")
        with VerticalScroll():
            yield Static("\n".join(f"line {n} of the answer" for n in range(60)), id="answer")
        yield Input("typed")
        yield Footer()


async def test_a_partial_update_renders_only_its_rows_and_draws_what_textual_would() -> None:
    crop_partial_updates()
    crop_partial_updates()  # Once per process, however often asked.
    cropped = Compositor._get_renders
    assert cropped.__wrapped__.__name__ == "_get_renders"  # type: ignore[attr-defined]
    app = Chat()
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor
        answer = app.query_one("#answer", Static)
        row = answer.region.y + 3
        update = Region(0, row, 60, 1)  # One line of the answer changed.
        rendered: list[str] = []
        for widget in app.screen.walk_children(with_self=True):
            original = widget.render_lines
            widget.render_lines = lambda crop, w=widget, o=original: (
                rendered.append(w.id or type(w).__name__) or o(crop)
            )  # type: ignore[method-assign]
        chops = compositor._render_chops(update, lambda y: y == row)
        assert "answer" in rendered and "Footer" not in rendered and "title" not in rendered
        rendered.clear()
        Compositor._get_renders = cropped.__wrapped__  # type: ignore[attr-defined]
        try:
            uncropped = compositor._render_chops(update, lambda y: y == row)
        finally:
            Compositor._get_renders = cropped  # type: ignore[method-assign]
        assert "Footer" in rendered  # Textual's own renders every line of the footer for it.
        assert "line 3 of the answer" in "".join(strip.text for strip in chops[row].values())
        assert list(chops[row].items()) == list(uncropped[row].items())
        # Rows of several widgets at once (the input's border and text, the footer): the same again.
        rows = range(app.query_one(Input).region.y, app.screen.size.height)
        update = Region(0, rows.start, 60, len(rows))
        chops = compositor._render_chops(update, rows.__contains__)
        Compositor._get_renders = cropped.__wrapped__  # type: ignore[attr-defined]
        try:
            uncropped = compositor._render_chops(update, rows.__contains__)
        finally:
            Compositor._get_renders = cropped  # type: ignore[method-assign]
        assert "typed" in "".join(strip.text for y in rows for strip in chops[y].values())
        assert [list(chops[y].items()) for y in rows] == [list(uncropped[y].items()) for y in rows]
