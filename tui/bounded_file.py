"""Reading a file named from outside (a config, an import): regular files only, never blocking,
never more than a limit.

A FIFO would block an ordinary open until someone writes to it, and /dev/zero (or a symlink
to it) never ends; both are refused before a byte is read.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

from tui.safe_text import one_line


class FileRefused(OSError):
    """A file that is not read: not there, not a regular file, or over its limit; str() says why."""


def open_regular(path: Path, *, what: str = "file", max_bytes: int | None = None) -> BinaryIO:
    """`path` opened for reading bytes if it is a regular file (and, with `max_bytes`, no larger),
    else FileRefused. The open never blocks, and the type is checked on the open descriptor, so
    a path swapped meanwhile cannot slip a FIFO or a device in."""
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
        facts = os.fstat(fd)
        if stat.S_ISDIR(facts.st_mode):
            raise FileRefused(f"{shown} is a folder, not a {what}")
        if not stat.S_ISREG(facts.st_mode):
            raise FileRefused(
                f"{shown} is not a regular file ({_kind(facts.st_mode)}); lchat reads a {what} only from one"
            )
        if max_bytes is not None and facts.st_size > max_bytes:
            raise FileRefused(too_big(shown, max_bytes, what))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular_file(path: Path, *, max_bytes: int, what: str = "file") -> bytes:
    """The bytes of the regular file `path`, at most `max_bytes` of them, else FileRefused.

    At most `max_bytes + 1` bytes are read, so a file that grows while it is read is caught too.
    """
    with open_regular(path, what=what, max_bytes=max_bytes) as handle:
        try:
            data = handle.read(max_bytes + 1)
        except OSError as error:
            raise FileRefused(f"{one_line(str(path), 120)} cannot be read: {error.strerror or error}") from None
    if len(data) > max_bytes:
        raise FileRefused(too_big(one_line(str(path), 120), max_bytes, what))
    return data


def too_big(shown: str, max_bytes: int, what: str) -> str:
    """The line that says a file is over its limit."""
    return f"{shown} is over {_size(max_bytes)}, the most lchat reads for a {what}"


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
