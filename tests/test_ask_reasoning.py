"""`lchat ask` with a thinking model over Ollama's protocol: the reasoning on a terminal's
stderr, dimmed, before the answer; in --json; the think setting from the flag or the config."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.loopback import Served
from tui.cli.ask_stream import DIM, PLAIN, ask
from tui.config import ChatConfig, Config
from tui.engines.ollama.engine import OllamaEngine

THOUGHT = "The user greets me. Reply kindly."


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture
def daemon() -> Iterator[Served]:
    state = OllamaState()
    state.add("qwen3:8b", family="qwen3")
    state.add("gpt-oss:20b", family="gptoss")
    state.thinkers = {"qwen3:8b": (), "gpt-oss:20b": ("low", "medium", "high")}
    state.thoughts = ["The user", " greets me.", " Reply \x1b[31mkindly."]
    served = start_ollama(state)
    yield served
    served.stop()


def chats(daemon: Served) -> list[dict]:
    return [r.body for r in daemon.requests if r.path == "/api/chat"]


async def test_reasoning_goes_to_a_terminal_dimmed_before_the_answer(open_services, daemon) -> None:
    services = open_services(OllamaEngine(host=daemon.url, read_timeout=5))
    out, err = io.StringIO(), Terminal()
    assert await ask(services, "hi", model="qwen3", as_json=False, out=out, err=err) == 0
    assert out.getvalue() == "Hello from Ollama.\n"  # The answer alone, on stdout.
    # Dimmed, made safe (the escape is shown, not obeyed), and the style put back before the answer.
    assert err.getvalue() == f"{DIM}The user greets me. Reply ␛[31mkindly.{PLAIN}\n\n"
    assert "think" not in chats(daemon)[-1]  # Neither flag nor config: the model's default.


async def test_no_color_leaves_the_dimming_out(open_services, daemon, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    services = open_services(OllamaEngine(host=daemon.url, read_timeout=5))
    err = Terminal()
    assert await ask(services, "hi", model="qwen3", as_json=False, out=io.StringIO(), err=err) == 0
    assert err.getvalue() == "The user greets me. Reply ␛[31mkindly.\n\n"


async def test_reasoning_stays_off_a_pipe_and_when_hidden(open_services, daemon) -> None:
    services = open_services(OllamaEngine(host=daemon.url, read_timeout=5))
    err = io.StringIO()
    assert await ask(services, "hi", model="qwen3", as_json=False, out=io.StringIO(), err=err) == 0
    assert err.getvalue() == ""
    hidden = Terminal()
    assert (
        await ask(services, "hi", model="qwen3", as_json=False, show_reasoning=False, out=io.StringIO(), err=hidden)
        == 0
    )
    assert hidden.getvalue() == ""


async def test_json_carries_the_reasoning_and_both_first_token_times(open_services, daemon) -> None:
    daemon.state.piece_delay = 0.05
    services = open_services(OllamaEngine(host=daemon.url, read_timeout=5))
    out, err = io.StringIO(), Terminal()
    assert await ask(services, "hi", model="qwen3", as_json=True, out=out, err=err) == 0
    result = json.loads(out.getvalue())
    assert result["reasoning"] == "The user greets me. Reply \x1b[31mkindly."  # Raw in JSON, as generated.
    assert result["answer"] == "Hello from Ollama."
    assert result["ttft_s"] >= result["reasoning_ttft_s"] + 0.1  # ttft_s: the first answer token.
    assert err.getvalue() == ""  # --json keeps the terminal quiet.


async def test_think_flag_and_config_default_reach_the_model(open_services, daemon) -> None:
    services = open_services(OllamaEngine(host=daemon.url, read_timeout=5), config=Config(chat=ChatConfig(think="off")))
    err = Terminal()
    assert await ask(services, "hi", model="qwen3", as_json=False, out=io.StringIO(), err=err) == 0
    assert chats(daemon)[-1]["think"] is False and err.getvalue() == ""
    assert await ask(services, "hi", model="gpt-oss", as_json=False, think="high", out=io.StringIO(), err=err) == 0
    assert chats(daemon)[-1]["think"] == "high"
    # gpt-oss cannot stop thinking: asked to, the user is told.
    err = Terminal()
    assert await ask(services, "hi", model="gpt-oss", as_json=False, out=io.StringIO(), err=err) == 0
    assert chats(daemon)[-1]["think"] is False
    assert err.getvalue().endswith("lchat: note: the model thought although thinking was set off\n")
    # The flag is the conversation's setting, kept with it in the history.
    assert [c.settings.think for c in services.store.list_conversations()].count("high") == 1


def lchat(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_the_command_line_flags(lchat_home: Path, daemon) -> None:
    env = dict(os.environ, OLLAMA_HOST=daemon.url)
    result = lchat("ask", "hi", "--model", "qwen3", "--no-think", "--json", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["reasoning"] == "" and chats(daemon)[-1]["think"] is False
    result = lchat("ask", "hi", "--model", "gpt-oss", "--think", "low", env=env)
    assert result.returncode == 0 and result.stdout == "Hello from Ollama.\n"
    assert chats(daemon)[-1]["think"] == "low"
    refused = lchat("ask", "hi", "--think", "maybe", env=env)
    assert refused.returncode == 2 and "invalid choice: 'maybe'" in refused.stderr
    both = lchat("ask", "hi", "--think", "on", "--no-think", env=env)
    assert both.returncode == 2 and "not allowed with argument" in both.stderr


def test_a_wrong_think_in_the_config_is_one_clear_line(lchat_home: Path) -> None:
    lchat_home.mkdir(parents=True)
    (lchat_home / "config.toml").write_text('[chat]\nthink = "maybe"\n')
    result = lchat("ask", "hi", env=dict(os.environ))
    assert result.returncode == 2
    assert (
        "config.toml:2: chat.think must be one of '', 'off', 'on', 'low', 'medium', 'high', not 'maybe'"
        in result.stderr
    )
