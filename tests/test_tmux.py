"""lchat in a real terminal: tmux at 80x24 under several TERM values, driven by send-keys, and GNU
screen (run inside that tmux pane, so the screen is read the same way)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tui.engines.discovery import starter_model_path

if shutil.which("tmux") is None and not os.environ.get("CI"):
    pytest.skip("tmux is not installed (CI installs it)", allow_module_level=True)
pytestmark = pytest.mark.skipif(starter_model_path() is None, reason="starter model not installed")


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def session_alive(session: str) -> bool:
    # has-session fails both when the session is gone and when the server exited with it
    return subprocess.run(["tmux", "has-session", "-t", session], capture_output=True).returncode == 0


def wait_for(session: str, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-t", session, "-p")
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{screen}")


def in_gnu_screen(command: str) -> str:
    if shutil.which("screen") is None:
        if os.environ.get("CI"):
            raise AssertionError("GNU screen is not installed (.ci/run installs it)")
        pytest.skip("GNU screen is not installed")
    # -fn: no flow control, so ctrl+q reaches lchat; screen sets its own TERM inside.
    return f"screen -fn -q -S lchat-screen-{uuid.uuid4().hex[:6]} sh -c '{command}'"


@pytest.mark.parametrize(
    ("term", "multiplexer"),
    [("xterm-256color", "tmux"), ("screen-256color", "tmux"), ("linux", "tmux"), ("screen-256color", "screen")],
)
def test_chat_at_80x24(term: str, multiplexer: str, lchat_home: Path) -> None:
    lchat_home.mkdir(parents=True, exist_ok=True)
    (lchat_home / "config.toml").write_text("[chat]\ntemperature = 0.0\nmax_tokens = 60\n[engine]\nthreads = 1\n")
    session = f"lchat-{uuid.uuid4().hex[:8]}"
    command = f"TERM={term} LCHAT_HOME={lchat_home} {sys.executable} -m tui"
    if multiplexer == "screen":
        command = f"TERM={term} " + in_gnu_screen(f"LCHAT_HOME={lchat_home} {sys.executable} -m tui")
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        wait_for(session, "Ask anything")
        tmux("send-keys", "-t", session, "-l", "What is the capital of France? Answer in one sentence.")
        tmux("send-keys", "-t", session, "Enter")
        screen = wait_for(session, "tok/s")  # the answer's header once it completed
        assert "Paris" in screen
        assert "╭─ Chats" not in screen  # the side panes folded away at 80 columns
        tmux("send-keys", "-t", session, "F2")
        screen = wait_for(session, "╭─ Chats")
        assert "What is the capital" in screen
        tmux("send-keys", "-t", session, "C-q")
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and session_alive(session):
            time.sleep(0.2)
        assert not session_alive(session), "lchat did not quit"
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
