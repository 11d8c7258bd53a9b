"""The UI's shape: screens are built from controllers they own, never from mixins, and no UI
module grows past 300 lines (the size at which the old main screen hid a clash)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from textual.screen import Screen

import tui.ui

MAX_LINES = 300


def ui_modules() -> list[str]:
    return [module.name for module in pkgutil.walk_packages(tui.ui.__path__, "tui.ui.")]


def test_no_ui_module_is_over_300_lines() -> None:
    root = Path(tui.ui.__file__).parent
    sizes = {
        str(path.relative_to(root)): len(path.read_text(encoding="utf-8").splitlines()) for path in root.rglob("*.py")
    }
    assert sizes and {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}


def test_screens_have_no_mixins() -> None:
    """Every class a screen inherits from is Textual's: lchat's own parts are controllers it owns."""
    for name in ui_modules():
        module = importlib.import_module(name)
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not issubclass(cls, Screen):
                continue
            lchat_bases = [base for base in cls.__mro__[1:] if base.__module__.split(".")[0] == "tui"]
            assert lchat_bases == [], f"{cls.__name__} inherits from {lchat_bases}"
