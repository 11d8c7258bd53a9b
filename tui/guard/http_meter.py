"""The byte counting behind tui.guard.http_limits, with no HTTP library: one reply's chunks in, the
same bytes out (decompressed where the server compressed them), or ReplyRefused past a bound."""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator

DECODED = {"gzip": zlib.MAX_WBITS | 16, "x-gzip": zlib.MAX_WBITS | 16, "deflate": zlib.MAX_WBITS}
"""Content encodings undone here, piece by piece under the bound (zlib's window bits)."""
PIECE = 65536
"""The most one compressed chunk expands to at a time."""
_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


class ReplyRefused(Exception):
    """A reply lchat stopped reading; str() says what the server sent ("a reply of over 16 MB")."""


class ReplyTooLarge(ReplyRefused):
    """A reply (or one line or event of a stream) passed its limit; nothing past it was read."""

    def __init__(self, what: str, limit: int) -> None:
        self.what = what
        """"reply", "line" or "event"."""
        self.limit = limit
        super().__init__(f"{'an' if what[0] in 'aeiou' else 'a'} {what} of over {size_text(limit)}")


def size_text(size: int) -> str:
    """`size` bytes as "16 MB", "2.5 MB", "64 KB" or "1000 bytes"."""
    if size < 1024 or size < 1_048_576 and size % 1024:
        return f"{size} bytes"
    if size < 1_048_576:
        return f"{size // 1024} KB"
    return f"{size / 1_048_576:.{0 if size % 1_048_576 == 0 else 1}f} MB"


class Meter:
    """Counts one reply: the whole of it against `whole`, or (whole None) each line, or each
    event when `events`, against `piece` (both None: not at all, but still decompressed);
    compressed replies are counted as they expand."""

    def __init__(self, *, whole: int | None, piece: int | None, events: bool, encoding: str = "identity") -> None:
        self.whole, self.piece, self.events = whole, piece, events
        self.seen = self.in_piece = 0
        self.carry = b""
        """The last bytes of the previous chunk: a blank line may straddle two."""
        self.refusal = ""
        if encoding != "identity" and encoding not in DECODED:
            self.refusal = f"a reply compressed as {encoding[:20]!r}, which lchat did not ask for"
        self.inflate = zlib.decompressobj(DECODED[encoding]) if encoding in DECODED else None
        self.encoding = encoding

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """What `chunk` holds, as it may be read; raises ReplyRefused where the bound is passed."""
        if self.refusal:
            raise ReplyRefused(self.refusal)
        for data in self._expand(chunk) if self.inflate else (chunk,):
            self._count(data)
            yield data

    def finish(self) -> Iterator[bytes]:
        """What a compressed reply still held when its last chunk came."""
        if self.inflate is not None:
            yield from self.feed(b"")

    def _expand(self, chunk: bytes) -> Iterator[bytes]:
        assert self.inflate is not None
        data = chunk
        try:
            while not self.inflate.eof:
                out = self.inflate.decompress(data, PIECE)
                data = self.inflate.unconsumed_tail
                if not out and not data:
                    return
                if out:
                    yield out
        except zlib.error:
            raise ReplyRefused(f"a reply marked {self.encoding} that does not decompress") from None

    def _count(self, data: bytes) -> None:
        self.seen += len(data)
        if self.whole is not None:
            if self.seen > self.whole:
                raise ReplyTooLarge("reply", self.whole)
            return
        if self.piece is None:
            return
        window = self.carry + data
        end = _last_end(window, self.events)
        self.in_piece = len(window) - end if end >= 0 else self.in_piece + len(data)
        self.carry = window[-3:]
        if self.in_piece > self.piece:
            raise ReplyTooLarge("event" if self.events else "line", self.piece)


def _last_end(data: bytes, events: bool) -> int:
    """Where the last line (or event) that ends in `data` ends, or -1."""
    if not events:
        end = max(data.rfind(b"\n"), data.rfind(b"\r"))
        return end + 1 if end >= 0 else -1
    ends = list(_EVENT_END.finditer(data))
    return ends[-1].end() if ends else -1
