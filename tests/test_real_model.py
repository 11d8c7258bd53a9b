"""End to end on the real starter model: `lchat ask`, and a kill -9 in the middle of an answer."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.after_kill import question_and_answer_after_kill
from tui.domain import MessageStatus, Role
from tui.engines.embedded.discovery import starter_model_path
from tui.store import HistoryStore

pytestmark = pytest.mark.skipif(starter_model_path() is None, reason="starter model not installed (make install)")

DETERMINISTIC = "[chat]\ntemperature = 0.0\nmax_tokens = 400\n[engine]\nthreads = 1\ncontext_length = 2048\n"


def lchat_process(lchat_home: Path, *args: str) -> subprocess.Popen[bytes]:
    lchat_home.mkdir(parents=True, exist_ok=True)
    (lchat_home / "config.toml").write_text(DETERMINISTIC)
    return subprocess.Popen(
        [sys.executable, "-m", "tui", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env=dict(os.environ),
    )


def test_ask_answers_with_the_starter_model_and_keeps_it(lchat_home: Path) -> None:
    process = lchat_process(lchat_home, "ask", "What is the capital of France? Answer in one sentence.", "--json")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    result = json.loads(out)
    assert "Paris" in result["answer"]
    assert result["completion_tokens"] > 0 and result["tokens_per_s"] > 0 and result["ttft_s"] > 0
    assert (result["gpu_backend"], result["gpu_layers"]) == ("CPU", 0)  # The CPU build offloads nothing.
    with HistoryStore.open(lchat_home / "data" / "history.db") as store:
        (conversation,) = store.list_conversations()
        question, answer = store.list_messages(conversation.id)
    assert (question.role, question.content) == (Role.USER, "What is the capital of France? Answer in one sentence.")
    assert (answer.content, answer.status) == (result["answer"], MessageStatus.COMPLETE)
    assert answer.model.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


LONG_QUESTION = "Write a numbered list of 50 fruits."
"""At temperature 0 the starter model answers it with a few hundred tokens, seconds of streaming."""


def started_answer(process: subprocess.Popen[bytes]) -> bytes:
    """What `lchat ask` printed once it has answered for 0.7 s (past a couple of 250 ms commits)."""
    os.set_blocking(process.stdout.fileno(), False)
    shown = b""
    first_output = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        chunk = process.stdout.read() or b""
        shown += chunk
        if chunk and first_output is None:
            first_output = time.monotonic()
        if first_output and time.monotonic() - first_output > 0.7:
            break
        assert process.poll() is None, "the answer ended before the signal"
        time.sleep(0.02)
    return shown


def test_kill_9_mid_answer_keeps_what_was_committed(lchat_home: Path) -> None:
    process = lchat_process(lchat_home, "ask", LONG_QUESTION)
    shown = started_answer(process)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    shown += process.stdout.read() or b""
    question, answer = question_and_answer_after_kill(lchat_home / "data" / "history.db")
    assert question.content == LONG_QUESTION
    assert answer.status is MessageStatus.INTERRUPTED
    assert answer.content and shown.decode().startswith(answer.content)


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_hangup_mid_answer_saves_it_as_interrupted(lchat_home: Path, signal_number: int) -> None:
    process = lchat_process(lchat_home, "ask", LONG_QUESTION)
    shown = started_answer(process)
    process.send_signal(signal_number)
    process.wait(timeout=15)
    shown += process.stdout.read() or b""
    assert process.returncode == 128 + signal_number
    assert b"the partial answer is kept" in process.stderr.read()
    with sqlite3.connect(lchat_home / "data" / "history.db") as raw:  # raw: no start-up repair
        status, content = raw.execute("SELECT status, content FROM messages WHERE role = 'assistant'").fetchone()
    assert status == "interrupted"
    printed = shown.decode()
    assert content and len(content) >= 20  # a piece may arrive between saving and printing:
    assert content.startswith(printed) or printed.startswith(content)
