"""Reading a file named from outside (a config, an import): regular files only, never blocking,
never more than a limit.

A FIFO would block an ordinary open until someone writes to it, and /dev/zero (or a symlink
to it) never ends; both are refused before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tui.safe_text import one_line


class FileRefused(OSError):
    """A file that is not read: not there, not a regular file, or over its limit; str() says why."""


def read_regular_file(path: Path, *, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of the regular file `path`, at most `max_bytes` of them, else FileRefused.

    The open is non-blocking and the type is checked on the open descriptor (no race with a
    swapped path); at most `max_bytes + 1` bytes are read, so a file that grows is caught too.
    """
    shown = one_line(str(path), 120)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise FileRefused(f"{shown} does not exist") from None
    except IsADirectoryError:
        raise FileRefused(f"{shown} is a folder, not a {what}") from None
    except OSError as error:
        raise FileRefused(f"{shown} cannot be read: {error.strerror or error}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise FileRefused(f"{shown} is a folder, not a {what}")
        if not stat.S_ISREG(mode):
            raise FileRefused(f"{shown} is not a regular file ({_kind(mode)}); lchat reads a {what} only from one")
        chunks: list[bytes] = []
        left = max_bytes + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except FileRefused:
        raise
    except OSError as error:
        raise FileRefused(f"{shown} cannot be read: {error.strerror or error}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > max_bytes:
        raise FileRefused(f"{shown} is over {_size(max_bytes)}, the most lchat reads for a {what}")
    return data


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"


def _size(count: int) -> str:
    return f"{count / 1_000_000:g} MB" if count >= 1_000_000 else f"{count / 1000:g} KB"
