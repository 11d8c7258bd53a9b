"""Layers stay apart: the store and engines never load Textual; widgets never reach past services."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "tui"
NO_TEXTUAL = [
    "tui.store", "tui.engines.base", "tui.engines.fake", "tui.engines.embedded", "tui.engines.discovery",
    "tui.engines.gguf_info", "tui.engines.registry", "tui.chat_service", "tui.config", "tui.paths",
    "tui.services", "tui.ask", "tui.cli",
    "tui.store.backup", "tui.store.branches", "tui.store.search", "tui.store.transfer", "tui.portable",
    "tui.history_cli", "tui.context_window", "tui.clipboard", "tui.presets",
    "tui.engines.ollama_engine", "tui.engines.ollama_errors", "tui.engines.openai_engine", "tui.engines.manage",
    "tui.engines.lora", "tui.engines.urls", "tui.models.fit", "tui.models.catalog", "tui.models.memory", "tui.models.stores",
    "tui.models.hf", "tui.models.library", "tui.models.transfer", "tui.models.gguf_details",
    "tui.stats", "tui.stats.nvidia", "tui.stats.amd", "tui.stats.cpu", "tui.stats.energy", "tui.stats.alerts",
    "tui.stats.report", "tui.stats.remote", "tui.stats.fake", "tui.stats.command",
    "tui.tools", "tui.tools.servers", "tui.tools.loop", "tui.tools.service", "tui.tools.mcp_cli",
    "tui.tools.catalog", "tui.tools.approval", "tui.tools.results", "tui.engines.tool_parse", "tui.engines.tool_wire",
]
WIDGET_FORBIDDEN = ("sqlite3", "tui.store", "tui.engines", "tui.services", "tui.chat_service", "ollama",
                    "llama_cpp", "httpx", "openai", "huggingface_hub", "tui.models", "mcp", "tui.tools")


@pytest.mark.parametrize("module", NO_TEXTUAL)
def test_backend_layer_does_not_import_textual(module: str) -> None:
    code = f"import sys, json, {module}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    assert not [name for name in loaded if name == "textual" or name.startswith("textual.")]
    # llama.cpp is loaded in the engine's child process only.
    assert "llama_cpp" not in loaded


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted((PACKAGE / "ui" / "widgets").glob("*.py")), ids=lambda p: p.name)
def test_widgets_do_not_speak_sql_http_or_engines(path: Path) -> None:
    bad = {name for name in imports_of(path) if name.startswith(WIDGET_FORBIDDEN)}
    assert not bad, f"{path.name} imports {bad}"


def test_only_the_engine_child_imports_llama_cpp() -> None:
    users = {p.relative_to(PACKAGE).as_posix() for p in PACKAGE.rglob("*.py")
             if any(name.startswith("llama_cpp") for name in imports_of(p))}
    # The benchmarks' raw reference drives llama.cpp directly, in a process of its own.
    assert users - {"bench/raw_llama.py"} == {"engines/embedded_child.py"}


def test_no_ui_module_talks_to_mcp_servers() -> None:
    """The UI shows tools and asks for approval through the pure tui.tools modules; the servers stay behind
    the chat service."""
    users = {p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / "ui").rglob("*.py")
             if any(name == "mcp" or name.startswith(("mcp.", "tui.tools.servers", "tui.tools.results"))
                    for name in imports_of(p))}
    assert users == set()
    code = "import sys, tui.ui.tool_approval_screen, tui.ui.tool_select_screen; print('mcp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
