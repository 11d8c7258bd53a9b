"""Each backend honours its own configured read timeout end to end: `lchat ask` against a double
that stalls mid-answer ends with one readable line naming the timeout, long before the 120 s
default, and keeps what arrived."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.fake_openai import OpenAIState, start_openai

STALL_S = 60.0
"""Far longer than the configured timeout, far shorter than the default: which one ended it shows."""


@pytest.mark.parametrize("backend", ["ollama", "openai"])
def test_a_stalled_stream_ends_at_the_configured_read_timeout(backend: str, lchat_home: Path) -> None:
    if backend == "ollama":
        state = OllamaState(chat_fault="stall", fault_after=2, stall_s=STALL_S)
        state.add("llama3.2:latest")
        served = start_ollama(state)
        config = f'[ollama]\nhosts = ["{served.url}"]\nread_timeout = 1\n'
        model = "llama3.2:latest"
    else:
        served = start_openai(OpenAIState(fault="stall", fault_after=1, stall_s=STALL_S))
        config = (
            f'[ollama]\nenabled = false\n[[servers]]\nname = "lm"\nbase_url = "{served.url}/v1"\nread_timeout = 1\n'
        )
        model = "lm/qwen2.5-7b-instruct"
    lchat_home.mkdir(parents=True, exist_ok=True)
    (lchat_home / "config.toml").write_text(config + "[stats]\nenabled = false\n")
    started = time.monotonic()
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tui", "ask", "-m", model, "hello"],
            capture_output=True,
            timeout=STALL_S,
            env=dict(os.environ),
            stdin=subprocess.DEVNULL,
        )
    finally:
        served.stop()
    took = time.monotonic() - started
    stderr = result.stderr.decode()
    assert result.returncode == 1, stderr
    assert "stopped responding: nothing arrived for 1 s" in stderr and "Traceback" not in stderr
    assert took < STALL_S / 2, f"took {took:.1f} s: the configured 1 s was not what ended it"
    with sqlite3.connect(lchat_home / "data" / "history.db") as raw:
        status, content = raw.execute("SELECT status, content FROM messages WHERE role = 'assistant'").fetchone()
    assert status == "error" and content  # What arrived before the stall is kept.
