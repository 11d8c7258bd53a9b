"""The hostile-input matrix, signal and server-text rows.

Each cell is `test_<surface>__<case>`:
- tui_quit / tui_sigterm / tui_hangup x signal_midway: ctrl+q, SIGTERM and SIGHUP while an answer
  streams, the tool approval dialog asks, an Ollama pull runs, F8's settings or alt+a's path prompt
  is open, or idle; in a real terminal (tmux) against Ollama doubles: the documented code (0, 143,
  129), no traceback on the terminal, the answer saved interrupted, the tool never run, the MCP
  server gone, the pull stopped. The same states under Pilot: tests/test_quitting.py.
- server_error_text x escapes, markup: an Ollama and an OpenAI-compatible double answer with an
  error full of escapes and Textual markup; `lchat ask` prints it as one clean line, the TUI as text.
- model_name x escapes, markup: a double lists a model so named; `lchat models` and the models pane
  show it as text.
Cases not covered here: endless, huge, bomb and blocking of these rows are in
tests/hostile/test_server_surfaces.py (every reply bounded by tui.guard.http_limits); shadowing (a model name shadows nothing: BACKEND/NAME
picks among equal names, tests/test_ask_models.py); typed-ahead keys (no dialog of these surfaces
takes keys, the approval dialog's own cell is elsewhere); signal_midway for the error and name
rows (nothing runs once they are shown).
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.fake_ollama import OllamaHandler, OllamaState, start_ollama
from tests.fake_openai import OpenAIHandler, OpenAIState
from tests.hostile.tmux_lchat import ESCAPES, Pane, lchat_tui, ollama_config
from tests.loopback import Served, serve
from tests.test_tools_servers import SERVER
from tui.store.codec import settings_from_json

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
def test_tui_session__signal_midway_streaming(how: str, code: int, lchat_home: Path, slow_daemon) -> None:
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


def test_tui_session__signal_midway_hangup_streaming(lchat_home: Path, slow_daemon) -> None:
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
    from tui.config.paths import resolve_paths
    from tui.store import HistoryStore
    from tui.tools.service import TOOLS_PARAM

    paths = resolve_paths(data_dir=home / "data", config_file=home / "config.toml")
    paths.create()
    with HistoryStore.open(paths.database) as store:
        store.create_conversation(
            title="tools on", model=MODEL, backend="ollama", settings=settings_from_json({TOOLS_PARAM: ["t"]})
        )


@pytest.mark.parametrize(("how", "code"), [("ctrl+q", 0), ("sigterm", 128 + signal.SIGTERM)])
def test_tui_session__signal_midway_approval_dialog(how: str, code: int, lchat_home: Path, tool_daemon) -> None:
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


@pytest.mark.parametrize(("how", "code"), [("ctrl+q", 0), ("sigterm", 128 + signal.SIGTERM)])
def test_tui_session__signal_midway_transfer(how: str, code: int, lchat_home: Path) -> None:
    """Quitting while an Ollama pull runs: a clean exit, the pull stopped (nothing added)."""
    state = OllamaState(pull_sizes={"tiny:1b": 1_000_000_000}, pull_steps=2000, pull_delay=0.05)
    state.add(MODEL)
    served = start_ollama(state)
    try:
        with lchat_tui(lchat_home, ollama_config(served.url, MODEL)) as pane:
            pane.wait_for("Ask anything")
            pane.keys("F4")
            pane.wait_for(MODEL)
            pane.keys("p")
            pane.wait_for("Pull which model")
            pane.keys("tiny:1b", literal=True)
            pane.keys("Enter")
            pane.wait_for("Pulling tiny:1b")
            if how == "ctrl+q":
                pane.keys("C-q")
            else:
                os.kill(pane.lchat_pid(), signal.SIGTERM)
            clean_exit(pane, code)
    finally:
        served.stop()
    assert "tiny:1b" not in state.models


@pytest.mark.parametrize(
    ("state", "keys", "shown"),
    [("idle", [], "Ask anything"), ("settings", ["F8"], "System prompt"), ("attach", ["M-a"], "Attach a file")],
)
def test_tui_session__signal_midway_dialogs(state: str, keys: list[str], shown: str, lchat_home: Path) -> None:
    """SIGTERM idle, with F8's settings open, or with alt+a asking for a path: 143, no traceback."""
    served = start_ollama(OllamaState())
    try:
        with lchat_tui(lchat_home, ollama_config(served.url, MODEL)) as pane:
            pane.wait_for("Ask anything")
            if keys:
                pane.keys(*keys)
            pane.wait_for(shown)
            os.kill(pane.lchat_pid(), signal.SIGTERM)
            clean_exit(pane, 128 + signal.SIGTERM)
    finally:
        served.stop()


# Server error text and model names: escapes and markup from a server are shown as text.

HOSTILE = "\x1b]0;pwned\x07\x1b[2J\x9b31m[b]bold[/b] [link=https://evil.example]click[/link] boom"
"""An OSC title change, a screen clear, a C1 CSI, then Textual markup and a link."""
HOSTILE_MODEL = "\x1b]0;pwned\x07ev[b]il[/b]:latest"
CSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
"""Textual's own cursor moves and colours, stripped to read the screen's text."""


class HostileOllama(OllamaHandler):
    def chat(self, state: OllamaState, body: dict[str, Any]) -> None:
        if body.get("messages"):
            self.send_json(500, {"error": HOSTILE})
        else:
            super().chat(state, body)


class HostileOpenAI(OpenAIHandler):
    def completions(self, state: OpenAIState, body: dict[str, Any]) -> None:
        self.send_json(500, {"error": {"message": HOSTILE}})


def hostile_server(backend: str, models: list[str]) -> tuple[Served, str, str]:
    """A double answering every question with HOSTILE as its error: (server, config, -m value)."""
    if backend == "ollama":
        state = OllamaState()
        for name in models:
            state.add(name)
        served = serve(HostileOllama, state)
        return served, f'[ollama]\nhosts = ["{served.url}"]\n', models[0]
    served = serve(HostileOpenAI, OpenAIState(models=models))
    config = f'[ollama]\nenabled = false\n[[servers]]\nname = "lm"\nbase_url = "{served.url}/v1"\n'
    return served, config, f"lm/{models[0]}"


def run_lchat(home: Path, config: str, *args: str) -> subprocess.CompletedProcess[bytes]:
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config + "[stats]\nenabled = false\n")
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        timeout=120,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
    )


def clean_bytes(output: bytes) -> str:
    """The output as text, asserting it carries no ESC and no C1 control (raw or UTF-8 encoded)."""
    text = output.decode("utf-8", errors="replace")
    assert not ESCAPES.search(text), repr(text)
    return text


def ask_error(backend: str, home: Path) -> str:
    """`lchat ask` against the hostile double: exit 1, and its stderr (asserted clean)."""
    served, config, model = hostile_server(backend, ["plain-model"])
    try:
        result = run_lchat(home, config, "ask", "-m", model, "hello")
    finally:
        served.stop()
    assert result.returncode == 1
    clean_bytes(result.stdout)
    return clean_bytes(result.stderr)


def screen_text(app: Any, width: int) -> str:
    """What the terminal would show for a full repaint, with Textual's own sequences removed;
    an escape left over came from outside text."""
    update = app.screen._compositor.render_update(full=True)
    console = Console(file=StringIO(), force_terminal=True, color_system="truecolor", width=width)
    plain = CSI.sub("", update.render_segments(console))
    assert not ESCAPES.search(plain), repr(ESCAPES.findall(plain))
    return plain


def engine_for(backend: str, served: Served) -> Any:
    from tui.engines.ollama.engine import OllamaEngine
    from tui.engines.openai.engine import OpenAICompatEngine

    if backend == "ollama":
        return OllamaEngine(host=served.url, read_timeout=5)
    return OpenAICompatEngine(name="lm", base_url=served.url + "/v1", read_timeout=5)


async def tui_error(backend: str, open_services) -> tuple[str, str]:
    """The TUI answering through the hostile double: (the answer's error line, the whole screen)."""
    from tui.ui.app import LchatApp
    from tui.ui.widgets.message_view import MessageView

    served, _, _ = hostile_server(backend, ["plain-model"])
    app = LchatApp(open_services(engine_for(backend, served)))
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await app.screen.models.loaded.wait()
            await pilot.press(*"hello", "enter")
            deadline = time.monotonic() + 60
            while not app.screen.query(MessageView) or app.screen.answers.generating:
                assert time.monotonic() < deadline, "the answer never ended"
                await pilot.pause(0.05)
            await pilot.pause(0.2)
            error = str(app.screen.query(MessageView).last().query_one(".error-text").render())
            return error, screen_text(app, 140)
    finally:
        served.stop()


@pytest.mark.parametrize("backend", ["ollama", "openai"])
async def test_server_error_text__escapes(backend: str, lchat_home: Path, open_services) -> None:
    """An error body full of escapes: `ask` prints it as one clean line, the TUI shows it as text."""
    assert "␛]0;pwned␇␛[2J" in ask_error(backend, lchat_home)  # Shown, not acted on.
    error, screen = await tui_error(backend, open_services)
    assert "\x1b" not in error and "␛]0;pwned␇" in error and "␛]0;pwned␇" in screen


@pytest.mark.parametrize("backend", ["ollama", "openai"])
async def test_server_error_text__markup(backend: str, lchat_home: Path, open_services) -> None:
    """An error body with Textual markup and a link: shown with its brackets, nothing applied."""
    markup = "[b]bold[/b] [link=https://evil.example]click[/link] boom"
    assert markup in ask_error(backend, lchat_home)
    error, screen = await tui_error(backend, open_services)
    assert markup in error and "[b]bold[/b]" in screen


def models_listed(backend: str, home: Path) -> str:
    """`lchat models` against a double offering HOSTILE_MODEL: exit 0, its stdout (asserted clean)."""
    served, config, _ = hostile_server(backend, [HOSTILE_MODEL])
    try:
        result = run_lchat(home, config, "models")
    finally:
        served.stop()
    assert result.returncode == 0, result.stderr
    clean_bytes(result.stderr)
    return clean_bytes(result.stdout)


async def models_pane(backend: str, open_services) -> str:
    """The TUI's screen once the double's models are listed."""
    from tui.ui.app import LchatApp

    served, _, _ = hostile_server(backend, [HOSTILE_MODEL])
    app = LchatApp(open_services(engine_for(backend, served)))
    try:
        async with app.run_test(size=(160, 40)) as pilot:
            await app.screen.models.loaded.wait()
            await pilot.pause(0.3)
            return screen_text(app, 160)
    finally:
        served.stop()


@pytest.mark.parametrize("backend", ["ollama", "openai"])
async def test_model_name__escapes(backend: str, lchat_home: Path, open_services) -> None:
    assert "␛]0;pwned␇" in models_listed(backend, lchat_home)
    assert "␛]0;pwned␇" in await models_pane(backend, open_services)


@pytest.mark.parametrize("backend", ["ollama", "openai"])
async def test_model_name__markup(backend: str, lchat_home: Path, open_services) -> None:
    assert "ev[b]il[/b]" in models_listed(backend, lchat_home)
    assert "ev[b]il[/b]" in await models_pane(backend, open_services)
