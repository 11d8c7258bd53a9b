"""The model switcher and F8 in a real terminal: tmux at 80x24, driven by send-keys, against a
loopback Ollama and a loopback OpenAI-compatible server named lms."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.fake_openai import OpenAIState, start_openai
from tui.config.paths import Paths

if shutil.which("tmux") is None and not os.environ.get("CI"):
    pytest.skip("tmux is not installed (CI installs it)", allow_module_level=True)


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], capture_output=True, text=True, check=True).stdout


def screen(session: str) -> str:
    return tmux("capture-pane", "-t", session, "-p")


def wait_for(session: str, text: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(session)
        if text in shown:
            return shown
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; the screen was:\n{shown}")


def wait_until(session: str, check, what: str, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    shown = ""
    while time.monotonic() < deadline:
        shown = screen(session)
        if check(shown):
            return shown
        time.sleep(0.2)
    raise AssertionError(f"never {what}; the screen was:\n{shown}")


def choose_lms_qwen3(session: str) -> None:
    """ctrl+l, type lms/qwen3, Enter once the list shows only lms's qwen3 (sent earlier, Enter
    would join the typed letters still queued, which lchat reads as one paste)."""
    keys(session, "C-l")
    wait_for(session, "qwen3:8b")  # The switcher is open on every model.
    keys(session, "lms/qwen3", literal=True)
    wait_until(
        session,
        lambda shown: "lms/qwen3" in shown and "qwen3:8b" not in shown and "lms · " in shown,
        "filtered to lms/qwen3",
    )
    keys(session, "Enter")
    wait_for(session, "Using qwen3 (lms)")


def keys(session: str, *names: str, literal: bool = False) -> None:
    tmux("send-keys", "-t", session, *(["-l"] if literal else []), *names)


@pytest.fixture
def lchat_80x24(lchat_home: Path) -> Iterator[str]:
    """lchat in an 80x24 tmux pane with Ollama (qwen3:8b) and lms (qwen3) to choose from."""
    ollama_state = OllamaState()
    ollama_state.add("qwen3:8b")
    ollama, lms = start_ollama(ollama_state), start_openai(OpenAIState(models=["qwen3"]))
    lchat_home.mkdir(parents=True, exist_ok=True)
    (lchat_home / "config.toml").write_text(
        f'[ollama]\nhosts = ["{ollama.url}"]\n\n[[servers]]\nname = "lms"\nbase_url = "{lms.url}/v1"\n'
    )
    session = f"lchat-{uuid.uuid4().hex[:8]}"
    command = f"TERM=xterm-256color LCHAT_HOME={lchat_home} {sys.executable} -m tui"
    tmux("new-session", "-d", "-s", session, "-x", "80", "-y", "24", command)
    try:
        wait_for(session, "Ask anything")
        yield session
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
        ollama.stop()
        lms.stop()


def conversation_row(paths: Paths) -> tuple[str, str, str, dict]:
    with sqlite3.connect(paths.database) as db:
        backend, model, prompt, params = db.execute(
            "SELECT backend, model, system_prompt, params FROM conversations ORDER BY id DESC LIMIT 1"
        ).fetchone()
    return backend, model, prompt, json.loads(params)


def test_switcher_shows_the_query_and_picks_backend_slash_name(lchat_80x24: str, paths: Paths) -> None:
    session = lchat_80x24
    keys(session, "C-l")
    shown = wait_for(session, "qwen3:8b")
    assert "Switch model: type a few letters" in shown
    keys(session, "Escape")
    wait_until(session, lambda shown: "qwen3:8b" not in shown, "closed the switcher")
    choose_lms_qwen3(session)  # What is typed shows, the list filters, Enter picks lms's qwen3.
    assert conversation_row(paths)[:2] == ("lms", "qwen3")
    keys(session, "C-l")  # Opened again: an empty query and every model.
    shown = wait_for(session, "qwen3:8b")
    assert "Switch model: type a few letters" in shown and "lms/qwen3" not in shown
    keys(session, "Escape")


def test_f8_at_80x24_tab_reaches_save_and_enter_saves(lchat_80x24: str, paths: Paths) -> None:
    session = lchat_80x24
    choose_lms_qwen3(session)
    keys(session, "F8")
    wait_for(session, "System prompt")
    keys(session, "Be terse.", literal=True)
    wait_for(session, "Be terse.")
    for _ in range(5):  # temperature, top p, max tokens, context length, seed
        keys(session, "Tab")
    shown = wait_for(session, "Seed")
    keys(session, "42", literal=True)
    wait_for(session, "42")
    keys(session, "Tab")  # stop strings
    shown = wait_for(session, "Stop strings")
    if "Thinking" in shown:  # The model offers thinking levels: their field comes next.
        keys(session, "Tab")
    keys(session, "Tab")  # Save
    time.sleep(0.5)
    shown = screen(session)
    assert "Save" in shown and "Cancel" in shown and "Stop strings" in shown, shown
    keys(session, "Enter")
    wait_for(session, "Settings saved")  # The toast wraps at 80 columns.
    backend, model, prompt, params = conversation_row(paths)
    assert (backend, model, prompt) == ("lms", "qwen3", "Be terse.")
    assert params.get("seed") == 42
