"""The stdio transport for MCP servers: the SDK's, with every line it reads bounded.

The SDK's stdio client keeps a server's line however long it grows (a 50 MB tool result took 32 s
and 354 MB before it was cut). This one stops keeping a line past `max_bytes` and skips the rest
of it; the request the line answered gets an error (MESSAGE_TOO_LARGE) instead, so the call ends
with a clear line. Starting and stopping the server process are the SDK's own helpers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import anyio.lowlevel

from tui.guard.safe_text import one_line

if TYPE_CHECKING:
    from mcp.client.stdio import StdioServerParameters

logger = logging.getLogger(__name__)

MESSAGE_TOO_LARGE = -32042
"""The error code of a request whose answer was longer than the limit (and so never read)."""
NOT_MCP = "an MCP server wrote something that is not MCP"
"""The one line a user is shown (with the log's path) when a server's stdout is not JSON-RPC."""
_KEPT = 256
"""Bytes kept from each end of a skipped line, to find which request it answered."""
_ID = rb'"id"\s*:\s*(-?\d{1,18}|"[^"\\]{0,200}")'
_ID_BEFORE_BODY = re.compile(rb'^[^{]*\{(?:(?!"(?:result|error|params)").)*?' + _ID, re.DOTALL)
_ID_AT_END = re.compile(_ID + rb"\s*\}\s*$")


@dataclass(frozen=True)
class Oversized:
    """A line longer than the limit: its size, and its two ends."""

    size: int
    head: bytes
    tail: bytes


async def bounded_lines(stream: AsyncIterator[bytes], max_bytes: int) -> AsyncIterator[bytes | Oversized]:
    """Each line of `stream` (without its newline), or an Oversized for one longer than `max_bytes`;
    never more than `max_bytes` plus one chunk is held."""
    line = bytearray()
    over, size, head, tail = False, 0, b"", b""
    async for chunk in stream:
        start = 0
        while start <= len(chunk):
            end = chunk.find(b"\n", start)
            piece = chunk[start : len(chunk) if end < 0 else end]
            if not over and len(line) + len(piece) > max_bytes:
                over, size, head = True, len(line), (bytes(line[:_KEPT]) + piece[:_KEPT])[:_KEPT]
                line.clear()
            if over:
                size += len(piece)
                tail = (tail + piece[-_KEPT:])[-_KEPT:]
            else:
                line += piece
            if end < 0:
                break
            yield Oversized(size, head, tail) if over else bytes(line)
            line.clear()
            over, size, head, tail = False, 0, b"", b""
            start = end + 1


def read_message(line: bytes | Oversized, *, server: str, max_bytes: int) -> Any:
    """The SDK's SessionMessage for one line; an error answer for an oversized one, when the request
    it answered can be found; else the exception the session gets for an unreadable line."""
    from mcp.shared.message import SessionMessage
    from mcp_types import jsonrpc_message_adapter

    if isinstance(line, Oversized):
        found = _ID_BEFORE_BODY.search(line.head) or _ID_AT_END.search(line.tail)
        logger.warning(
            "MCP server %s sent a message of %d bytes, over the limit of %d; skipped", server, line.size, max_bytes
        )
        if found is None:
            return ValueError(
                f"a message of {line.size} bytes (over {max_bytes}) answering no request lchat could find"
            )
        raw = found.group(1).decode()
        error = {"code": MESSAGE_TOO_LARGE, "message": f"it is {_mb(line.size)}, over the {_mb(max_bytes)} lchat reads"}
        answer = {"jsonrpc": "2.0", "id": int(raw) if raw[0] != '"' else raw[1:-1], "error": error}
        return SessionMessage(jsonrpc_message_adapter.validate_python(answer))
    try:
        return SessionMessage(jsonrpc_message_adapter.validate_json(line, by_name=False))
    except ValueError as error:
        shown = one_line(line[:200].decode("utf-8", "replace"), 200)
        logger.warning(
            "MCP server %s wrote a line that is not JSON-RPC: %s", server, shown, extra={"tell_user": NOT_MCP}
        )
        return error


@asynccontextmanager
async def bounded_stdio_client(
    params: StdioServerParameters, *, errlog: TextIO, max_bytes: int, server: str
) -> AsyncIterator[tuple[Any, Any]]:
    """Start the server and give the session's (read, write) streams, as the SDK's stdio_client does."""
    from mcp.client import stdio as sdk
    from mcp.shared.message import SessionMessage

    command = await sdk._get_executable_command(params.command)
    process = await sdk._create_platform_compatible_process(
        command=command,
        args=params.args,
        env=sdk.get_default_environment() | (params.env or {}),
        errlog=errlog,
        cwd=params.cwd,
    )
    # No awaits between the spawn and the task group, or a cancellation there would leak the process.
    read_writer, read_stream = anyio.create_memory_object_stream[SessionMessage | Exception](0)
    write_stream, write_reader = anyio.create_memory_object_stream[SessionMessage](0)
    writer_done = anyio.Event()

    async def stdout_reader() -> None:
        assert process.stdout is not None
        try:
            async with read_writer:
                try:
                    async for line in bounded_lines(process.stdout, max_bytes):
                        try:
                            await read_writer.send(read_message(line, server=server, max_bytes=max_bytes))
                        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                            return
                finally:
                    await sdk._drain_stdout(process)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError):
            pass  # Closed under the read: the session sees the stream end.

    async def stdin_writer() -> None:
        assert process.stdin is not None
        try:
            async with write_reader:
                async for message in write_reader:
                    data = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send((data + "\n").encode())
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await read_writer.aclose()
        finally:
            writer_done.set()

    async def shutdown() -> None:
        read_stream.close()
        write_stream.close()
        with anyio.move_on_after(sdk._WRITER_FLUSH_TIMEOUT):
            await writer_done.wait()
        await sdk._stop_server_process(process)
        await sdk._aclose_all(read_stream, write_stream, read_writer, write_reader)
        await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as group:
        group.start_soon(stdout_reader)
        group.start_soon(stdin_writer)
        try:
            yield read_stream, write_stream
        finally:
            with anyio.CancelScope(shield=True):  # The server never outlives a cancelled caller.
                await shutdown()
            group.cancel_scope.cancel()


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"
