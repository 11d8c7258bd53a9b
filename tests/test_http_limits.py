"""tui.guard.http_limits on both httpx flavours: whole replies bounded, streams bounded by line or event
(never in total), compression undone under the bound, and the error findable behind a library's own."""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import httpx2
import pytest

from tui.guard.http_limits import Limits, ReplyRefused, limit_client, limited_transport, refused_reply

LIMITS = Limits(body=1000, line=100)
STREAM_ASK = {"model": "m", "stream": True}


def client(http: Any, chunks: list[bytes], *, kind: str, status: int = 200, encoding: str = "") -> Any:
    """An AsyncClient whose every reply is `chunks`, as `kind`, through the limiting transport."""

    async def body() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    def answer(request: Any) -> Any:
        headers = {"content-type": kind} | ({"content-encoding": encoding} if encoding else {})
        return http.Response(status, headers=headers, content=body())

    return http.AsyncClient(transport=limited_transport(http, LIMITS, inner=http.MockTransport(answer)))


async def read(api: Any, *, ask: dict[str, Any] | None = None) -> bytes:
    async with api:
        response = await api.post("http://server/x", json=ask or {})
        return response.content


@pytest.mark.parametrize("http", [httpx, httpx2])
async def test_a_whole_reply_stops_past_the_limit(http: Any) -> None:
    api = client(http, [b"x" * 600, b"x" * 600], kind="application/json")
    with pytest.raises(http.StreamError) as caught:
        await read(api)
    assert isinstance(caught.value, ReplyRefused) and str(caught.value) == "a reply of over 1000 bytes"
    assert refused_reply(RuntimeError("wrapped")) is None
    wrapped = RuntimeError("the library's own")
    wrapped.__cause__ = caught.value
    assert refused_reply(wrapped) is caught.value


@pytest.mark.parametrize("http", [httpx, httpx2])
async def test_a_stream_is_bounded_by_line_not_in_total(http: Any) -> None:
    lines = [b'{"n": %d}\n' % n for n in range(300)]  # About 3000 bytes: past the whole-reply bound.
    assert await read(client(http, lines, kind="application/x-ndjson"), ask=STREAM_ASK) == b"".join(lines)
    endless = [b'{"n": 1}\n{"content": "', *[b"x" * 40] * 5]
    with pytest.raises(ReplyRefused, match="a line of over"):
        await read(client(http, endless, kind="application/x-ndjson"), ask=STREAM_ASK)


async def test_an_event_is_bounded_whole_and_its_blank_line_may_straddle_chunks() -> None:
    events = [b"data: 1\n", b"\ndata: 2\n", b"\n"] * 40  # Every blank line split across two chunks.
    assert await read(client(httpx2, events, kind="text/event-stream"), ask=STREAM_ASK) == b"".join(events)
    short_lines = [b"data: " + b"x" * 20 + b"\n"] * 10  # One event of short lines that never ends.
    with pytest.raises(ReplyRefused, match="an event of over"):
        await read(client(httpx2, short_lines, kind="text/event-stream"), ask=STREAM_ASK)


@pytest.mark.parametrize(("status", "ask"), [(500, STREAM_ASK), (200, {"stream": False})])
async def test_a_stream_type_is_read_whole_when_no_stream_was_asked_for_or_it_is_an_error(
    status: int, ask: dict[str, Any]
) -> None:
    lines = [b'{"n": 1}\n'] * 200
    with pytest.raises(ReplyRefused, match="a reply of over"):
        await read(client(httpx, lines, kind="application/x-ndjson", status=status), ask=ask)


async def test_compression_is_undone_under_the_bound() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    small = packer.compress(b"y" * 500) + packer.flush()
    assert await read(client(httpx, [small], kind="application/json", encoding="gzip")) == b"y" * 500
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    bomb = packer.compress(b" " * 50_000_000) + packer.flush()
    with pytest.raises(ReplyRefused, match="a reply of over"):
        await read(client(httpx, [bomb], kind="application/json", encoding="gzip"))
    with pytest.raises(ReplyRefused, match="compressed as 'br', which lchat did not ask for"):
        await read(client(httpx, [b"??"], kind="application/json", encoding="br"))


def test_a_sync_client_with_whole_types_bounds_only_those() -> None:
    """The hub's shape: JSON bounded whole, a model file (octet-stream) left to its caller's checks."""

    def answer(request: Any) -> Any:
        kind = "application/json" if request.url.path == "/api" else "application/octet-stream"
        return httpx2.Response(200, headers={"content-type": kind}, content=iter([b"z" * 600] * 5))

    limits = Limits(body=1000, line=100, whole_types=("application/json",))
    with limit_client(httpx2.Client(transport=httpx2.MockTransport(answer)), httpx2, limits) as api:
        assert api.get("http://hub/file").content == b"z" * 3000
        with pytest.raises(httpx2.StreamError, match="a reply of over 1000 bytes"):
            api.get("http://hub/api")
