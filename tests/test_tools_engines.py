"""Tool calls over each server protocol, against loopback doubles that speak it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.fake_openai import OpenAIState, start_openai
from tui.domain import ChatTurn, GenerationOptions, Role, ToolCall, ToolSpec
from tui.engines.base import BadRequest, Engine, Finished, TextPiece, ToolCallRequest
from tui.engines.ollama.engine import OllamaEngine
from tui.engines.openai.engine import OpenAICompatEngine

WEATHER = ToolSpec(
    "weather",
    "Today's weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
CALLS = [{"name": "weather", "arguments": {"city": "Oslo"}}, {"name": "add", "arguments": {"a": 2, "b": 3}}]
OPTIONS = GenerationOptions(tools=(WEATHER,))


@pytest.fixture(params=["ollama", "openai"])
def served(request: pytest.FixtureRequest) -> Iterator[tuple[str, Engine, object, str]]:
    """(kind, engine, the double's state, model) for each backend."""
    if request.param == "ollama":
        state = OllamaState(tool_calls=CALLS)
        state.add("qwen3:4b")
        state.add("tiny:1b")
        state.no_tools.add("tiny:1b")
        server = start_ollama(state)
        yield "ollama", OllamaEngine(host=server.url, read_timeout=5), state, "qwen3:4b"
    else:
        openai_state = OpenAIState(tool_calls=CALLS)
        server = start_openai(openai_state)
        engine = OpenAICompatEngine(name="lmstudio", base_url=server.url + "/v1", read_timeout=5)
        yield "openai", engine, openai_state, "qwen2.5-7b-instruct"
    server.stop()


async def _events(engine: Engine, model: str, turns: list[ChatTurn], options: GenerationOptions) -> list[object]:
    return [event async for event in engine.chat(model, turns, options)]


async def test_the_model_asks_for_calls_then_answers_with_the_results(served) -> None:
    kind, engine, state, model = served
    question = [ChatTurn(Role.USER, "Weather in Oslo?")]
    events = await _events(engine, model, question, OPTIONS)
    calls = [event.call for event in events if isinstance(event, ToolCallRequest)]
    assert [(call.name, call.arguments) for call in calls] == [("weather", {"city": "Oslo"}), ("add", {"a": 2, "b": 3})]
    assert len({call.id for call in calls}) == 2
    assert isinstance(events[-1], Finished)
    sent = state.chats[-1] if kind == "ollama" else state.requests[-1]
    assert sent["tools"] == [WEATHER.as_openai()]

    follow = [
        *question,
        ChatTurn(Role.ASSISTANT, "", reasoning="need weather", tool_calls=tuple(calls)),
        ChatTurn(Role.TOOL, "Sunny, 21 C", tool_call_id=calls[0].id, tool_name="weather"),
        ChatTurn(Role.TOOL, "5", tool_call_id=calls[1].id, tool_name="add"),
    ]
    events = await _events(engine, model, follow, OPTIONS)
    assert "".join(e.text for e in events if isinstance(e, TextPiece)) == "The tool said: 5"
    sent = state.chats[-1] if kind == "ollama" else state.requests[-1]
    assistant, first_result = sent["messages"][1], sent["messages"][2]
    if kind == "ollama":
        assert assistant["tool_calls"] == [
            {"function": {"name": "weather", "arguments": {"city": "Oslo"}}},
            {"function": {"name": "add", "arguments": {"a": 2, "b": 3}}},
        ]
        assert first_result == {"role": "tool", "content": "Sunny, 21 C", "tool_name": "weather"}
    else:
        assert assistant["tool_calls"][0] == {
            "id": calls[0].id,
            "type": "function",
            "function": {"name": "weather", "arguments": '{"city": "Oslo"}'},
        }
        assert first_result == {"role": "tool", "content": "Sunny, 21 C", "tool_call_id": calls[0].id}


async def test_without_tools_offered_no_tools_are_sent(served) -> None:
    kind, engine, state, model = served
    events = await _events(engine, model, [ChatTurn(Role.USER, "hi")], GenerationOptions())
    assert not any(isinstance(event, ToolCallRequest) for event in events)
    sent = state.chats[-1] if kind == "ollama" else state.requests[-1]
    assert not sent.get("tools")  # the ollama client sends an empty list


async def test_a_model_without_tool_support_says_so() -> None:
    state = OllamaState()
    state.add("tiny:1b")
    state.no_tools.add("tiny:1b")
    server = start_ollama(state)
    try:
        engine = OllamaEngine(host=server.url, read_timeout=5)
        with pytest.raises(BadRequest, match="^tiny:1b: this model does not call tools$"):
            await _events(engine, "tiny:1b", [ChatTurn(Role.USER, "hi")], OPTIONS)
    finally:
        server.stop()


def test_openai_fragments_of_several_calls_assemble_by_index() -> None:
    from types import SimpleNamespace as NS

    from tui.engines.tool_wire import ToolCallFragments

    fragments = ToolCallFragments()
    fragments.add([NS(index=1, id="b", function=NS(name="add", arguments=""))])
    fragments.add([NS(index=0, id="a", function=NS(name="weather", arguments='{"ci'))])
    fragments.add(
        [
            NS(index=1, id=None, function=NS(name=None, arguments='{"a": 1}')),
            NS(index=0, id=None, function=NS(name=None, arguments='ty": "Oslo"}')),
        ]
    )
    fragments.add([NS(index=2, id="c", function=NS(name="broken", arguments='{"x": '))])
    assert fragments.calls() == [
        ToolCall("a", "weather", {"city": "Oslo"}),
        ToolCall("b", "add", {"a": 1}),
        ToolCall("c", "broken", {"_unparsed": '{"x": '}),
    ]
