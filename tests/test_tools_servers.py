"""MCP servers through the SDK: a real server (the SDK's own MCPServer) over stdio and HTTP,
and the ways servers fail: not starting, crashing, hanging, answering too much or hostile text."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tui.config import McpConfig, McpServerConfig
from tui.tools.catalog import ToolInfo
from tui.tools.servers import ToolServers

SERVER = str(Path(__file__).with_name("mcp_server.py"))


def stdio_server(*args: str, **env: str) -> McpServerConfig:
    return McpServerConfig(command=sys.executable, args=[SERVER, *args], env=dict(env))


def _tool(tools: list[ToolInfo], qualified: str) -> ToolInfo:
    return next(tool for tool in tools if tool.qualified == qualified)


@contextmanager
def serving_http(*command: str) -> Iterator[str]:
    """A real MCP server over streamable HTTP on a loopback port: `command` PORT is run."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([*command, str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, "the HTTP server exited"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def http_url() -> Iterator[str]:
    with serving_http(sys.executable, SERVER, "http") as url:
        yield url


async def test_stdio_server_lists_and_calls_tools(tmp_path: Path) -> None:
    servers = ToolServers(McpConfig(servers={"t": stdio_server(UNITS="imperial")}), log_dir=tmp_path)
    try:
        tools, problems = await servers.list_tools()
        assert problems == {}
        assert {"t.add", "t.weather", "t.hang"} <= {tool.qualified for tool in tools}
        add = _tool(tools, "t.add")
        assert add.description == "Add two integers."
        assert add.parameters["properties"].keys() == {"a", "b"}
        assert 20 < add.tokens < 200
        result = await servers.call(add, {"a": 2, "b": 40})
        assert (result.text, result.is_error) == ("42", False)
        weather = await servers.call(_tool(tools, "t.weather"), {"city": "Oslo"})
        assert weather.text == "Sunny, 21 C in Oslo (imperial)"  # the configured env reached the server
        failing = await servers.call(_tool(tools, "t.failing"), {})
        assert failing.is_error
    finally:
        await servers.aclose()


async def test_http_server_with_a_header_from_the_environment(
    http_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LCHAT_TEST_MCP_TOKEN", "Bearer s3cret")
    config = McpServerConfig(url=http_url, headers_env={"Authorization": "LCHAT_TEST_MCP_TOKEN"})
    servers = ToolServers(McpConfig(servers={"web": config}), log_dir=tmp_path)
    try:
        tools, problems = await servers.list_tools()
        assert problems == {}
        assert (await servers.call(_tool(tools, "web.add"), {"a": 1, "b": 2})).text == "3"
        assert (await servers.call(_tool(tools, "web.whoami"), {})).text == "Bearer s3cret"
    finally:
        await servers.aclose()


async def test_a_missing_header_variable_is_one_line(http_url: str, tmp_path: Path) -> None:
    config = McpServerConfig(url=http_url, headers_env={"Authorization": "LCHAT_TEST_UNSET_VAR"})
    servers = ToolServers(McpConfig(servers={"web": config}), log_dir=tmp_path)
    _, problems = await servers.list_tools()
    assert problems == {
        "web": "web: could not start: header Authorization needs $LCHAT_TEST_UNSET_VAR, which is not set"
    }
    await servers.aclose()


async def test_servers_that_fail_to_start_are_one_line_each_and_the_others_go_on(tmp_path: Path) -> None:
    config = McpConfig(
        servers={
            "good": stdio_server(),
            "bad": stdio_server("fail"),
            "missing": McpServerConfig(command=str(tmp_path / "no-such-program")),
            "empty": McpServerConfig(),
        }
    )
    servers = ToolServers(config, log_dir=tmp_path)
    try:
        tools, problems = await servers.list_tools()
        assert {tool.server for tool in tools} == {"good"}
        assert problems["bad"] == (
            "bad: could not start: it exited (it said: cannot open the database: permission denied)"
        )
        assert problems["missing"].startswith("missing: could not start: [Errno 2] No such file")
        assert problems["empty"] == "empty: could not start: neither command nor url is set"
        assert all("\n" not in line for line in problems.values())
    finally:
        await servers.aclose()


async def test_a_crashing_server_is_reported_and_never_called_again(tmp_path: Path) -> None:
    servers = ToolServers(McpConfig(servers={"t": stdio_server()}), log_dir=tmp_path)
    try:
        tools, _ = await servers.list_tools()
        crashed = await servers.call(_tool(tools, "t.crash"), {})
        assert crashed.is_error and crashed.text == "t: the server stopped"
        again = await servers.call(_tool(tools, "t.add"), {"a": 1, "b": 1})
        assert again.is_error and again.text == "t: the server stopped"
        _, problems = await servers.list_tools()
        assert problems == {"t": "t: the server stopped"}
    finally:
        await servers.aclose()


async def test_a_hanging_tool_hits_the_time_limit_and_the_server_goes_on(tmp_path: Path) -> None:
    config = McpConfig(servers={"t": stdio_server()}, call_timeout_s=1.0)
    servers = ToolServers(config, log_dir=tmp_path)
    try:
        tools, _ = await servers.list_tools()
        hung = await servers.call(_tool(tools, "t.hang"), {"seconds": 120})
        assert hung.is_error and hung.text == "the tool took longer than 1 s and was stopped"
        assert (await servers.call(_tool(tools, "t.add"), {"a": 1, "b": 1})).text == "2"
    finally:
        await servers.aclose()


async def test_a_huge_result_is_cut_to_the_cap(tmp_path: Path) -> None:
    config = McpConfig(servers={"t": stdio_server()}, result_max_kb=4)
    servers = ToolServers(config, log_dir=tmp_path)
    try:
        tools, _ = await servers.list_tools()
        result = await servers.call(_tool(tools, "t.huge"), {"kb": 100})
        assert result.cut_from == 100 * 1024
        assert result.text.startswith("x" * 4096)
        assert result.text.endswith("\n[result cut to 4 KB of 100 KB]")
        assert len(result.text.encode()) < 4096 + 64
    finally:
        await servers.aclose()


async def test_a_hostile_result_reaches_nobody_as_escape_sequences(tmp_path: Path) -> None:
    servers = ToolServers(McpConfig(servers={"t": stdio_server()}), log_dir=tmp_path)
    try:
        tools, _ = await servers.list_tools()
        result = await servers.call(_tool(tools, "t.hostile"), {})
        assert "\x1b" not in result.text and "\x07" not in result.text
        assert result.text.startswith("␛]0;pwned␇␛[2J")
    finally:
        await servers.aclose()


async def test_lines_past_the_limit_are_skipped_and_their_request_answered_with_an_error() -> None:
    from tui.tools.stdio_transport import MESSAGE_TOO_LARGE, Oversized, bounded_lines, read_message

    async def chunks():
        yield b'{"jsonrpc":"2.0","method":"ping","id":1}\n{"jsonrpc":"2.0","id":7,"result":{"t":"' + b"x" * 100
        for _ in range(1000):
            yield b"y" * 1000
        yield b'"}}\n{"result":{"t":"' + b"z" * 500 + b'"},"jsonrpc":"2.0","id":"abc"}\nnot json\n'

    lines = [line async for line in bounded_lines(chunks(), 200)]
    assert len(lines) == 4 and lines[0] == b'{"jsonrpc":"2.0","method":"ping","id":1}' and lines[3] == b"not json"
    first, second = lines[1], lines[2]
    assert isinstance(first, Oversized) and first.size == 39 + 100 + 1_000_000 + 3 and len(first.head) == 256
    assert isinstance(second, Oversized) and second.tail.endswith(b'"id":"abc"}')
    answers = [read_message(line, server="s", max_bytes=200).message for line in (first, second)]
    assert [(answer.id, answer.error.code) for answer in answers] == [
        (7, MESSAGE_TOO_LARGE),
        ("abc", MESSAGE_TOO_LARGE),
    ]
    assert answers[0].error.message == "it is 1.0 MB, over the 0.0 MB lchat reads"
    assert isinstance(read_message(lines[3], server="s", max_bytes=200), ValueError)


async def test_a_server_log_is_private_even_one_an_older_lchat_left_open(tmp_path: Path) -> None:
    old = tmp_path / "mcp-t.log"
    old.write_text("an older run\n")
    old.chmod(0o644)
    servers = ToolServers(McpConfig(servers={"t": stdio_server()}), log_dir=tmp_path)
    try:
        tools, problems = await servers.list_tools()
        assert problems == {} and tools
    finally:
        await servers.aclose()
    assert old.stat().st_mode & 0o777 == 0o600
    assert old.read_text().startswith("an older run\n")
