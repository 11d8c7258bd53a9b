"""Every HTTP reply lchat reads from a server, bounded: a whole body, or one line or event of a stream.

The `ollama`, `openai` and MCP clients read an error body or a model list whole and buffer a
stream line until it ends, so a broken or hostile server could make lchat hold whatever it
sends. `limit_client` wraps an httpx (or httpx2) client's transports so each reply's bytes are
counted as they arrive (after decompression: a gzip bomb is counted by what it expands to) and
the read stops one chunk past the limit, with `ReplyRefused`.
"""

from __future__ import annotations

import functools
import re
import zlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

BODY_MAX_BYTES = 16 * 1024 * 1024
"""The most lchat reads of a reply that is not a stream: a model list, /api/show, an error body."""
LINE_MAX_BYTES = 8 * 1024 * 1024
"""The most lchat reads of one NDJSON line or one server-sent event; a streamed answer may run
longer than this, but each piece of it may not."""
STREAM_TYPES = ("application/x-ndjson", "text/event-stream")
DECODED = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
"""Content encodings lchat undoes itself, piece by piece under the bound (zlib's window bits)."""
_PIECE = 65536
_ASKS_TO_STREAM = re.compile(rb'"stream"\s*:\s*true')
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class ReplyRefused(Exception):
    """A reply lchat stopped reading; str() says what the server sent ("a reply of over 16 MB")."""


class ReplyTooLarge(ReplyRefused):
    """A reply (or one line or event of a stream) passed its limit; nothing past it was read."""

    def __init__(self, what: str, limit: int) -> None:
        self.what = what
        """"reply", "line" or "event"."""
        self.limit = limit
        super().__init__(f"{'an' if what[0] in 'aeiou' else 'a'} {what} of over {mb(limit)}")


def mb(size: int) -> str:
    """`size` bytes as "16 MB", "2.5 MB", "64 KB" or "1000 bytes"."""
    if size < 1024 or size < 1_048_576 and size % 1024:
        return f"{size} bytes"
    if size < 1_048_576:
        return f"{size // 1024} KB"
    return f"{size / 1_048_576:.{0 if size % 1_048_576 == 0 else 1}f} MB"


def refused_reply(error: BaseException | None) -> ReplyRefused | None:
    """The ReplyRefused behind `error`, which a client library may have wrapped in its own error."""
    for _ in range(8):  # A chain of causes is short; a cycle must not loop.
        if error is None or isinstance(error, ReplyRefused):
            return error
        error = error.__cause__ or error.__context__
    return None


@dataclass(frozen=True)
class Limits:
    """What one client reads at most."""

    body: int = BODY_MAX_BYTES
    line: int = LINE_MAX_BYTES
    streams_asked: bool = True
    """A reply is read as a stream only when the request's JSON said "stream": true (Ollama and
    OpenAI-compatible servers); False trusts the reply's content type alone (MCP's long-lived SSE)."""


def limit_client(client: Any, http: Any, limits: Limits = Limits()) -> Any:
    """`client` (an `http.AsyncClient`, `http` being the httpx or httpx2 module) with every transport
    it would use, proxies' included, reading at most `limits`; returns `client`."""
    transport = _classes(http)[0]
    client._transport = transport(client._transport, limits)
    client._mounts = {
        pattern: None if inner is None else transport(inner, limits) for pattern, inner in client._mounts.items()
    }
    return client


def limited_transport(http: Any, limits: Limits, inner: Any = None) -> Any:
    """A transport for `http.AsyncClient(transport=...)`: `inner` (or a plain one) reading at most `limits`."""
    return _classes(http)[0](inner or http.AsyncHTTPTransport(), limits)


def _is_stream(request: Any, response: Any, limits: Limits) -> bool:
    """Whether `response` is read line by line (or event by event) rather than whole."""
    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if response.status_code >= 400 or kind not in STREAM_TYPES:
        return False  # An error body is read whole by every client: bound it whole.
    if not limits.streams_asked:
        return True
    try:
        content = request.content
    except Exception:  # noqa: BLE001 - a streamed request body: not one of ours asking for a stream
        return False
    return bool(_ASKS_TO_STREAM.search(content))


async def _bounded(
    chunks: AsyncIterator[bytes], *, whole: int | None, piece: int, events: bool
) -> AsyncIterator[bytes]:
    """`chunks`, failing once the body passes `whole` bytes, or (whole None) once one line, or one
    event when `events`, passes `piece` bytes."""
    seen = for_piece = 0
    carry = b""  # The last bytes of the previous chunk: a blank line may straddle two.
    async for chunk in chunks:
        seen += len(chunk)
        if whole is not None:
            if seen > whole:
                raise ReplyTooLarge("reply", whole)
        else:
            window = carry + chunk
            end = _last_end(window, events)
            for_piece = len(window) - end if end >= 0 else for_piece + len(chunk)
            carry = window[-3:]
            if for_piece > piece:
                raise ReplyTooLarge("event" if events else "line", piece)
        yield chunk


def _last_end(data: bytes, events: bool) -> int:
    """Where the last line (or event) that ends in `data` ends, or -1."""
    if not events:
        end = max(data.rfind(b"\n"), data.rfind(b"\r"))
        return end + 1 if end >= 0 else -1
    ends = list(_EVENT_END.finditer(data))
    return ends[-1].end() if ends else -1


async def _decompressed(chunks: AsyncIterator[bytes], encoding: str) -> AsyncIterator[bytes]:
    """`chunks` decompressed, at most _PIECE bytes at a time, so a bomb is stopped by the bound
    before it has expanded."""
    inflate = zlib.decompressobj(DECODED[encoding])
    try:
        async for chunk in chunks:
            data = chunk
            while data and not inflate.eof:
                out = inflate.decompress(data, _PIECE)
                data = inflate.unconsumed_tail
                if out:
                    yield out
        while not inflate.eof and (out := inflate.decompress(b"", _PIECE)):
            yield out
    except zlib.error:
        raise ReplyRefused(f"a reply marked {encoding} that does not decompress") from None


@functools.cache
def _classes(http: Any) -> tuple[Any, Any]:
    """The transport and error classes for the httpx-like module `http`."""

    class Refused(ReplyRefused, http.StreamError):
        """Raised as the library's own StreamError too, so a client that handles stream errors
        (the MCP SDK does) handles this one."""

    class Stream(http.AsyncByteStream):
        def __init__(self, chunks: AsyncIterator[bytes], inner: Any) -> None:
            self.chunks = chunks
            self.inner = inner

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self.chunks:
                    yield chunk
            except ReplyRefused as error:
                raise Refused(str(error)) from None

        async def aclose(self) -> None:
            await self.inner.aclose()

    class Transport(http.AsyncBaseTransport):
        def __init__(self, inner: Any, limits: Limits) -> None:
            self.inner = inner
            self.limits = limits

        async def handle_async_request(self, request: Any) -> Any:
            request.headers["Accept-Encoding"] = "identity"  # Compressed, a reply's size says little.
            response = await self.inner.handle_async_request(request)
            if not isinstance(response.stream, http.AsyncByteStream):
                return response
            chunks: AsyncIterator[bytes] = response.stream.__aiter__()
            encoding = response.headers.get("content-encoding", "identity").strip().lower()
            if encoding in DECODED:  # Sent anyway: undone here, under the bound, not by httpx.
                del response.headers["content-encoding"]
                chunks = _decompressed(chunks, encoding)
            elif encoding != "identity":
                chunks = _refused(f"a reply compressed as {encoding[:20]!r}, which lchat did not ask for")
            stream = _is_stream(request, response, self.limits)
            events = stream and "event-stream" in response.headers.get("content-type", "")
            whole = None if stream else self.limits.body
            bounded = _bounded(chunks, whole=whole, piece=self.limits.line, events=events)
            response.stream = Stream(bounded, response.stream)
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

    return Transport, Refused


async def _refused(reason: str) -> AsyncIterator[bytes]:
    raise ReplyRefused(reason)
    yield b""  # An async generator that fails when first read.
