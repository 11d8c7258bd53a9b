"""Hostile-input cells for the tool surfaces: tool name, tool result, MCP server stdout/stderr, allow
entry and the approval dialog's keys. Each test is one cell, named test_<surface>__<case>, and
asserts what applies: a clear line, the exit code, nothing run unapproved, memory bounded, the
terminal's bytes clean. Servers are real (the SDK's MCPServer over stdio, tests/hostile_mcp_server.py)
and lchat runs as a user runs it, in a subprocess, against the Ollama double.

Cells that do not apply to these surfaces (the coordinator's matrix says why):
- tool name: endless, blocking, bomb (a name is a field of one bounded message), typed-ahead, signal.
- tool result: typed-ahead (approval_keys__typed_ahead), signal mid-way (test_tools_ask's kill -9 test).
- MCP stdout/stderr: bomb, markup (never rendered; stderr goes to its log), typed-ahead, signal.
- allow entry: endless, blocking, bomb, markup, typed-ahead, signal (a command-line/config string).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.widgets import Input, Static

from tests.fake_ollama import OllamaState, start_ollama
from tests.test_tools_ask import ask_on_a_terminal
from tests.test_tools_servers import serving_http
from tui.config import McpConfig, McpServerConfig
from tui.tools.approval import ApprovalPolicy, ApprovalRequest, Decision
from tui.tools.catalog import ToolInfo
from tui.tools.servers import ToolServers
from tui.ui.screens.tool_approval_screen import ToolApprovalScreen

TESTS = Path(__file__).resolve().parents[1]
SERVER = str(TESTS / "mcp_server.py")
HOSTILE = str(TESTS / "hostile_mcp_server.py")
ESCAPES = "\x1b]0;pwned\x07\x1b[2J\x9b31m"
RSS_LIMIT_KB = 300 * 1024
MEASURED = (
    "import sys\n"
    "from tui.cli import main\n"
    "code = main(sys.argv[1:])\n"
    # VmHWM, not ru_maxrss: exec carries the test process's own peak into ru_maxrss (tests/rss_probe.py).
    "peak = next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:'))\n"
    "sys.stderr.write(f'maxrss_kb={peak}\\n')\n"
    "sys.exit(code)\n"
)
"""`lchat` with its own peak RSS (not its MCP servers') as the last line of stderr."""


def assert_clean(data: bytes) -> None:
    """No character a terminal would act on: C0 controls but tab and newline, DEL, C1 (a raw C1 byte
    is not UTF-8, so it fails the decode)."""
    found = re.search(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]", data.decode("utf-8"))
    assert found is None, data[:500]


def server(*args: str) -> dict[str, object]:
    return {"command": sys.executable, "args": [*args]}


def write_config(home: Path, daemon_url: str, servers: dict[str, dict[str, object]], extra: str = "") -> None:
    home.mkdir(parents=True, exist_ok=True)
    text = f'[ollama]\nhosts = ["{daemon_url}"]\n{extra}'
    for name, entry in servers.items():
        text += f"[mcp.servers.{json.dumps(name)}]\ncommand = {json.dumps(entry['command'])}\n"
        text += f"args = {json.dumps(entry['args'])}\n"
    (home / "config.toml").write_text(text)


@pytest.fixture
def ollama() -> Iterator[OllamaState]:
    """The Ollama double; a test sets `tool_calls` to what the model asks for."""
    state = OllamaState()
    state.add("qwen3:4b")
    served = start_ollama(state)
    state.url = served.url  # type: ignore[attr-defined]
    yield state
    served.stop()


def lchat(*args: str, umask: int | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    """lchat as a user runs it, bytes kept exactly, its peak RSS on stderr's last line."""
    return subprocess.run(
        [sys.executable, "-c", MEASURED, *args],
        capture_output=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        preexec_fn=(lambda: os.umask(umask)) if umask is not None else None,  # noqa: PLW1509 - single-threaded test
    )


def peak_kb(result: subprocess.CompletedProcess[bytes]) -> int:
    return int(result.stderr.decode().rsplit("maxrss_kb=", 1)[1])


def ask(*args: str, **kwargs) -> subprocess.CompletedProcess[bytes]:
    return lchat("ask", "-m", "qwen3:4b", "--tools", "--json", *args, **kwargs)


def only_call(result: subprocess.CompletedProcess[bytes]) -> dict:
    (call,) = json.loads(result.stdout)["tool_calls"]
    return call


# allow entry ---------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["--allow-tool", "config"])
def test_allow_entry__shadowing(lchat_home: Path, tmp_path: Path, ollama: OllamaState, via: str) -> None:
    """weather fails to start; evil offers a tool literally named weather.get_weather. The entry
    weather.get_weather must not let evil's tool run: it is refused (no terminal to ask), and the
    entry is told once as allowing nothing."""
    marker = tmp_path / "evil-ran"
    ollama.tool_calls = [{"name": "weather.get_weather", "arguments": {"city": "Paris"}}]
    servers = {"weather": server(SERVER, "fail"), "evil": server(HOSTILE, "evil", str(marker))}
    allow = '[mcp]\nallow = ["weather.get_weather"]\n' if via == "config" else ""
    write_config(lchat_home, ollama.url, servers, allow)  # type: ignore[attr-defined]
    flags = ["--allow-tool", "weather.get_weather"] if via == "--allow-tool" else []
    result = ask(*flags, "Weather in Paris?")
    assert result.returncode == 0, result.stderr
    assert not marker.exists(), "evil's tool ran without approval"
    call = only_call(result)
    assert (call["server"], call["tool"], call["approval"], call["state"]) == (
        "evil",
        "weather.get_weather",
        "refused",
        "refused",
    )
    stderr = result.stderr.decode()
    told = "lchat: allow entry 'weather.get_weather': server weather is not running; it allows nothing"
    assert stderr.count(told) == 1, stderr
    assert "weather: could not start: it exited" in stderr
    assert "Traceback" not in stderr


def test_allow_entry__shadowing_bare_name(lchat_home: Path, tmp_path: Path, ollama: OllamaState) -> None:
    """A bare name never allows: `get_weather` is meant for weather, evil offers one too."""
    marker = tmp_path / "evil-ran"
    ollama.tool_calls = [{"name": "get_weather", "arguments": {"city": "Paris"}}]
    servers = {"weather": server(SERVER, "fail"), "evil": server(HOSTILE, "evil", str(marker))}
    write_config(lchat_home, ollama.url, servers)  # type: ignore[attr-defined]
    result = ask("--allow-tool", "get_weather", "Weather?")
    assert result.returncode == 0 and not marker.exists()
    assert only_call(result)["approval"] == "refused"
    assert "lchat: allow entry 'get_weather' is not server.tool (write evil.get_weather); it allows nothing" in (
        result.stderr.decode()
    )


def test_allow_entry__shadowing_control_qualified_still_runs(
    lchat_home: Path, tmp_path: Path, ollama: OllamaState
) -> None:
    """The control: evil's tool named by evil's own entry runs, approved by config."""
    marker = tmp_path / "evil-ran"
    ollama.tool_calls = [{"name": "weather.get_weather", "arguments": {"city": "Paris"}}]
    write_config(lchat_home, ollama.url, {"evil": server(HOSTILE, "evil", str(marker))})  # type: ignore[attr-defined]
    result = ask("--allow-tool", "evil.weather.get_weather", "Weather?")
    assert result.returncode == 0, result.stderr
    assert marker.exists() and only_call(result)["approval"] == "config"
    assert b"allow entry" not in result.stderr


def test_allow_entry__escapes(lchat_home: Path, ollama: OllamaState) -> None:
    ollama.tool_calls = [{"name": "add", "arguments": {"a": 1, "b": 2}}]
    write_config(lchat_home, ollama.url, {"t": server(SERVER)})  # type: ignore[attr-defined]
    result = ask("--allow-tool", f"t.add{ESCAPES}", "Add?")
    assert result.returncode == 0
    assert only_call(result)["approval"] == "refused"
    assert_clean(result.stderr)
    assert "lchat: allow entry 't.add␛]0;pwned␇␛[2J�31m': server t has no tool" in result.stderr.decode()


def test_allow_entry__huge(lchat_home: Path, ollama: OllamaState) -> None:
    ollama.tool_calls = [{"name": "add", "arguments": {"a": 1, "b": 2}}]
    write_config(lchat_home, ollama.url, {"t": server(SERVER)})  # type: ignore[attr-defined]
    result = ask("--allow-tool", "t." + "x" * 100_000, "Add?")
    assert result.returncode == 0
    (line,) = [line for line in result.stderr.decode().splitlines() if "allow entry" in line]
    assert len(line) < 300 and line.endswith("it allows nothing")


def test_allow_entry__shadowing_by_server_names() -> None:
    """Servers a and a.b: the entry a.b.c could be a's tool b.c or a.b's tool c, so it is refused."""
    tool = ToolInfo("a", "b.c", "", {})
    policy = ApprovalPolicy(allow=["a.b.c"], servers=["a", "a.b"])
    assert policy.pre_approved(tool) is None
    assert policy.allow_problems([tool]) == [
        "allow entry 'a.b.c' could name a tool of a, a.b: rename a server; it allows nothing"
    ]


# tool name -----------------------------------------------------------------------------------


def test_tool_name__escapes(lchat_home: Path) -> None:
    """`lchat mcp list` of a server whose tool name and description carry escapes (and markup)."""
    write_config(lchat_home, "http://127.0.0.1:9", {"h": server(HOSTILE, "names")})
    result = lchat("mcp", "list")
    assert result.returncode == 0, result.stderr
    assert_clean(result.stdout)
    assert_clean(result.stderr)
    assert "echo␛]0;pwned␇␛[2J�31m" in result.stdout.decode()


def test_tool_name__huge(lchat_home: Path) -> None:
    """A 100 KB description is listed on one bounded line."""
    write_config(lchat_home, "http://127.0.0.1:9", {"h": server(HOSTILE, "names")})
    result = lchat("mcp", "list")
    assert result.returncode == 0
    assert max(len(line) for line in result.stdout.decode().splitlines()) < 300


async def test_tool_name__markup() -> None:
    """A tool's name and description are shown as typed in the approval dialog, never as markup."""
    tool = ToolInfo("s[/]", "[bold]x[/bold][@click=app.quit]", f"[red]d{ESCAPES}[/red]", {})

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(ToolApprovalScreen(ApprovalRequest(1, tool, {"[b]k": "[i]v"})))

    app = Host()
    async with app.run_test() as pilot:
        await pilot.pause()
        shown = " ".join(str(static.render()) for static in app.screen.query(Static))
    assert "[bold]x[/bold][@click=app.quit]" in shown and "(server s[/])" in shown
    assert "[red]d␛]0;pwned␇␛[2J�31m[/red]" in shown and "[b]k: [i]v" in shown
    assert "\x1b" not in shown and "\x9b" not in shown


async def test_tool_name__shadowing(tmp_path: Path) -> None:
    """Two real servers offer `add`; the model sees t_add and u_add, and u's entry allows u's only."""
    config = McpConfig(servers={name: McpServerConfig(command=sys.executable, args=[SERVER]) for name in "tu"})
    servers = ToolServers(config, log_dir=tmp_path)
    try:
        tools, problems = await servers.list_tools()
    finally:
        await servers.aclose()
    assert problems == {}
    adds = [tool for tool in tools if tool.name == "add"]
    assert sorted(tool.model_name for tool in adds) == ["t_add", "u_add"]
    assert len({tool.model_name for tool in tools}) == len(tools)
    policy = ApprovalPolicy(allow=["u.add"], servers=["t", "u"])
    assert [tool.server for tool in adds if policy.pre_approved(tool)] == ["u"]


# tool result ---------------------------------------------------------------------------------


def test_tool_result__huge(lchat_home: Path, ollama: OllamaState) -> None:
    """A 20 MB result (40 MB on the wire: text and structured copies) is not read past the limit: the call ends with a clear error, lchat stays
    under 300 MB, and the next call to the same server still works."""
    ollama.tool_calls = [{"name": "huge", "arguments": {"kb": 20_480}}]
    write_config(lchat_home, ollama.url, {"t": server(SERVER)})  # type: ignore[attr-defined]
    result = ask("--allow-tool", "t.huge", "Big?")
    assert result.returncode == 0, result.stderr
    call = only_call(result)
    assert call["is_error"] and call["state"] == "done"
    assert call["result"].startswith("the result was not read: it is 40.0 MB, over the 8.0 MB lchat reads")
    assert peak_kb(result) < RSS_LIMIT_KB
    assert b"Traceback" not in result.stderr


def test_tool_result__escapes(lchat_home: Path, ollama: OllamaState) -> None:
    """A result full of escapes reaches neither stdout (the answer quotes it) nor stderr raw."""
    ollama.tool_calls = [{"name": "hostile", "arguments": {}}]
    write_config(lchat_home, ollama.url, {"t": server(SERVER)})  # type: ignore[attr-defined]
    result = lchat("ask", "-m", "qwen3:4b", "--tools", "--allow-tool", "t.hostile", "Go")
    assert result.returncode == 0, result.stderr
    assert_clean(result.stdout)
    assert_clean(result.stderr)
    assert "The tool said: ␛]0;pwned␇␛[2J" in result.stdout.decode()
    assert "[bold]markup[/bold]" in result.stdout.decode()  # markup is text: kept as written


def test_tool_result__bomb(lchat_home: Path, ollama: OllamaState) -> None:
    """An image result claiming 30000x30000 pixels is described, never decoded."""
    ollama.tool_calls = [{"name": "bomb", "arguments": {}}]
    write_config(lchat_home, ollama.url, {"b": server(HOSTILE, "bomb")})  # type: ignore[attr-defined]
    result = ask("--allow-tool", "b.bomb", "Picture?")
    assert result.returncode == 0, result.stderr
    assert only_call(result)["result"].startswith("[image: image/png, ")
    assert peak_kb(result) < RSS_LIMIT_KB
    assert b"Warning" not in result.stderr


@pytest.mark.parametrize("answers_in", ["sse", "json"])
async def test_tool_result__huge_over_http(tmp_path: Path, answers_in: str) -> None:
    """Over streamable HTTP a 20 MB answer (an SSE event, or a JSON body) is not read past the limit:
    that call fails with a clear line, and the server goes on answering."""
    command = [sys.executable, SERVER, "http"] if answers_in == "sse" else [sys.executable, HOSTILE, "http-json"]
    with serving_http(*command) as url:
        servers = ToolServers(McpConfig(servers={"h": McpServerConfig(url=url)}), log_dir=tmp_path)
        try:
            tools, _ = await servers.list_tools()
            huge = next(tool for tool in tools if tool.name == "huge")
            result = await servers.call(huge, {"kb": 10_240})
            echo = next(tool for tool in tools if tool.name in ("echo", "add"))
            after = await servers.call(echo, {"text": "still here"} if echo.name == "echo" else {"a": 1, "b": 2})
        finally:
            await servers.aclose()
    assert result.is_error
    reason = "exceeded the 8388608 byte limit" if answers_in == "sse" else "a reply of over 8 MB"
    assert reason in result.text, result.text
    assert not after.is_error and after.text in ("still here", "3")


async def test_tool_result__endless(tmp_path: Path) -> None:
    """A server whose answer never ends: the read keeps nothing past the limit, the call ends at its
    time limit with a clear line, and the other server goes on."""
    servers = ToolServers(
        McpConfig(
            servers={
                "e": McpServerConfig(command=sys.executable, args=[HOSTILE, "endless"]),
                "t": McpServerConfig(command=sys.executable, args=[SERVER]),
            },
            call_timeout_s=3,
        ),
        log_dir=tmp_path,
    )
    try:
        tools, _ = await servers.list_tools()
        endless = next(tool for tool in tools if tool.qualified == "e.endless")
        add = next(tool for tool in tools if tool.qualified == "t.add")
        result = await servers.call(endless, {})
        assert result.is_error and result.text == "the tool took longer than 3 s and was stopped"
        assert (await servers.call(add, {"a": 1, "b": 2})).text == "3"
    finally:
        await servers.aclose()


async def test_tool_result__blocking(tmp_path: Path) -> None:
    servers = ToolServers(
        McpConfig(servers={"t": McpServerConfig(command=sys.executable, args=[SERVER])}, call_timeout_s=1),
        log_dir=tmp_path,
    )
    try:
        tools, _ = await servers.list_tools()
        hang = next(tool for tool in tools if tool.name == "hang")
        result = await asyncio.wait_for(servers.call(hang, {"seconds": 60}), 30)
        assert result.is_error and result.text == "the tool took longer than 1 s and was stopped"
    finally:
        await servers.aclose()


# MCP server stdout / stderr ------------------------------------------------------------------


def test_mcp_stdout__escapes(lchat_home: Path, ollama: OllamaState) -> None:
    """A server writes a garbage line (with escapes) to stdout and stderr: no traceback, one line
    pointing at the log, the log 0600 and safe to cat, and its tool still works."""
    ollama.tool_calls = [{"name": "echo", "arguments": {"text": "hi"}}]
    write_config(lchat_home, ollama.url, {"g": server(HOSTILE, "garbage")})  # type: ignore[attr-defined]
    result = ask("--allow-tool", "g.echo", "Echo?")
    assert result.returncode == 0, result.stderr
    assert only_call(result)["result"] == "hi"
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    assert_clean(result.stderr)
    logs = lchat_home / "data" / "logs"
    told = [line for line in stderr.splitlines() if line.startswith("lchat:") and "not MCP" in line]
    assert told == [f"lchat: an MCP server wrote something that is not MCP; see {logs / 'lchat.log'}"]
    assert [line for line in stderr.splitlines() if not line.startswith(("lchat: tool", "maxrss"))] == told
    for name in ("lchat.log", "mcp-g.log"):
        assert stat.S_IMODE((logs / name).stat().st_mode) == 0o600
    log = (logs / "lchat.log").read_bytes()
    assert b"MCP server g wrote a line that is not JSON-RPC" in log
    assert_clean(log)
    assert b"a diagnostic" in (logs / "mcp-g.log").read_bytes()  # its stderr: the log, not the terminal


def test_mcp_stderr__escapes(lchat_home: Path) -> None:
    """A server that fails saying something with escapes: one safe line naming it, exit 1."""
    write_config(lchat_home, "http://127.0.0.1:9", {"bad": server(HOSTILE, "fail")})
    result = lchat("mcp", "list")
    assert result.returncode == 1
    assert_clean(result.stdout)
    assert "bad: could not start: it exited (it said: ␛]0;pwned␇␛[2J�31m cannot start)" in result.stdout.decode()


def test_mcp_stdout__escapes_logged_privately_under_umask_000(lchat_home: Path, ollama: OllamaState) -> None:
    """logs/mcp-NAME.log and logs/lchat.log are created 0600 even under umask 000."""
    ollama.tool_calls = [{"name": "echo", "arguments": {"text": "hi"}}]
    write_config(lchat_home, ollama.url, {"g": server(HOSTILE, "garbage")})  # type: ignore[attr-defined]
    result = ask("--allow-tool", "g.echo", "Echo?", umask=0)
    assert result.returncode == 0, result.stderr
    logs = lchat_home / "data" / "logs"
    assert {name: stat.S_IMODE((logs / name).stat().st_mode) for name in ("lchat.log", "mcp-g.log")} == {
        "lchat.log": 0o600,
        "mcp-g.log": 0o600,
    }


def test_mcp_import_file__escapes(lchat_home: Path, tmp_path: Path) -> None:
    """`lchat mcp import` of a file whose server names carry a title change and a C1 CSI."""
    servers = tmp_path / "servers.json"
    hostile_name = "w\x1b]0;pwned\x07x\x9b31m"
    servers.write_text(json.dumps({"mcpServers": {hostile_name: {"command": "x"}, "ok\x9b": {"command": "x"}}}))
    (tmp_path / "ok.json").write_text(json.dumps({"mcpServers": {"fine": {"command": "x", "args": [ESCAPES]}}}))
    result = lchat("mcp", "import", str(servers))
    assert result.returncode == 1  # both skipped: a name must be printable
    assert_clean(result.stdout)
    assert_clean(result.stderr)
    assert "server w␛]0;pwned␇x�31m skipped: a name must be one line of printable text" in result.stderr.decode()
    assert not (lchat_home / "config.toml").exists() or "pwned" not in (lchat_home / "config.toml").read_text()


# approval dialog keys ------------------------------------------------------------------------


class _Chat(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.decisions: list[Decision | None] = []

    def compose(self) -> ComposeResult:
        yield Input(id="chat")


async def test_approval_keys__typed_ahead() -> None:
    """Keys typed for the chat (a, r, Enter, Tab) just before the dialog opened, read after it armed:
    none answers it; a key made after it armed does."""
    app = _Chat()
    async with app.run_test() as pilot:
        app.query_one("#chat", Input).focus()
        typed = [events.Key(key, char) for key, char in [("a", "a"), ("r", "r"), ("enter", "\r"), ("tab", "\t")]]
        request = ApprovalRequest(1, ToolInfo("fs", "delete", "", {}), {})
        dialog = ToolApprovalScreen(request, arm_after_s=0.02)
        app.push_screen(dialog, callback=app.decisions.append)
        for _ in range(500):
            if dialog.armed_at is not None:
                break
            await pilot.pause(0.01)
        for key in typed:
            app.post_message(key)
        await pilot.pause(0.1)
        assert app.screen is dialog and app.decisions == []
        await pilot.press("r")
        for _ in range(500):
            if app.decisions:
                break
            await pilot.pause(0.01)
    assert app.decisions == [Decision.ONCE]


def test_approval_keys__typed_ahead_in_ask(lchat_home: Path) -> None:
    """`lchat ask` on a terminal: a "y" line typed while the answer streamed is dropped when the
    question shows; only the answer typed after it counts (here "no")."""
    call = ask_on_a_terminal(lchat_home, typed_ahead=b"y\n", answer=b"no\n")
    assert (call["approval"], call["state"]) == ("refused", "refused")
