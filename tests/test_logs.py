"""Log records and library warnings go to logs/lchat.log (0600 whatever the umask), never raw to the
terminal; a command shows one line at most pointing there."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

PROBE = """
import logging, sys, warnings
from pathlib import Path
from tui.cli.logs import setup_logging
path = setup_logging(Path(sys.argv[1]), tell=sys.argv[2] != "tui")
warnings.warn("a library's \\x1b]0;pwned\\x07 warning", UserWarning)
for _ in range(3):
    try:
        raise ValueError("broken")
    except ValueError:
        logging.getLogger("mcp.client.stdio").exception("Failed to parse")
logging.getLogger("httpx").info("HTTP Request: POST")
"""


def _run(log_dir: Path, mode: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", PROBE, str(log_dir), mode],
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: os.umask(0),  # noqa: PLW1509 - single-threaded test
    )


def test_a_command_shows_one_line_and_the_log_keeps_the_rest(tmp_path: Path) -> None:
    result = _run(tmp_path, "command")
    assert result.returncode == 0
    log = tmp_path / "lchat.log"
    assert result.stderr == f"lchat: a library reported an error; see {log}\n"
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert text.count("Traceback") == 3 and "ValueError: broken" in text
    assert "a library's ␛]0;pwned␇ warning" in text and "\x1b" not in text  # safe to cat
    assert "HTTP Request" not in text  # INFO chatter is not kept


def test_the_tui_shows_nothing(tmp_path: Path) -> None:
    result = _run(tmp_path, "tui")
    assert result.returncode == 0 and result.stderr == ""
    assert "Failed to parse" in (tmp_path / "lchat.log").read_text()
