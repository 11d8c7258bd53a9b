"""Layers stay apart: the store and engines never load Textual; widgets never reach past services."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tui"
UI_PACKAGES = ("tui.ui",)
"""The app: the only place in the package Textual may be loaded (the benchmarks that drive it live
outside the package, in bench/)."""
WIDGET_FORBIDDEN = (
    "sqlite3",
    "tui.store",
    "tui.engines",
    "tui.services",
    # The chat package's services (its pure helpers, attachment labels and part order, are fine).
    "tui.chat.service",
    "tui.chat.answers",
    "tui.chat.answer_draft",
    "tui.chat.model_directory",
    "tui.chat.prompt",
    "tui.chat.saving",
    "tui.chat.settings",
    "ollama",
    "llama_cpp",
    "httpx",
    "openai",
    "huggingface_hub",
    "tui.models",
    "tui.fit",
    "tui.gguf",
    "mcp",
    "tui.tools",
)


def backend_modules() -> list[str]:
    """Every module of the package outside the UI, found by walking it."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if not name.startswith(UI_PACKAGES) and name != "tui.__main__":
            names.append(name)
    return names


def test_the_walk_finds_the_backend_layer() -> None:
    found = backend_modules()
    assert {"tui.store.history", "tui.engines.ollama.engine", "tui.chat.answers", "tui.stats.nvidia"} <= set(found)
    assert not [name for name in found if name.startswith("tui.ui")]


def textual_culprits(modules: list[str]) -> list[list]:
    """Imports the modules in turn in one fresh interpreter: the first after which Textual (or
    llama.cpp) is loaded is named, with what it brought."""
    code = (
        "import importlib, json, sys\n"
        "culprits = []\n"
        "for name in json.loads(sys.argv[1]):\n"
        "    importlib.import_module(name)\n"
        "    loaded = [m for m in sys.modules if m == 'textual' or m.startswith('textual.') or m == 'llama_cpp']\n"
        "    if loaded and not culprits: culprits.append([name, loaded[:3]])\n"
        "print(json.dumps(culprits))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, json.dumps(modules)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def test_backend_layer_does_not_import_textual() -> None:
    # llama.cpp is loaded in the engine's child process only.
    assert textual_culprits(backend_modules()) == []


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "ui" / "widgets").rglob("*.py")), ids=lambda p: p.name)
def test_widgets_do_not_speak_sql_http_or_engines(path: Path) -> None:
    bad = {name for name in imports_of(path) if name.startswith(WIDGET_FORBIDDEN)}
    assert not bad, f"{path.name} imports {bad}"


def test_only_the_engine_child_imports_llama_cpp() -> None:
    users = {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if any(name.startswith("llama_cpp") for name in imports_of(p))
    }
    # llama_compat (its internals) imports llama_cpp inside its functions only; the import check
    # above shows the parent never loads it. (The benchmarks' raw reference, bench/raw_llama.py, is
    # not in the package.)
    assert users == {"engines/embedded/child.py", "engines/embedded/llama_compat.py"}


def test_the_package_never_imports_the_benchmarks() -> None:
    """bench/ is not shipped in the wheel, so nothing in tui/ may need it."""
    users = {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if any(name == "bench" or name.startswith("bench.") for name in imports_of(p))
    }
    assert users == set()


def test_no_ui_module_talks_to_mcp_servers() -> None:
    """The UI shows tools and asks for approval through the pure tui.tools modules; the servers stay behind
    the chat service."""
    users = {
        p.relative_to(PACKAGE).as_posix()
        for p in (PACKAGE / "ui").rglob("*.py")
        if any(
            name == "mcp" or name.startswith(("mcp.", "tui.tools.servers", "tui.tools.results"))
            for name in imports_of(p)
        )
    }
    assert users == set()
    code = "import sys, tui.ui.screens.tool_approval_screen, tui.ui.screens.tool_select_screen; print('mcp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_a_textual_import_in_the_backend_is_caught() -> None:
    """The walk-and-import check above can fail: slip a UI module in among the backend's and it is named."""
    modules = backend_modules()
    middle = len(modules) // 2
    culprits = textual_culprits([*modules[:middle], "tui.ui.widgets.composer", *modules[middle:]])
    assert [name for name, _ in culprits] == ["tui.ui.widgets.composer"]
    assert any(loaded.startswith("textual") for loaded in culprits[0][1])


def test_a_widget_that_speaks_sql_is_caught(tmp_path: Path) -> None:
    """The widget import check can fail too: a widget importing sqlite3 or the store is reported."""
    widget = tmp_path / "bad_widget.py"
    widget.write_text("import sqlite3\nfrom tui.store.history import Store\nfrom textual.widget import Widget\n")
    with pytest.raises(AssertionError, match="sqlite3"):
        test_widgets_do_not_speak_sql_http_or_engines(widget)
