"""`lchat mcp import FILE` and `lchat mcp list`: MCP servers from the shell."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.cli.command import Context
from tui.guard.safe_text import echo, one_line, terminal_safe

if TYPE_CHECKING:  # Imported when an action runs: building the parser keeps `lchat --version` instant.
    from tui.config import Config, McpServerConfig


class ImportProblem(Exception):
    """A servers file lchat cannot read; str() is one line."""


COMMANDS = ("mcp",)
USES_SERVICES = False


def register(commands: argparse._SubParsersAction) -> None:
    """Add `lchat mcp ...` to lchat's argument parser."""
    mcp = commands.add_parser("mcp", help="MCP tool servers: import a Claude-Desktop-style file, list tools")
    actions = mcp.add_subparsers(dest="mcp_command", metavar="ACTION", required=True)
    imported = actions.add_parser("import", help='add the servers of a {"mcpServers": {...}} JSON file to the config')
    imported.add_argument("file", type=Path, metavar="FILE")
    actions.add_parser("list", help="start the configured servers and list their tools and prompt cost")


def run(args: argparse.Namespace, context: Context) -> int:
    """Run one `lchat mcp` action; 0 done, 1 failed (one line on stderr says why)."""
    import asyncio

    from tui.config.write import save_config

    config, config_file = context.config, context.paths.config_file

    if args.mcp_command == "import":
        try:
            servers, notes = read_servers(args.file)
        except ImportProblem as problem:
            echo(f"lchat: {problem}", file=sys.stderr)
            return 1
        for note in notes:
            echo(f"lchat: {note}", file=sys.stderr)
        if not servers:
            echo("lchat: no server imported", file=sys.stderr)
            return 1
        replaced = sorted(config.mcp.servers.keys() & servers.keys())
        config.mcp.servers.update(servers)
        save_config(config, config_file)
        names = ", ".join(one_line(name, 40) for name in servers)
        echo(
            f"imported {len(servers)} MCP server(s) into {config_file}: {names}"
            + (f" (replacing {', '.join(one_line(name, 40) for name in replaced)})" if replaced else "")
        )
        with_env = [one_line(name, 40) for name, server in servers.items() if server.env]
        if with_env:
            echo(
                f"{config_file} now holds the env values of {', '.join(with_env)}; "
                f"it stays readable by you only (mode 600)"
            )
        return 0
    return asyncio.run(_list(config, context.paths.log_dir))


SERVERS_MAX_BYTES = 1_000_000
"""A Claude-Desktop-style server list is a few KB; a larger file is refused unread."""


def read_servers(path: Path) -> tuple[dict[str, McpServerConfig], list[str]]:
    """The servers of a Claude-Desktop-style file, and a line for each one left out or changed."""
    from tui.guard.bounded_files import Unreadable, read_regular_file

    try:  # Regular files only, non-blocking and bounded, like every file lchat imports.
        data = json.loads(read_regular_file(path, SERVERS_MAX_BYTES, what="server list").decode("utf-8"))
    except Unreadable as refused:
        raise ImportProblem(str(refused)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as error:
        why = "nested too deeply" if isinstance(error, RecursionError) else error
        raise ImportProblem(f"cannot read {path}: {why}") from None
    entries = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(entries, dict):
        raise ImportProblem(f'{path} has no "mcpServers" object')
    servers: dict[str, McpServerConfig] = {}
    notes: list[str] = []
    for name, entry in entries.items():
        shown = one_line(str(name), 40)
        if not isinstance(entry, dict):
            notes.append(f"server {shown} skipped: not an object")
            continue
        if not name or terminal_safe(name) != name or "\n" in name or "\t" in name:
            notes.append(f"server {shown} skipped: a name must be one line of printable text")
            continue
        try:
            servers[str(name)] = _server(str(name), entry, notes)
        except ImportProblem as problem:
            notes.append(f"server {shown} skipped: {problem}")
    return servers, notes


def _server(name: str, entry: dict[str, Any], notes: list[str]) -> McpServerConfig:
    from tui.config import McpServerConfig

    kind = entry.get("type", "")
    if kind == "sse":
        raise ImportProblem("the old SSE transport is not supported (streamable HTTP and stdio are)")
    url, command = entry.get("url", ""), entry.get("command", "")
    if not isinstance(url, str) or not isinstance(command, str) or not (url or command):
        raise ImportProblem('needs "command" or "url"')
    args, env, headers = entry.get("args", []), entry.get("env", {}), entry.get("headers", {})
    if not (isinstance(args, list) and all(isinstance(arg, str) for arg in args)):
        raise ImportProblem('"args" must be a list of strings')
    if not (isinstance(env, dict) and all(isinstance(value, str) for value in env.values())):
        raise ImportProblem('"env" must map names to strings')
    if not isinstance(headers, dict):
        raise ImportProblem('"headers" must be an object')
    headers_env = {}
    for header in headers:  # Header values are credentials: lchat keeps only a variable's name.
        variable = re.sub(r"[^A-Z0-9]+", "_", f"LCHAT_MCP_{name}_{header}".upper())
        headers_env[str(header)] = variable
        notes.append(
            f"server {one_line(name, 40)}: header {one_line(str(header), 40)} is not stored; "
            f"set ${variable} to its value"
        )
    return McpServerConfig(
        command="" if url else command,
        args=list(args) if not url else [],
        env={str(key): value for key, value in env.items()},
        url=url,
        headers_env=headers_env,
    )


async def _list(config: Config, log_dir: Path) -> int:
    from tui.tools.approval import ApprovalPolicy
    from tui.tools.catalog import total_tokens
    from tui.tools.servers import ToolServers

    if not config.mcp.servers:
        echo("no MCP server is configured ([mcp.servers.NAME] in the config, or `lchat mcp import FILE`)")
        return 0
    servers = ToolServers(config.mcp, log_dir=log_dir)
    try:
        tools, problems = await servers.list_tools()
    finally:
        await servers.aclose()
    policy = ApprovalPolicy(allow=config.mcp.allow, servers=list(config.mcp.servers))
    for name in config.mcp.servers:
        mine = [tool for tool in tools if tool.server == name]
        if name in problems:
            echo(problems[name])  # It names the server.
            continue
        count = f"{len(mine)} tool{'' if len(mine) == 1 else 's'}"
        echo(f"{one_line(name, 40)}: {count}, about {total_tokens(mine)} prompt tokens")
        for tool in mine:
            allowed = " (allowed without asking)" if policy.pre_approved(tool) else ""
            echo(f"  {one_line(tool.name, 40)}  ~{tool.tokens} tokens{allowed}  {one_line(tool.description, 100)}")
    for problem in policy.allow_problems(tools):
        echo(f"lchat: warning: {problem}", file=sys.stderr)
    return 1 if problems and not tools else 0
