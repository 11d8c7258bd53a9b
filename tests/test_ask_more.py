"""`lchat ask` with files, piped input, a system prompt and earlier conversations; the history
commands' JSON output parsed as a script would."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.fake_ollama import OllamaState, start_ollama


@pytest.fixture
def ollama(lchat_home: Path):
    state = OllamaState(reply=["Looks", " fine", "."])
    state.add("llama3.2:latest")
    served = start_ollama(state)
    lchat_home.mkdir(parents=True, exist_ok=True)
    (lchat_home / "config.toml").write_text(f'[ollama]\nhosts = ["{served.url}"]\n')
    yield state
    served.stop()


def lchat(*args: str, stdin: bytes | None = None, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "tui", *args],
        capture_output=True,
        timeout=timeout,
        env=dict(os.environ),
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


def test_piped_text_is_attached_as_stdin_and_kept(ollama: OllamaState) -> None:
    result = lchat("ask", "-m", "llama3.2:latest", "review this", stdin=b"-old line\n+new line\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().strip() == "Looks fine."
    sent = ollama.chats[-1]["messages"][-1]
    assert sent["content"] == '<file name="stdin">\n-old line\n+new line\n</file>\n\nreview this'
    shown = json.loads(lchat("show", "1", "--json").stdout)
    assert shown["messages"][0]["parts"][0]["data"]["name"] == "stdin"
    assert shown["messages"][0]["content"] == "review this"


def test_no_stdin_and_an_empty_pipe_attach_nothing(ollama: OllamaState) -> None:
    assert lchat("ask", "-m", "llama3.2:latest", "--no-stdin", "hi", stdin=b"ignored").returncode == 0
    assert lchat("ask", "-m", "llama3.2:latest", "hi again", stdin=b"").returncode == 0
    assert [chat["messages"][-1]["content"] for chat in ollama.chats] == ["hi", "hi again"]


def test_an_image_file_goes_as_base64_and_a_binary_file_is_refused(ollama: OllamaState, tmp_path: Path) -> None:
    ollama.add("llava:7b")
    ollama.seers.add("llava:7b")
    picture = io.BytesIO()
    Image.new("RGB", (10, 10), "blue").save(picture, format="PNG")
    (tmp_path / "shot.png").write_bytes(picture.getvalue())
    result = lchat("ask", "-m", "llava:7b", "-f", str(tmp_path / "shot.png"), "what is wrong here?")
    assert result.returncode == 0, result.stderr
    assert base64.b64decode(ollama.chats[-1]["messages"][-1]["images"][0]) == picture.getvalue()
    (tmp_path / "blob.bin").write_bytes(b"\0\1\2\3" * 100)
    refused = lchat("ask", "-m", "llava:7b", "-f", str(tmp_path / "blob.bin"), "and this?")
    assert refused.returncode == 2 and b"neither text nor an image" in refused.stderr  # bad input: a usage error
    assert b"Traceback" not in refused.stderr and len(ollama.chats) == 1


def test_an_image_for_a_model_that_cannot_see_is_refused_before_anything_is_kept(
    ollama: OllamaState, tmp_path: Path
) -> None:
    Image.new("RGB", (10, 10), "red").save(tmp_path / "shot.png")
    refused = lchat("ask", "-m", "llama3.2:latest", "-f", str(tmp_path / "shot.png"), "what is this?")
    assert refused.returncode == 1
    assert (
        refused.stderr.decode().strip()
        == "lchat: shot.png is an image, and llama3.2:latest does not take images; it was not attached."
    )
    assert ollama.chats == []
    listed = lchat("list", "--json")
    assert listed.returncode == 0 and listed.stdout.splitlines() == []
    text_only = lchat("ask", "-m", "llama3.2:latest", "and without it?")
    assert text_only.returncode == 0 and len(ollama.chats) == 1


def test_continue_and_conversation_and_system(ollama: OllamaState) -> None:
    assert lchat("ask", "-m", "llama3.2:latest", "--system", "Be terse.", "first").returncode == 0
    assert lchat("ask", "-m", "llama3.2:latest", "other conversation").returncode == 0
    assert lchat("ask", "--conversation", "1", "second").returncode == 0
    messages = ollama.chats[-1]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0]["content"] == "Be terse." and messages[-1]["content"] == "second"
    assert lchat("ask", "-c", "third").returncode == 0  # the latest is conversation 1 now
    assert [m["content"] for m in ollama.chats[-1]["messages"]][-2:] == ["Looks fine.", "third"]
    missing = lchat("ask", "--conversation", "99", "hello?")
    assert missing.returncode == 1 and b"no conversation 99" in missing.stderr


def test_list_show_and_search_as_json(ollama: OllamaState) -> None:
    assert lchat("ask", "-m", "llama3.2:latest", "tell me about zebras").returncode == 0
    (listed,) = [json.loads(line) for line in lchat("list", "--json").stdout.splitlines()]
    assert listed["title"] == "tell me about zebras" and listed["model"] == "llama3.2:latest"
    (hit,) = [json.loads(line) for line in lchat("search", "zebras", "--json").stdout.splitlines()]
    assert hit["conversation_id"] == listed["id"] and "zebras" in hit["snippet"]
    text = lchat("show", str(listed["id"])).stdout.decode()
    assert "tell me about zebras" in text and "Looks fine." in text
    assert lchat("show", "42").returncode == 1


def test_models_pull_and_rm(ollama: OllamaState) -> None:
    ollama.pull_sizes["qwen2.5:0.5b"] = 400_000_000
    rows = [json.loads(line) for line in lchat("models", "--json").stdout.splitlines()]
    ollama_rows = [row for row in rows if row["backend"] == "ollama"]
    assert [row["name"] for row in ollama_rows] == ["llama3.2:latest"]
    assert ollama_rows[0]["size_bytes"] > 0 and "parameters" in ollama_rows[0]
    pulled = lchat("pull", "qwen2.5:0.5b")
    assert pulled.returncode == 0, pulled.stderr
    assert "qwen2.5:0.5b" in ollama.models
    # On a pipe nobody can confirm: nothing is deleted without --yes.
    refused = lchat("rm", "qwen2.5:0.5b")
    assert refused.returncode == 1 and b"not confirmed" in refused.stderr and "qwen2.5:0.5b" in ollama.models
    assert lchat("rm", "qwen2.5:0.5b", "--yes").returncode == 0
    assert "qwen2.5:0.5b" not in ollama.models
    missing = lchat("pull", "no-such-model")
    assert missing.returncode == 1 and b"Traceback" not in missing.stderr
