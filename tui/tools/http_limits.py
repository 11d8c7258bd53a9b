"""Streamable HTTP answers bounded as stdio lines are: a JSON answer stops being read past the limit.

The SDK bounds each server-sent event (we pass the same limit) but reads a JSON answer whole; this
transport wraps httpx's own and cuts a JSON body off at `limit` bytes, so the request fails with a
line saying why instead of lchat holding whatever the server sends.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx2


class CappedJsonTransport(httpx2.AsyncBaseTransport):
    """httpx's transport, with every JSON response body cut off past `limit` bytes."""

    def __init__(self, limit: int, inner: httpx2.AsyncBaseTransport | None = None) -> None:
        self.limit = limit
        self.inner = inner or httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        json = response.headers.get("content-type", "").startswith("application/json")
        if json and isinstance(response.stream, httpx2.AsyncByteStream):
            response.stream = _Capped(response.stream, self.limit)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _Capped(httpx2.AsyncByteStream):
    def __init__(self, stream: httpx2.AsyncByteStream, limit: int) -> None:
        self.stream = stream
        self.limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self.stream:
            seen += len(chunk)
            if seen > self.limit:
                raise httpx2.StreamError(f"the answer is over the {self.limit / 1_048_576:.1f} MB lchat reads")
            yield chunk

    async def aclose(self) -> None:
        await self.stream.aclose()
