"""Every HTTP reply lchat reads from a server, bounded: a whole body, or one line or event of a stream.

The `ollama`, `openai`, MCP and Hugging Face clients read an error body or a model list whole
and buffer a stream line until it ends, so a broken or hostile server could make lchat hold
whatever it sends. `limit_client` wraps an httpx (or httpx2) client's transports so each reply's bytes are
counted as they arrive (after decompression: a gzip bomb is counted by what it expands to) and
the read stops one chunk past the limit, with `ReplyRefused`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from tui.guard.http_meter import Meter, ReplyRefused, ReplyTooLarge

__all__ = ["Limits", "ReplyRefused", "ReplyTooLarge", "limit_client", "limited_transport", "refused_reply"]

BODY_MAX_BYTES = 16 * 1024 * 1024
"""The most lchat reads of a reply that is not a stream: a model list, /api/show, an error body."""
LINE_MAX_BYTES = 8 * 1024 * 1024
"""The most lchat reads of one NDJSON line or one server-sent event; a streamed answer may run
longer than this, but each piece of it may not."""
STREAM_TYPES = ("application/x-ndjson", "text/event-stream")
_ASKS_TO_STREAM = re.compile(rb'"stream"\s*:\s*true')


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
    whole_types: tuple[str, ...] = ()
    """When set, only replies of these content types (and error replies) are bounded whole; the
    rest (a model file the caller writes to disk under its own checks) are not."""

    def whole_unbounded(self, response: Any) -> bool:
        """Whether `response` is one the caller reads under its own bound (see whole_types)."""
        if not self.whole_types or response.status_code >= 400:
            return False
        kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
        return not kind.startswith(self.whole_types)


def limit_client(client: Any, http: Any, limits: Limits = Limits()) -> Any:
    """`client` (an `http.AsyncClient` or `http.Client`, `http` being the httpx or httpx2 module) with
    every transport it would use, proxies' included, reading at most `limits`; returns `client`."""
    transport = _classes(http)[0 if isinstance(client, http.AsyncClient) else 1]
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


def _meter(request: Any, response: Any, limits: Limits) -> Meter:
    """The Meter for `response`, whose content encoding it takes over from httpx."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding != "identity":
        del response.headers["content-encoding"]  # Undone (or refused) by the Meter, not httpx.
    stream = _is_stream(request, response, limits)
    events = stream and "event-stream" in response.headers.get("content-type", "")
    if limits.whole_unbounded(response):
        return Meter(whole=None, piece=None, events=False, encoding=encoding)
    return Meter(whole=None if stream else limits.body, piece=limits.line, events=events, encoding=encoding)


@functools.cache
def _classes(http: Any) -> tuple[Any, Any]:
    """The async and sync transport classes for the httpx-like module `http`."""

    class Refused(ReplyRefused, http.StreamError):
        """Raised as the library's own StreamError too, so a client that handles stream errors
        (the MCP SDK does) handles this one."""

    class AsyncStream(http.AsyncByteStream):
        def __init__(self, inner: Any, meter: Meter) -> None:
            self.inner, self.meter = inner, meter

        async def __aiter__(self) -> AsyncIterator[bytes]:
            try:
                async for chunk in self.inner:
                    for data in self.meter.feed(chunk):
                        yield data
                for data in self.meter.finish():
                    yield data
            except ReplyRefused as error:
                raise Refused(str(error)) from None

        async def aclose(self) -> None:
            await self.inner.aclose()

    class SyncStream(http.SyncByteStream):
        def __init__(self, inner: Any, meter: Meter) -> None:
            self.inner, self.meter = inner, meter

        def __iter__(self) -> Iterator[bytes]:
            try:
                for chunk in self.inner:
                    yield from self.meter.feed(chunk)
                yield from self.meter.finish()
            except ReplyRefused as error:
                raise Refused(str(error)) from None

        def close(self) -> None:
            self.inner.close()

    class AsyncTransport(http.AsyncBaseTransport):
        def __init__(self, inner: Any, limits: Limits) -> None:
            self.inner, self.limits = inner, limits

        async def handle_async_request(self, request: Any) -> Any:
            request.headers["Accept-Encoding"] = "identity"  # Compressed, a reply's size says little.
            response = await self.inner.handle_async_request(request)
            if isinstance(response.stream, http.AsyncByteStream):
                response.stream = AsyncStream(response.stream, _meter(request, response, self.limits))
            return response

        async def aclose(self) -> None:
            await self.inner.aclose()

    class SyncTransport(http.BaseTransport):
        def __init__(self, inner: Any, limits: Limits) -> None:
            self.inner, self.limits = inner, limits

        def handle_request(self, request: Any) -> Any:
            request.headers["Accept-Encoding"] = "identity"
            response = self.inner.handle_request(request)
            if isinstance(response.stream, http.SyncByteStream):
                response.stream = SyncStream(response.stream, _meter(request, response, self.limits))
            return response

        def close(self) -> None:
            self.inner.close()

    return AsyncTransport, SyncTransport
