"""A server's streamed bytes made valid UTF-8 before the openai SDK decodes them strictly.

The SDK decodes each event line with a strict `.decode("utf-8")`, so one bad byte from a
server would end the answer. Ollama's client replaces such bytes with U+FFFD; this gives
OpenAI-compatible servers the same treatment. Imported only once httpx2 is (see tui.engines.openai.engine).
"""

from __future__ import annotations

import codecs
from collections.abc import AsyncIterator
from typing import cast

import httpx2


async def repair_utf8(response: httpx2.Response) -> None:
    """httpx response hook: wrap the body so invalid UTF-8 arrives as U+FFFD.

    A body compressed despite our Accept-Encoding: identity reaches here already undone by
    tui.guard.http_limits (gzip, deflate) or refused there; one still marked is left alone."""
    if response.headers.get("content-encoding", "identity").strip().lower() == "identity":
        # Hooked on an AsyncClient only, whose responses always carry an async stream.
        response.stream = _RepairedStream(cast(httpx2.AsyncByteStream, response.stream))


class _RepairedStream(httpx2.AsyncByteStream):
    def __init__(self, inner: httpx2.AsyncByteStream) -> None:
        self._inner = inner

    async def __aiter__(self) -> AsyncIterator[bytes]:
        # Incremental, so a character split between two chunks stays whole.
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        async for chunk in self._inner:
            text = decoder.decode(chunk)
            if text:
                yield text.encode("utf-8")
        rest = decoder.decode(b"", final=True)
        if rest:
            yield rest.encode("utf-8")

    async def aclose(self) -> None:
        await self._inner.aclose()
