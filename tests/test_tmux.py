"""lchat in a real terminal: tmux at 80x24 under several TERM values, driven by send-keys, and GNU
screen (run inside that tmux pane, so the screen is read the same way)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tui.engines.embedded.discovery import starter_model_path

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


def wait_for_list_item(session: str, at_least: int, timeout: float = 60) -> int:
    """The number of the last list item on screen once it reaches at_least: a fast machine
    scrolls the first items away between two looks, so no one fixed line can be waited for."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux("capture-pane", "-t", session, "-p")
        numbers = [int(n) for n in re.findall(r"[│█ ]\s*(\d+)\. \w", screen)]
        if numbers and numbers[-1] >= at_least:
            return numbers[-1]
        time.sleep(0.1)
    raise AssertionError(f"no list item reached {at_least}; the screen was:\n{screen}")


LONG_QUESTION = "Write a numbered list of 50 fruits."
"""At temperature 0 the starter model answers it with a few hundred tokens, seconds of streaming."""


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


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def running(pid: int) -> bool:
    """Alive and not a zombie waiting for a reaper (state Z after the closing paren of its name)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@contextmanager
def long_answer_in_tmux(lchat_home: Path) -> Iterator[tuple[str, int, int]]:
    """lchat in a 100x40 tmux pane, answering LONG_QUESTION: (session, lchat's pid, the number of
    the last list item on screen). The session is gone afterwards."""
    lchat_home.mkdir(parents=True, exist_ok=True)
    (lchat_home / "config.toml").write_text("[chat]\ntemperature = 0.0\nmax_tokens = 400\n[engine]\nthreads = 1\n")
    session = f"lchat-{uuid.uuid4().hex[:8]}"
    tmux(
        "new-session",
        "-d",
        "-s",
        session,
        "-x",
        "100",
        "-y",
        "40",
        f"TERM=xterm-256color LCHAT_HOME={lchat_home} {sys.executable} -m tui",
    )
    try:
        wait_for(session, "Ask anything")
        tmux("send-keys", "-t", session, "-l", LONG_QUESTION)
        tmux("send-keys", "-t", session, "Enter")
        shown = wait_for_list_item(session, 5)  # the numbered list is streaming in
        pid = int(tmux("display-message", "-p", "-t", session, "#{pane_pid}").strip())
        yield session, pid, shown
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def wait_until_gone(pids: set[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(running(pid) for pid in pids):
        time.sleep(0.1)
    return not any(running(pid) for pid in pids)


def test_kill_9_of_the_tui_mid_answer_keeps_what_was_shown(lchat_home: Path) -> None:
    from tests.after_kill import question_and_answer_after_kill
    from tui.domain import MessageStatus

    with long_answer_in_tmux(lchat_home) as (_, pid, shown):
        time.sleep(0.7)  # past a couple of commit intervals, still answering
        engine_children = children_of(pid)
        assert engine_children, "the engine child should be running"
        os.kill(pid, signal.SIGKILL)
        assert wait_until_gone(engine_children, 10), "the engine outlived lchat"  # it notices the orphaning
    saved_question, answer = question_and_answer_after_kill(lchat_home / "data" / "history.db")
    assert saved_question.content == LONG_QUESTION
    assert answer.status is MessageStatus.INTERRUPTED
    assert f"\n{shown}. " in answer.content  # at least as far as the screen showed at the kill


@pytest.mark.parametrize("how", ["hangup", "terminate"])
def test_a_dropped_terminal_or_sigterm_quits_as_ctrl_q_does(how: str, lchat_home: Path) -> None:
    with long_answer_in_tmux(lchat_home) as (session, pid, shown):
        if how == "hangup":
            tmux("kill-session", "-t", session)  # what a dropped SSH connection does: SIGHUP
        else:
            os.kill(pid, signal.SIGTERM)
        assert wait_until_gone({pid}, 15), "lchat did not quit"
    # Read raw, before any start-up repair: quitting itself marked the answer.
    with sqlite3.connect(lchat_home / "data" / "history.db") as raw:
        status, content = raw.execute("SELECT status, content FROM messages WHERE role = 'assistant'").fetchone()
    assert status == "interrupted"
    assert f"\n{shown}. " in content


def test_an_unbracketed_paste_while_answering_is_text_and_saving_goes_on(lchat_home: Path) -> None:
    """5,000 lines pasted where the terminal does not bracket pastes (tmux paste-buffer without -p)
    arrive as ~270,000 key events: the answer keeps reaching the disk, SIGTERM is honoured, and
    the lines land in the composer as text (not as 5,000 sends). (On 2 busy cores the whole paste
    takes longer to absorb than this test waits, so it checks that lines arrive, not the last one.)"""
    from tui.ui.exit_signals import GRACE_S

    pasted = lchat_home / "paste.txt"
    lines = [f"{n}: the quick brown fox jumps over the lazy dog" for n in range(5_000)]
    database = lchat_home / "data" / "history.db"

    def answer() -> tuple[str, int]:
        with sqlite3.connect(database) as raw:
            return raw.execute("SELECT status, length(content) FROM messages WHERE role = 'assistant'").fetchone()

    with long_answer_in_tmux(lchat_home) as (session, pid, _):
        pasted.write_text("\n".join(lines))
        tmux("load-buffer", "-b", session, str(pasted))
        at_paste = answer()
        assert at_paste[0] != "complete", "the answer ended before the paste: nothing would be shown"
        tmux("paste-buffer", "-b", session, "-t", session)
        deadline = time.monotonic() + 20
        while answer() == at_paste and time.monotonic() < deadline:
            time.sleep(0.25)
        grown = answer()
        assert grown[1] > at_paste[1], "the answer stopped reaching the disk"
        wait_for(session, ": the quick brown fox", timeout=30)  # Pasted lines show in the composer.
        on_disk = answer()[1]
        os.kill(pid, signal.SIGTERM)
        assert wait_until_gone({pid}, GRACE_S + 5), "lchat did not honour SIGTERM"
        with sqlite3.connect(database) as raw:
            questions = raw.execute("SELECT count(*) FROM messages WHERE role = 'user'").fetchone()[0]
    status, length = answer()
    assert status in ("interrupted", "complete") and length >= on_disk
    assert questions == 1  # No pasted line was sent.
