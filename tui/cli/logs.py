"""Where log records and library warnings go: lchat's log file, never the terminal lchat draws on.

Set up once per process by the command line's entry, for every command and the TUI. Libraries (the
MCP SDK, httpx, asyncio) log with tracebacks; those land in `logs/lchat.log` (0600), and a command
shows at most one line saying where to look.
"""

from __future__ import annotations

import logging
import os
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any

from tui.guard.safe_text import echo, terminal_safe

LOG_NAME = "lchat.log"
MAX_BYTES = 5 * 1_048_576
"""The log is rolled over to lchat.log.1 at this size, so a server spewing errors cannot fill the disk."""
TELL_USER = "tell_user"
"""A record's extra field: the line (without the log's path) a command shows the user for it."""


class _PrivateLog(RotatingFileHandler):
    """A rotating log file created 0600 whatever the umask, its lines made safe to `cat`."""

    def _open(self) -> Any:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(fd, 0o600)
        return open(fd, "a", encoding=self.encoding, errors=self.errors)

    def format(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().format(record))


class _OneLine(logging.Handler):
    """Tells the user, once per process, that something went to the log and where it is."""

    def __init__(self, path: Path) -> None:
        super().__init__(logging.WARNING)
        self.path, self.told = path, False

    def emit(self, record: logging.LogRecord) -> None:
        line = getattr(record, TELL_USER, None)
        if line is None and record.levelno >= logging.ERROR and not record.name.startswith("tui"):
            line = "a library reported an error"
        if line and not self.told:
            self.told = True
            echo(f"lchat: {line}; see {self.path}", file=sys.stderr)  # stderr as it is now, not at setup


def setup_logging(log_dir: Path, *, tell: bool) -> Path:
    """Send every log record and `warnings` warning to log_dir/lchat.log; with `tell` (a command,
    not the TUI) stderr gets one line at most. Calling it again replaces what it set up."""
    path = log_dir / LOG_NAME
    root = logging.getLogger()
    for handler in [handler for handler in root.handlers if getattr(handler, "lchat", False)]:
        root.removeHandler(handler)
        handler.close()
    handlers: list[logging.Handler] = [_PrivateLog(path, maxBytes=MAX_BYTES, backupCount=1, delay=True)]
    handlers[0].setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if tell:
        handlers.append(_OneLine(path))
    for handler in handlers:
        handler.lchat = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(logging.WARNING)  # httpx logs each request at INFO: not worth keeping.
    logging.captureWarnings(True)
    sys.unraisablehook = _unraisable  # "Exception ignored in ..." goes to the log too.
    return path


def _unraisable(unraisable: Any) -> None:
    error = unraisable.exc_value
    logging.getLogger("unraisable").warning(
        "%s: %s",
        unraisable.err_msg or "Exception ignored in",
        repr(unraisable.object),
        exc_info=(type(error), error, unraisable.exc_traceback) if error is not None else None,
    )
