"""`lchat mcp import` and `lchat mcp list`, run as a user runs them."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

from tests.test_cli import lchat
from tests.test_tools_servers import SERVER


def test_import_claude_desktop_servers_keeps_the_config_private(lchat_home: Path, tmp_path: Path) -> None:
    servers = tmp_path / "claude_desktop_config.json"
    servers.write_text(
        json.dumps(
            {
                "mcpServers": {
                    "weather": {
                        "command": sys.executable,
                        "args": [SERVER],
                        "env": {"UNITS": "metric", "API_KEY": "k-123"},
                    },
                    "remote": {
                        "type": "http",
                        "url": "http://127.0.0.1:9/mcp",
                        "headers": {"Authorization": "Bearer abc"},
                    },
                    "old": {"type": "sse", "url": "http://127.0.0.1:9/sse"},
                    "broken": {"args": ["x"]},
                }
            }
        )
    )
    result = lchat("mcp", "import", str(servers))
    assert result.returncode == 0, result.stderr
    config_file = lchat_home / "config.toml"
    assert config_file.stat().st_mode & 0o777 == 0o600
    assert "imported 2 MCP server(s)" in result.stdout
    assert "now holds the env values of weather" in result.stdout
    assert "server old skipped: the old SSE transport is not supported" in result.stderr
    assert 'server broken skipped: needs "command" or "url"' in result.stderr
    assert "set $LCHAT_MCP_REMOTE_AUTHORIZATION to its value" in result.stderr
    written = tomllib.loads(config_file.read_text())["mcp"]["servers"]
    assert written["weather"] == {  # Only what differs from the defaults is written.
        "command": sys.executable,
        "args": [SERVER],
        "env": {"UNITS": "metric", "API_KEY": "k-123"},
    }
    assert written["remote"]["headers_env"] == {"Authorization": "LCHAT_MCP_REMOTE_AUTHORIZATION"}
    assert "Bearer abc" not in config_file.read_text()


def test_import_of_a_file_without_servers_fails_in_one_line(tmp_path: Path) -> None:
    servers = tmp_path / "servers.json"
    servers.write_text('{"servers": {}}')
    result = lchat("mcp", "import", str(servers))
    assert result.returncode == 1
    assert result.stderr.strip() == f'lchat: {servers} has no "mcpServers" object'


def test_list_shows_tools_costs_and_failed_servers(lchat_home: Path) -> None:
    lchat_home.mkdir(parents=True)
    (lchat_home / "config.toml").write_text(
        f'[mcp]\nallow = ["t.add", "nosuch"]\n'
        f"[mcp.servers.t]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(SERVER)}]\n"
        f'[mcp.servers.bad]\ncommand = {json.dumps(sys.executable)}\nargs = [{json.dumps(SERVER)}, "fail"]\n'
    )
    result = lchat("mcp", "list")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("t: 8 tools, about ") and lines[0].endswith(" prompt tokens")
    assert any(line.startswith("  add  ~") and "(allowed without asking)  Add two integers." in line for line in lines)
    assert "bad: could not start: it exited (it said: cannot open the database: permission denied)" in lines
    assert "allow entry 'nosuch' is not server.tool; it allows nothing" in result.stderr
