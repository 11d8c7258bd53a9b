"""Reading a file or a stream from outside without letting it run away: only regular files, opened
without blocking, and never more than a limit (plus one byte, to know it was passed)."""

from __future__ import annotations

import errno
import os
import select
import stat
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from tui.guard.safe_text import terminal_safe

CHUNK = 1 << 20
"""Bytes read at a time."""
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
"""O_NONBLOCK: a FIFO opens at once instead of waiting for a writer; O_NOCTTY: a terminal
device named by mistake never becomes lchat's controlling terminal."""
_KINDS: tuple[tuple[Callable[[int], bool], str], ...] = (
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class Unreadable(ValueError):
    """A file or stream that was not read; str() names it and says why, in a user's words."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name} {reason}")
        self.name, self.reason = name, reason


class TooLarge(Unreadable):
    """More bytes than the limit (`size` when the file says how many; None for a stream)."""

    def __init__(self, name: str, limit: int, size: int | None = None) -> None:
        figure = f" ({size / 1e6:.1f} MB)" if size is not None else ""
        super().__init__(name, f"is larger than {megabytes(limit)}{figure}")
        self.limit, self.size = limit, size


def megabytes(limit: int) -> str:
    """ "20 MB", "0.5 MB"."""
    return f"{limit / 1e6:g} MB"


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    return next((words for test, words in _KINDS if test(mode)), "not a file")


def open_regular(path: Path, *, what: str = "file", limit: int | None = None) -> BinaryIO:
    """`path` (symlinks followed) opened for reading bytes if it is a regular file, no larger than
    `limit` when one is given; else Unreadable (TooLarge for the size).

    The open never blocks and a FIFO, a device (/dev/zero) or a socket is refused by what `fstat`
    says of the opened file, so nothing can swap it in between the check and the read.
    """
    shown = shown_path(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except FileNotFoundError:
        raise Unreadable(shown, "does not exist (any more)") from None
    except OSError as error:
        if error.errno == errno.ENXIO:  # A socket (it cannot be opened): say what it is.
            raise Unreadable(shown, f"is not a regular file ({_kind_at(path)})") from None
        if error.errno == errno.EISDIR:
            raise Unreadable(shown, f"is a folder, not a {what}") from None
        raise Unreadable(shown, f"cannot be read: {error.strerror}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise Unreadable(shown, f"is a folder, not a {what}")
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable(shown, f"is not a regular file ({kind_of(info.st_mode)})")
        if limit is not None and info.st_size > limit:
            raise TooLarge(shown, limit, info.st_size)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: Path, limit: int, *, what: str = "file") -> bytes:
    """The bytes of the regular file at `path`, at most `limit` of them (see `open_regular`).

    A file may say less than it holds (/proc, a file still growing): the read stops at `limit` + 1.
    """
    with open_regular(path, what=what, limit=limit) as handle:
        try:
            data = _read_upto(handle.read, limit + 1)
        except OSError as error:
            raise Unreadable(shown_path(path), f"cannot be read: {error.strerror}") from None
    if len(data) > limit:
        raise TooLarge(shown_path(path), limit)
    return data


def shown_path(path: Path, limit: int = 160) -> str:
    """`path` as one terminal-safe line; a long one loses its start, so the file's name stays."""
    flat = " ".join(str(path).split())
    return terminal_safe(flat if len(flat) <= limit else "…" + flat[-(limit - 1) :])


def read_stream(
    stream: BinaryIO, limit: int, *, name: str, waiting: Callable[[], None] | None = None, patience_s: float = 1.0
) -> bytes:
    """At most `limit` bytes of `stream` up to its end (stdin: `< /dev/zero` stops at the limit).

    `waiting` is called once when nothing has arrived after `patience_s`, so a pipe that stays
    open and silent is named instead of hanging without a word.
    """
    if waiting is not None and not _ready(stream, patience_s):
        waiting()
    data = _read_upto(stream.read, limit + 1)
    if len(data) > limit:
        raise TooLarge(name, limit)
    return data


def _read_upto(read: Callable[[int], bytes], most: int) -> bytes:
    """Read chunks until the end or `most` bytes, whichever comes first."""
    chunks: list[bytes] = []
    total = 0
    while total < most:
        chunk = read(min(CHUNK, most - total))
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def _ready(stream: BinaryIO, timeout_s: float) -> bool:
    """Whether `stream` has something to read (or its end) within `timeout_s`; True when it cannot tell."""
    try:
        ready, _, _ = select.select([stream.fileno()], [], [], timeout_s)
    except (OSError, ValueError, AttributeError):  # No descriptor (a test's BytesIO) or not selectable.
        return True
    return bool(ready)


def _kind_at(path: Path) -> str:
    try:
        return kind_of(os.stat(path).st_mode)
    except OSError:
        return "not a file"
