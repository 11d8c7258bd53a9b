"""lchat's TUI in a real terminal (tmux) against an Ollama double in the test process. Textual
draws on stderr, so stderr stays the terminal; what lchat prints after leaving the full screen (a
traceback, a last line) is read from the pane and its scrollback, and the exit status from a file."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ESCAPES = re.compile(r"[\x1b\x80-\x9f]")
"""ESC and the C1 controls: none may reach a terminal from outside text."""


def need_tmux() -> None:
    if shutil.which("tmux") is None:
        if os.environ.get("CI"):
            raise AssertionError("tmux is not installed (.ci/run installs it)")
        pytest.skip("tmux is not installed")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


@dataclass
class Pane:
    """One lchat in one tmux session."""

    session: str
    home: Path
    status: Path

    def screen(self) -> str:
        return tmux("capture-pane", "-t", self.session, "-p")

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")

    def keys(self, *keys: str, literal: bool = False) -> None:
        tmux("send-keys", "-t", self.session, *(["-l"] if literal else []), *keys)

    def lchat_pid(self) -> int:
        """lchat itself (the pane runs a shell that records its exit status)."""
        shell = int(tmux("display-message", "-p", "-t", self.session, "#{pane_pid}").strip())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for task in Path(f"/proc/{shell}/task").iterdir():
                children = (task / "children").read_text().split()
                if children:
                    return int(children[0])
            time.sleep(0.1)
        raise AssertionError("lchat's process was not found under the pane's shell")

    def exit_status(self, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.status.exists() and self.status.read_text().strip():
                return int(self.status.read_text())
            time.sleep(0.1)
        raise AssertionError(f"lchat did not exit; the screen was:\n{self.screen()}")

    def printed(self) -> str:
        """Everything on the pane and in its scrollback (after lchat left: what it printed)."""
        return tmux("capture-pane", "-t", self.session, "-p", "-S", "-")


@contextmanager
def lchat_tui(home: Path, config: str, *, size: tuple[int, int] = (120, 40)) -> Iterator[Pane]:
    """The TUI with `config`; the pane stays (remain-on-exit) so what lchat left is readable."""
    need_tmux()
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(config)
    session = f"lchat-{uuid.uuid4().hex[:8]}"
    pane = Pane(session, home, home / "status.txt")
    command = (
        f"cd {REPO} && env -u OLLAMA_HOST -u OLLAMA_MODELS -u HF_HOME TERM=xterm-256color LCHAT_HOME={home} "
        f"HOME={home} XDG_CONFIG_HOME={home}/xdg XDG_DATA_HOME={home}/xdg PYTHONPATH={REPO} "
        f"{sys.executable} -m tui; echo $? > {pane.status}; sleep 600"
    )
    tmux("new-session", "-d", "-s", session, "-x", str(size[0]), "-y", str(size[1]), command)
    # A server started by another test may size windows its own way: say it again.
    subprocess.run(["tmux", "resize-window", "-t", session, "-x", str(size[0]), "-y", str(size[1])], check=False)
    try:
        yield pane
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def ollama_config(url: str, model: str, extra: str = "") -> str:
    """Answers from `model` of the Ollama double at `url` (never the starter model); no stats
    sampling (nothing but lchat's own work on 2 busy cores)."""
    return (
        f'[chat]\nmodel = "{model}"\n[ollama]\nhosts = ["{url}"]\nread_timeout = 30\n[stats]\nenabled = false\n{extra}'
    )
