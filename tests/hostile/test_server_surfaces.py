"""Hostile-input matrix, the server rows: server error text, model name, and the answer stream.

A broken or hostile server on the LAN (the loopback doubles play it) sends an error body that
never ends, is huge or is a gzip bomb, a model list of a million names, one huge name or a gzip
bomb, a stream line that never ends, or nothing at all. Each cell runs `lchat ask` or
`lchat models` in a subprocess whose peak RSS is measured, and asserts: one clear line naming what the server did, the documented exit
code, peak RSS under 300 MB, and, mid-answer, what arrived kept (tui.guard.http_limits bounds every
reply: 16 MB whole, 8 MB a stream line or event, counted after decompression).

Cells that do not apply here (and why):
- shadowing: a bare name two backends list is refused as ambiguous ("name one as BACKEND/NAME",
  tui.models.names.resolve, tests/test_model_names.py) and a conversation stores its backend, so
  no server's name stands in for another's; error text is never looked up.
- typed_ahead: no dialog opens on a server's reply; keys typed meanwhile go to the composer.
- signal_midway: a signal during an answer is the quitting row (tests/hostile/test_signal_surfaces.py),
  the same whether the stream is well-formed or endless.
- escapes and markup of error text and model names: tests/hostile/test_signal_surfaces.py.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest

from tests.fake_hub import HubState, start_hub
from tests.fake_ollama import ERROR_BOMB, LIST_BOMB, OllamaState, start_ollama
from tests.fake_openai import OpenAIState, start_openai
from tests.hostile.test_cli_surfaces import RSS_LIMIT_KB, lchat_measured
from tests.loopback import Served, gzip_bomb
from tui.engines.base import EngineError
from tui.models.hf import HubClient

MODELS = {"ollama": "llama3.2:latest", "openai": "lm/qwen2.5-7b-instruct"}
STALL_S = 40.0
"""How long the silent server says nothing: far past the configured 1 s read timeout."""


def start(backend: str, lchat_home: Path, **fault: object) -> Served:
    """The double for `backend` with `fault`, and a config pointing lchat at it (read timeout 1 s)."""
    if backend == "ollama":
        state = OllamaState(**fault)  # type: ignore[arg-type]
        state.add(MODELS["ollama"])
        served = start_ollama(state)
        config = f'[ollama]\nhosts = ["{served.url}"]\nread_timeout = 1\n'
    else:
        served = start_openai(OpenAIState(**fault))  # type: ignore[arg-type]
        config = (
            f'[ollama]\nenabled = false\n[[servers]]\nname = "lm"\nbase_url = "{served.url}/v1"\nread_timeout = 1\n'
        )
    lchat_home.mkdir(parents=True, exist_ok=True)
    (lchat_home / "config.toml").write_text(config + "[stats]\nenabled = false\n")
    return served


def run(served: Served, *args: str) -> dict:
    try:
        return lchat_measured(*args)
    finally:
        served.stop()


def assert_one_line(result: dict, *, code: int, says: str) -> None:
    err = result["err"]
    assert result["rc"] == code, err
    assert err.count("\n") == 1 and err.startswith("lchat: ") and says in err, err
    assert "Traceback" not in err and "MemoryError" not in err
    assert result["peak_kb"] < RSS_LIMIT_KB, f"peak RSS {result['peak_kb'] // 1024} MB"


def kept_answer(lchat_home: Path) -> tuple[str, str]:
    with sqlite3.connect(lchat_home / "data" / "history.db") as raw:
        return raw.execute("SELECT status, content FROM messages WHERE role = 'assistant'").fetchone()


# server error text -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["ollama", "openai"])
def test_server_error_text__endless(backend: str, lchat_home: Path) -> None:
    """A 500 whose error body never ends: lchat stops reading at 16 MB and says so."""
    fault = {"chat_fault": "endless_error"} if backend == "ollama" else {"fault": "endless_error"}
    result = run(start(backend, lchat_home, **fault), "ask", "-m", MODELS[backend], "hello")
    assert_one_line(result, code=1, says="sent a reply of over 16 MB; lchat stopped reading it")


def test_server_error_text__endless_model_list(lchat_home: Path) -> None:
    """The same on the model list: the backend is shown offline with the reason, and nothing hangs."""
    result = run(start("ollama", lchat_home, list_fault="endless_error"), "models")
    assert_one_line(result, code=0, says="sent a reply of over 16 MB; lchat stopped reading it")


@pytest.mark.parametrize("backend", ["ollama", "openai"])
def test_server_error_text__huge(backend: str, lchat_home: Path) -> None:
    """A finite 50 MB error body: read no further than 16 MB, one line."""
    fault = {"chat_fault": "huge_error"} if backend == "ollama" else {"fault": "huge_error"}
    result = run(start(backend, lchat_home, **fault), "ask", "-m", MODELS[backend], "hello")
    assert_one_line(result, code=1, says="sent a reply of over 16 MB; lchat stopped reading it")


def test_server_error_text__bomb(lchat_home: Path) -> None:
    """A 500 whose error body is 250 KB of gzip expanding to 256 MB, sent though lchat asks for no
    compression: decompressed piece by piece and stopped at 16 MB."""
    gzip_bomb(*ERROR_BOMB)  # Made now, so making it is not what the 1 s read timeout sees.
    result = run(start("ollama", lchat_home, chat_fault="bomb_error"), "ask", "-m", MODELS["ollama"], "hello")
    assert_one_line(result, code=1, says="sent a reply of over 16 MB; lchat stopped reading it")


# model name --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("backend", "fault"), [("ollama", "many_names"), ("openai", "long_name")])
def test_model_name__huge(backend: str, fault: str, lchat_home: Path) -> None:
    """A list of 1,000,000 models (Ollama) or one model named with 25 MB (OpenAI): the list is
    refused past 16 MB, and `lchat models` says which backend and why."""
    key = "list_fault" if backend == "ollama" else "models_fault"
    result = run(start(backend, lchat_home, **{key: fault}), "models")
    assert_one_line(result, code=0, says="sent a reply of over 16 MB; lchat stopped reading it")
    assert "m:latest" not in result["out"] and "xxxx" not in result["out"]  # None of the list was shown.


async def test_model_name__huge_hub_file_list(tmp_path: Path) -> None:
    """A hub (HF_ENDPOINT may name a mirror on the LAN) whose file list is one 50 MB file name: the
    list is refused at 16 MB with one line, and the hub's model files are not bounded by it."""
    hub = start_hub(HubState(huge_list=True))
    try:
        client = HubClient(endpoint=hub.url, models_dir=tmp_path, token=False)
        with pytest.raises(EngineError) as caught:
            await asyncio.to_thread(client.list_choices, "org/repo")
    finally:
        hub.stop()
    assert str(caught.value) == f"{hub.url} sent a reply of over 16 MB; lchat stopped reading it"


def test_model_name__bomb(lchat_home: Path) -> None:
    """A model list that is a gzip bomb: refused at 16 MB of what it expands to."""
    gzip_bomb(*LIST_BOMB)
    result = run(start("ollama", lchat_home, list_fault="bomb"), "models")
    assert_one_line(result, code=0, says="sent a reply of over 16 MB; lchat stopped reading it")


# the answer stream -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["ollama", "openai"])
def test_server_stream__endless(backend: str, lchat_home: Path) -> None:
    """Mid-answer, a line (an SSE event) that never ends: stopped at 8 MB, and what came before it kept."""
    if backend == "ollama":
        served, says = start(backend, lchat_home, chat_fault="endless_line", fault_after=2), "a line of over 8 MB"
    else:
        served, says = start(backend, lchat_home, fault="endless_event", fault_after=1), "an event of over 8 MB"
    result = run(served, "ask", "-m", MODELS[backend], "hello")
    assert_one_line(result, code=1, says=f"sent {says}; lchat stopped reading it")
    status, content = kept_answer(lchat_home)
    assert status == "error"
    assert content == ("Hello from" if backend == "ollama" else "Hi")


@pytest.mark.parametrize("backend", ["ollama", "openai"])
def test_server_stream__blocking(backend: str, lchat_home: Path) -> None:
    """A server that takes the request and never answers: the configured 1 s read timeout ends it."""
    fault = {"chat_fault": "silent"} if backend == "ollama" else {"fault": "silent"}
    served = start(backend, lchat_home, stall_s=STALL_S, **fault)
    started = time.monotonic()
    result = run(served, "ask", "-m", MODELS[backend], "hello")
    assert_one_line(result, code=1, says="stopped responding: nothing arrived for 1 s")
    assert time.monotonic() - started < STALL_S / 2, "the configured 1 s was not what ended it"
