"""The Textual internals lchat relies on are where tui/ui/textual_compat.py expects them: a Textual
upgrade that moves one fails here, by name, before the features using it misbehave."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import ClassVar

import pytest
import textual
from textual.app import App, ComposeResult
from textual.widgets import Markdown, TextArea

from tui.ui import textual_compat
from tui.ui.textual_compat import (
    TextualMoved,
    bindings_of,
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
        assert sorted(sum(textual_compat.PRIVATE_NAMES.values(), ())) == sorted(
            ("_keymap", "_driver", "_bindings", "_on_key")
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
