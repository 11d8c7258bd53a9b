"""End to end on the real starter model: `lchat ask`, and a kill -9 in the middle of an answer."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.after_kill import question_and_answer_after_kill
from tui.domain import MessageStatus, Role
from tui.engines.discovery import starter_model_path
from tui.store import HistoryStore

pytestmark = pytest.mark.skipif(starter_model_path() is None, reason="starter model not installed (make install)")

DETERMINISTIC = "[chat]\ntemperature = 0.0\nmax_tokens = 400\n[engine]\nthreads = 1\ncontext_length = 2048\n"


def lchat_process(lchat_home: Path, *args: str) -> subprocess.Popen[bytes]:
    lchat_home.mkdir(parents=True, exist_ok=True)
    (lchat_home / "config.toml").write_text(DETERMINISTIC)
    return subprocess.Popen(
        [sys.executable, "-m", "tui", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL, env=dict(os.environ),
    )


def test_ask_answers_with_the_starter_model_and_keeps_it(lchat_home: Path) -> None:
    process = lchat_process(lchat_home, "ask", "What is the capital of France? Answer in one sentence.", "--json")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err.decode()
    result = json.loads(out)
    assert "Paris" in result["answer"]
    assert result["completion_tokens"] > 0 and result["tokens_per_s"] > 0 and result["ttft_s"] > 0
    with HistoryStore.open(lchat_home / "data" / "history.db") as store:
        (conversation,) = store.list_conversations()
        question, answer = store.list_messages(conversation.id)
    assert (question.role, question.content) == (Role.USER, "What is the capital of France? Answer in one sentence.")
    assert (answer.content, answer.status) == (result["answer"], MessageStatus.COMPLETE)
    assert answer.model.endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


def test_kill_9_mid_answer_keeps_what_was_committed(lchat_home: Path) -> None:
    process = lchat_process(lchat_home, "ask", "Count from 1 to 300, one number per line.")
    os.set_blocking(process.stdout.fileno(), False)
    shown = b""
    first_output = None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        chunk = process.stdout.read() or b""
        shown += chunk
        if chunk and first_output is None:
            first_output = time.monotonic()
        # Past a couple of commit intervals (250 ms each), and still answering.
        if first_output and time.monotonic() - first_output > 0.7:
            break
        assert process.poll() is None, "the answer ended before the kill"
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    shown += process.stdout.read() or b""
    question, answer = question_and_answer_after_kill(lchat_home / "data" / "history.db")
    assert question.content == "Count from 1 to 300, one number per line."
    assert answer.status is MessageStatus.INTERRUPTED
    assert answer.content and shown.decode().startswith(answer.content)
