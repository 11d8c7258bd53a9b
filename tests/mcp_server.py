"""A real MCP server for the tests, on the `mcp` SDK's own MCPServer.

python mcp_server.py                 stdio
python mcp_server.py http PORT       streamable HTTP on 127.0.0.1:PORT/mcp
python mcp_server.py fail            exits at once, saying why on stderr
"""

from __future__ import annotations

import asyncio
import os
import sys

from mcp.server.mcpserver import Context, MCPServer

server = MCPServer("testtools")


@server.tool()
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@server.tool()
def weather(city: str) -> str:
    """Today's weather in a city."""
    return f"Sunny, 21 C in {city} ({os.environ.get('UNITS', 'metric')})"


@server.tool()
def huge(kb: int) -> str:
    """A result of `kb` kilobytes."""
    return "x" * (kb * 1024)


@server.tool()
def hostile() -> str:
    """A result full of terminal escape sequences."""
    return "\x1b]0;pwned\x07\x1b[2J\x1b[31mred[/]\x1b[0m [bold]markup[/bold]"


@server.tool()
async def hang(seconds: float) -> str:
    """Sleeps for `seconds`."""
    await asyncio.sleep(seconds)
    return "woke up"


@server.tool()
def crash() -> str:
    """Kills the server."""
    os._exit(3)


@server.tool()
def failing() -> str:
    """Always fails."""
    raise ValueError("the tool broke")


@server.tool()
def whoami(ctx: Context) -> str:
    """The Authorization header this request came with (to test headers_env)."""
    return (ctx.headers or {}).get("authorization", "")


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "stdio"
    if mode == "fail":
        print("cannot open the database: permission denied", file=sys.stderr)
        sys.exit(2)
    if mode == "http":
        server.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        server.run()
