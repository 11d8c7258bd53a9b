"""Tools on the embedded engine: offered through the model's own chat template, refused clearly by
a template without them, and the turns of a tool round passed to the template in its conventions."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.gguf_files import CHATML, starter_model, write_tiny_llama
from tui.domain import ChatTurn, GenerationOptions, Role, ToolCall, ToolSpec
from tui.engines.base import BadRequest, Finished, TextPiece, ToolCallRequest
from tui.engines.embedded.engine import EmbeddedEngine

STARTER = starter_model()
WEATHER = ToolSpec("weather", "Weather in a city.", {"type": "object", "properties": {"city": {"type": "string"}}})
TOOLS = GenerationOptions(tools=(WEATHER,), max_tokens=8, temperature=0.0)
QUESTION = [ChatTurn(Role.USER, "Weather in Oslo?")]
ROUND = [
    *QUESTION,
    ChatTurn(Role.ASSISTANT, "", tool_calls=(ToolCall("call_0", "weather", {"city": "Oslo"}),)),
    ChatTurn(Role.TOOL, "Sunny", tool_call_id="call_0", tool_name="weather"),
]
# Renders the tools like Qwen's template does (in the system turn), then ChatML.
TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\n{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}"
    "<|im_end|>\n{% endif %}" + CHATML
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    engine = EmbeddedEngine(models_dir=tmp_path, n_threads=1, n_ctx=2048, log_path=tmp_path / "engine.log")
    yield engine
    await engine.aclose()


async def _collect(
    engine: EmbeddedEngine, model: str, turns: list[ChatTurn], options: GenerationOptions
) -> list[object]:
    return [event async for event in engine.chat(model, turns, options)]


@pytest.mark.skipif(STARTER is None, reason="starter model not installed")
async def test_the_starter_model_does_not_call_tools_and_says_so(engine: EmbeddedEngine) -> None:
    with pytest.raises(BadRequest, match="^this model does not call tools$"):
        await _collect(engine, str(STARTER), QUESTION, TOOLS)
    events = await _collect(engine, str(STARTER), QUESTION, GenerationOptions(max_tokens=4, temperature=0.0))
    assert isinstance(events[-1], Finished)  # without tools it answers as ever


async def test_tools_reach_the_template_as_openai_entries(engine: EmbeddedEngine, tmp_path: Path) -> None:
    probe = write_tiny_llama(
        tmp_path / "probe.gguf", chat_template="{{ raise_exception('TOOLS=' ~ (tools | tojson)) }}"
    )
    with pytest.raises(BadRequest) as raised:
        await _collect(engine, str(probe), QUESTION, TOOLS)
    sent = json.loads(str(raised.value).split("TOOLS=", 1)[1])
    assert sent == [WEATHER.as_openai()]


async def test_a_tool_round_reaches_the_template_in_its_conventions(engine: EmbeddedEngine, tmp_path: Path) -> None:
    probe = write_tiny_llama(
        tmp_path / "probe.gguf", chat_template="{{ raise_exception('MESSAGES=' ~ (messages | tojson)) }} tools"
    )
    with pytest.raises(BadRequest) as raised:
        await _collect(engine, str(probe), ROUND, TOOLS)
    messages = json.loads(str(raised.value).split("MESSAGES=", 1)[1])
    assert messages[1]["tool_calls"] == [
        {"id": "call_0", "type": "function", "function": {"name": "weather", "arguments": {"city": "Oslo"}}}
    ]
    assert {key: messages[2][key] for key in ("role", "content", "tool_call_id", "name")} == {
        "role": "tool",
        "content": "Sunny",
        "tool_call_id": "call_0",
        "name": "weather",
    }


async def test_the_tools_cost_prompt_tokens_and_the_answer_streams(engine: EmbeddedEngine, tmp_path: Path) -> None:
    model = str(write_tiny_llama(tmp_path / "tools.gguf", chat_template=TOOLS_TEMPLATE))
    plain = await _collect(engine, model, QUESTION, GenerationOptions(max_tokens=8, temperature=0.0))
    offered = await _collect(engine, model, QUESTION, TOOLS)
    assert isinstance(plain[-1], Finished) and isinstance(offered[-1], Finished)
    spec_chars = len(json.dumps(WEATHER.as_openai()))
    # The tiny model's vocabulary is one token a character: the tools cost about their JSON's length.
    assert offered[-1].prompt_tokens - plain[-1].prompt_tokens >= spec_chars * 0.8
    assert not any(isinstance(event, ToolCallRequest) for event in offered)  # random characters call nothing
    assert "".join(e.text for e in offered if isinstance(e, TextPiece))
