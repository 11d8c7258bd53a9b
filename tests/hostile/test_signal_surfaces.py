"""The hostile-input matrix, signal and error-text rows: quitting (ctrl+q, SIGTERM, SIGHUP) in
every state, and text from servers (error bodies, model names) full of escapes and markup.

Each cell is `test_<surface>__<case>`. Quit and signals run lchat in a real terminal (tmux)
against an Ollama double streaming slowly; what lchat leaves (stderr, the pane, the exit status,
the history file) is read as the user would see it.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.hostile.tmux_lchat import Pane, lchat_tui, ollama_config
from tests.test_tools_servers import SERVER

MODEL = "llama3.2:latest"
SLOW_REPLY = [f" word{n}" for n in range(3000)]
"""An answer of minutes at the double's pace: it is still streaming whenever a test quits."""


@pytest.fixture
def slow_daemon() -> Iterator[OllamaState]:
    state = OllamaState(reply=SLOW_REPLY, piece_delay=0.03)
    state.add(MODEL)
    served = start_ollama(state)
    state.url = served.url  # type: ignore[attr-defined]
    yield state
    served.stop()


def clean_exit(pane: Pane, expected: int) -> None:
    """lchat exited with `expected`, and the terminal shows no traceback."""
    status = pane.exit_status()
    printed = pane.printed()
    assert "Traceback" not in printed and "WorkerCancelled" not in printed, printed
    assert status == expected, f"exit {status}; the terminal shows:\n{printed}"


def children_of(pid: int) -> set[int]:
    return {
        int(child) for task in Path(f"/proc/{pid}/task").iterdir() for child in (task / "children").read_text().split()
    }


def gone(pids: set[int], timeout: float = 15) -> bool:
    """Whether every process in `pids` has ended (a zombie counts as ended)."""

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
        except FileNotFoundError:
            return False

    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not any(alive(pid) for pid in pids)


def answer_row(home: Path) -> tuple[str, str]:
    with sqlite3.connect(home / "data" / "history.db") as raw:
        return raw.execute("SELECT status, content FROM messages WHERE role = 'assistant'").fetchone()


def start_answer(pane: Pane) -> None:
    pane.wait_for("Ask anything")
    pane.keys("Tell me a long story", literal=True)
    pane.keys("Enter")
    pane.wait_for("word20")  # Streaming, and some of it committed.


@pytest.mark.parametrize(("how", "code"), [("ctrl+q", 0), ("sigterm", 128 + signal.SIGTERM)])
def test_tui_quit__signal_midway_streaming(how: str, code: int, lchat_home: Path, slow_daemon) -> None:
    with lchat_tui(lchat_home, ollama_config(slow_daemon.url, MODEL)) as pane:
        start_answer(pane)
        if how == "ctrl+q":
            pane.keys("C-q")
        else:
            os.kill(pane.lchat_pid(), signal.SIGTERM)
        clean_exit(pane, code)
    status, content = answer_row(lchat_home)
    assert status == "interrupted"
    assert content.startswith(" word0 word1") and " word20" in content


def test_tui_hangup__signal_midway_streaming(lchat_home: Path, slow_daemon) -> None:
    """SIGHUP (the terminal went away): saved as interrupted, then 129 at once, no traceback."""
    with lchat_tui(lchat_home, ollama_config(slow_daemon.url, MODEL)) as pane:
        start_answer(pane)
        os.kill(pane.lchat_pid(), signal.SIGHUP)
        clean_exit(pane, 128 + signal.SIGHUP)
    status, content = answer_row(lchat_home)
    assert status == "interrupted" and " word20" in content


@pytest.fixture
def tool_daemon() -> Iterator[OllamaState]:
    state = OllamaState(tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}}])
    state.add(MODEL)
    served = start_ollama(state)
    state.url = served.url  # type: ignore[attr-defined]
    yield state
    served.stop()


def conversation_with_tools(home: Path) -> None:
    """A saved conversation with the test MCP server's tools on: the TUI opens it, latest first."""
    from tui.paths import resolve_paths
    from tui.store import HistoryStore
    from tui.tools.service import TOOLS_PARAM

    paths = resolve_paths(data_dir=home / "data", config_file=home / "config.toml")
    paths.create()
    with HistoryStore.open(paths.database) as store:
        store.create_conversation(title="tools on", model=MODEL, backend="ollama", params={TOOLS_PARAM: ["t"]})


@pytest.mark.parametrize(("how", "code"), [("ctrl+q", 0), ("sigterm", 128 + signal.SIGTERM)])
def test_tui_quit__signal_midway_approval_dialog(how: str, code: int, lchat_home: Path, tool_daemon) -> None:
    """Quitting while the tool approval dialog asks: a clean exit, and the tool never runs."""
    mcp = f'[mcp.servers.t]\ncommand = "{sys.executable}"\nargs = ["{SERVER}"]\n'
    lchat_home.mkdir(parents=True, exist_ok=True)
    conversation_with_tools(lchat_home)
    with lchat_tui(lchat_home, ollama_config(tool_daemon.url, MODEL, mcp)) as pane:
        pane.wait_for("tools on")
        pane.keys("Weather in Oslo?", literal=True)
        pane.keys("Enter")
        pane.wait_for("wants to run", timeout=120)  # The MCP server started; the dialog asks.
        lchat = pane.lchat_pid()
        servers = children_of(lchat)
        assert servers, "the MCP server should be running under lchat"
        if how == "ctrl+q":
            pane.keys("C-q")
        else:
            os.kill(lchat, signal.SIGTERM)
        clean_exit(pane, code)
        assert gone(servers), "the MCP server outlived lchat"
    assert not [m for chat in tool_daemon.chats for m in chat.get("messages", []) if m.get("role") == "tool"]
    with sqlite3.connect(lchat_home / "data" / "history.db") as raw:
        states = [
            row[0]
            for row in raw.execute("SELECT json_extract(data, '$.state') FROM message_parts WHERE kind = 'tool_call'")
        ]
    assert states and not {"approved", "done"} & set(states), states  # Asked (or interrupted), never run.
