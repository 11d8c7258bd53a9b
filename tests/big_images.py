"""Image bombs for the tests: PNGs that declare many pixels in a small file, written by hand
(a 1-bit image of zero rows) so making one costs neither the memory nor the time of its pixels."""

from __future__ import annotations

import struct
import zlib


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def sparse_png(width: int, height: int) -> bytes:
    """A black 1-bit PNG of `width` x `height`: a few hundred KB at most, however many pixels."""
    row = b"\0" * (1 + (width + 7) // 8)  # filter byte 0, then the packed row
    rows_per_block = max(1, (4 << 20) // len(row))
    compressor = zlib.compressobj(9)
    block = row * rows_per_block
    parts = []
    done = 0
    while done < height:
        count = min(rows_per_block, height - done)
        parts.append(compressor.compress(block if count == rows_per_block else row * count))
        done += count
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"".join(parts)) + _chunk(b"IEND", b"")
