"""The configured MCP servers, each started at first use and kept until lchat closes.

Each server lives in a task of its own that enters (and so exits) the `mcp` SDK's transport and
`ClientSession`; calls reach the session from any task. A server that cannot start or dies is
one line in `problems`; the others go on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from pathlib import Path
from typing import Any, TextIO

from tui.config import McpConfig, McpServerConfig
from tui.config.paths import make_private_dir, open_private
from tui.guard.safe_text import one_line
from tui.tools.catalog import ToolInfo, named
from tui.tools.results import ToolResult, capped, result_text

logger = logging.getLogger(__name__)

START_TIMEOUT_S = 30.0
"""Seconds a server may take to start and list its tools."""
MESSAGE_MAX_BYTES = 8 * 1_048_576
"""The longest message lchat reads from a stdio server (a tool's result is cut far below, to
result_max_kb); a longer one is skipped unread and its call ends with an error."""


def message_limit(result_max_kb: int) -> int:
    """Bytes of one stdio message lchat reads: 8 MB, or more where result_max_kb asks for large results."""
    return max(MESSAGE_MAX_BYTES, 8 * result_max_kb * 1024)


class ServerFailed(Exception):
    """A server could not start, or died; str() is one line naming it."""


class McpServer:
    """One configured server and its session, once started."""

    def __init__(
        self,
        name: str,
        config: McpServerConfig,
        *,
        log_dir: Path | None = None,
        message_max_bytes: int = MESSAGE_MAX_BYTES,
    ) -> None:
        self.name = name
        self.config = config
        self.log_dir = log_dir
        self.message_max_bytes = message_max_bytes
        self.problem = ""
        """Why the server is not usable (one line), or "" while it is or has not been tried."""
        self._session: Any = None
        self._tools: list[ToolInfo] = []
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._closing = asyncio.Event()
        self._log_from = 0
        """Where this run's lines start in the server's log file."""

    @property
    def running(self) -> bool:
        return self._session is not None and not self.problem

    @property
    def settled(self) -> bool:
        """Whether the server was tried: it runs, or failed with its line in `problem`."""
        return self._ready.is_set()

    async def tools(self) -> list[ToolInfo]:
        """The server's tools, starting it first if need be; raises ServerFailed."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"mcp server {self.name}")
        await self._ready.wait()
        if self.problem:
            raise ServerFailed(self.problem)
        return self._tools

    async def call(self, tool: str, arguments: Mapping[str, Any], *, timeout_s: float, max_bytes: int) -> ToolResult:
        """Run `tool`; a failure of the call (time limit, dead server) is an error result, not an exception."""
        from mcp.shared.exceptions import MCPError
        from mcp.types import CONNECTION_CLOSED

        from tui.tools.stdio_transport import MESSAGE_TOO_LARGE

        try:
            await self.tools()
        except ServerFailed as failed:
            return capped(str(failed), max_bytes, is_error=True)
        try:
            async with asyncio.timeout(timeout_s):
                result = await self._session.call_tool(tool, dict(arguments))
        except TimeoutError:
            return capped(f"the tool took longer than {timeout_s:g} s and was stopped", max_bytes, is_error=True)
        except MCPError as error:
            if error.code == MESSAGE_TOO_LARGE:
                return capped(f"the result was not read: {one_line(error.message, 200)}", max_bytes, is_error=True)
            if error.code == CONNECTION_CLOSED and self.config.url:  # Over HTTP one request failed, not the session.
                return capped(f"the call failed: {one_line(error.message, 300)}", max_bytes, is_error=True)
            if error.code != CONNECTION_CLOSED:
                return capped(f"the server refused the call: {one_line(error.message, 300)}", max_bytes, is_error=True)
            self._fail(f"{self.name}: the server stopped")
            return capped(self.problem, max_bytes, is_error=True)
        except Exception as error:
            self._fail(f"{self.name}: stopped answering ({type(error).__name__}: {error})")
            return capped(self.problem, max_bytes, is_error=True)
        return result_text(result, max_bytes)

    async def aclose(self) -> None:
        self._closing.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), 10)
            except (TimeoutError, asyncio.CancelledError):
                self._task.cancel()

    def _fail(self, why: str) -> None:
        self.problem = one_line(why, 300)
        logger.warning("MCP server %s", self.problem)
        self._closing.set()

    async def _run(self) -> None:
        from mcp import ClientSession

        try:
            async with AsyncExitStack() as stack:
                read, write = await stack.enter_async_context(await self._transport(stack))
                session = await stack.enter_async_context(ClientSession(read, write))
                async with asyncio.timeout(START_TIMEOUT_S):
                    await session.initialize()
                    listed = await _all_tools(session)
                self._tools = [
                    ToolInfo(self.name, tool.name, tool.description or "", tool.input_schema) for tool in listed
                ]
                self._session = session
                self._ready.set()
                await self._closing.wait()
        except TimeoutError:
            self._fail(f"{self.name}: did not start within {START_TIMEOUT_S:g} s{self._last_log_line()}")
        except BaseException as error:
            if not self._closing.is_set() or not self._session:
                self._fail(f"{self.name}: could not start: {_reason(error)}{self._last_log_line()}")
            if isinstance(error, asyncio.CancelledError):
                raise
        finally:
            self._session = None
            if not self.problem and not self._closing.is_set():
                self._fail(f"{self.name}: the connection closed")
            self._ready.set()

    async def _transport(self, stack: AsyncExitStack) -> AbstractAsyncContextManager[Any]:
        """The SDK transport for this server: stdio for a command, streamable HTTP for a URL."""
        config = self.config
        if config.url:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            headers = {}
            for header, variable in config.headers_env.items():
                value = os.environ.get(variable)
                if value is None:
                    raise ServerFailed(f"header {header} needs ${variable}, which is not set")
                headers[header] = value
            from tui.guard.http_limits import Limits, limited_transport

            # Each SSE event the SDK bounds itself (its error says so); ours is the backstop past it.
            limits = Limits(body=self.message_max_bytes, line=2 * self.message_max_bytes, streams_asked=False)
            client = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=headers,
                    timeout=httpx2.Timeout(30.0, read=300.0),
                    transport=limited_transport(httpx2, limits),
                )
            )
            return streamable_http_client(config.url, http_client=client, max_sse_event_size=self.message_max_bytes)
        if not config.command:
            raise ServerFailed("neither command nor url is set")
        from mcp.client.stdio import StdioServerParameters

        from tui.tools.stdio_transport import bounded_stdio_client

        params = StdioServerParameters(command=config.command, args=list(config.args), env=dict(config.env) or None)
        return bounded_stdio_client(
            params, errlog=self._errlog(stack), max_bytes=self.message_max_bytes, server=self.name
        )

    def _errlog(self, stack: AsyncExitStack) -> TextIO:
        """Where the server's stderr goes: its log file (never the terminal lchat draws on)."""
        if self.log_dir is None:
            return stack.enter_context(open(os.devnull, "w"))
        make_private_dir(self.log_dir)
        log = stack.enter_context(open_private(self._log_path(), append=True))
        os.fchmod(log.fileno(), 0o600)  # One an older lchat made 0644 is tightened too.
        self._log_from = log.seek(0, os.SEEK_END)
        return log

    def _log_path(self) -> Path:
        assert self.log_dir is not None
        return self.log_dir / f"mcp-{re.sub(r'[^A-Za-z0-9_.-]', '_', self.name).lstrip('.')}.log"

    def _last_log_line(self) -> str:
        """The last line the server wrote to stderr since it started, as a hint of why it failed."""
        if self.log_dir is None or not self._log_path().exists():
            return ""
        with open(self._log_path(), "rb") as log:
            log.seek(self._log_from)
            lines = [line for line in log.read().decode(errors="replace").splitlines() if line.strip()]
        return f" (it said: {one_line(lines[-1], 160)})" if lines else ""


class ToolServers:
    """Every configured server, by name."""

    def __init__(self, config: McpConfig, *, log_dir: Path | None = None) -> None:
        self.config = config
        limit = message_limit(config.result_max_kb)
        self.servers = {
            name: McpServer(name, server, log_dir=log_dir, message_max_bytes=limit)
            for name, server in config.servers.items()
        }

    async def list_tools(self, names: Sequence[str] | None = None) -> tuple[list[ToolInfo], dict[str, str]]:
        """The tools of the servers (all, or those named), started as needed, and each failed server's line."""
        chosen = [self.servers[name] for name in (names or self.servers) if name in self.servers]
        results = await asyncio.gather(*(server.tools() for server in chosen), return_exceptions=True)
        tools: list[ToolInfo] = []
        problems: dict[str, str] = {}
        for server, result in zip(chosen, results):
            if isinstance(result, BaseException):
                problems[server.name] = str(result) or type(result).__name__
            else:
                tools.extend(result)
        return named(tools), problems

    async def call(self, tool: ToolInfo, arguments: Mapping[str, Any]) -> ToolResult:
        return await self.servers[tool.server].call(
            tool.name, arguments, timeout_s=self.config.call_timeout_s, max_bytes=self.config.result_max_kb * 1024
        )

    async def aclose(self) -> None:
        await asyncio.gather(*(server.aclose() for server in self.servers.values()))


async def _all_tools(session: Any) -> list[Any]:
    """Every page of the server's tool list."""
    from mcp import types

    tools: list[Any] = []
    cursor: str | None = None
    while True:
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor) if cursor else None)
        tools.extend(page.tools)
        cursor = page.next_cursor
        if not cursor:
            return tools


def _reason(error: BaseException) -> str:
    """The innermost message of an error, unwrapping the exception groups of anyio task groups."""
    from mcp.shared.exceptions import MCPError
    from mcp.types import CONNECTION_CLOSED

    while isinstance(error, BaseExceptionGroup) and error.exceptions:
        error = error.exceptions[0]
    if isinstance(error, MCPError) and error.code == CONNECTION_CLOSED:
        return "it exited"
    return (
        f"{error}" if isinstance(error, ServerFailed | OSError) and str(error) else f"{type(error).__name__}: {error}"
    )
