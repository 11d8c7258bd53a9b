"""Later turns carry the earlier tool calls and results: each backend is sent them in its own
format, in the order they happened, without the reasoning; a conversation reopened from disk
sends the same history."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.fake_openai import OpenAIState, start_openai
from tests.test_tools_servers import SERVER
from tui.chat.events import AnswerEnded
from tui.chat.sent_turns import message_turns
from tui.chat.service import ChatService
from tui.config import ChatConfig, McpConfig, McpServerConfig
from tui.domain import ChatMessage, ChatTurn, MessagePart, PartKind, Role, ToolCall
from tui.engines.base import Engine
from tui.engines.ollama.engine import OllamaEngine
from tui.engines.openai.engine import OpenAICompatEngine
from tui.models.names import ModelChoice
from tui.store import HistoryStore
from tui.tools.approval import ApprovalRequest, Decision
from tui.tools.service import ToolService

QUESTION, FOLLOW_UP = "Weather in Oslo?", "And tomorrow?"
RESULT = "Sunny, 21 C in Oslo (metric)"
ANSWER = "The tool said: " + RESULT


def _part(seq: int, kind: PartKind, offset: int, text: str = "", **data: Any) -> MessagePart:
    return MessagePart(kind, text=text, data=data, seq=seq, offset=offset)


def _call(seq: int, call_id: str, offset: int, round_: int | None, **arguments: Any) -> MessagePart:
    data: dict[str, Any] = {"id": call_id, "name": "weather", "arguments": arguments}
    if round_ is not None:
        data["round"] = round_
    return _part(seq, PartKind.TOOL_CALL, offset, **data)


def _result(seq: int, call_id: str, offset: int, text: str) -> MessagePart:
    return _part(seq, PartKind.TOOL_RESULT, offset, text, id=call_id, name="weather")


def _answer(content: str, *parts: MessagePart) -> ChatMessage:
    return ChatMessage(id=2, conversation_id=1, role=Role.ASSISTANT, content=content, parts=parts)


@pytest.mark.parametrize("recorded", [True, False], ids=["rounds-recorded", "older-answer"])
def test_an_answer_becomes_its_rounds_then_its_text(recorded: bool) -> None:
    """Round 1: text, two calls; round 2 (after reasoning): one call whose call was stopped; then text."""
    rounds = (1, 2) if recorded else (None, None)
    answer = _answer(
        "Let me look.Both done.",
        _part(0, PartKind.REASONING, 0, "plan"),
        _call(1, "a", 12, rounds[0], city="Oslo"),
        _result(2, "a", 12, "sun"),
        _call(3, "b", 12, rounds[0], city="Bergen"),
        _result(4, "b", 12, "rain"),
        _part(5, PartKind.REASONING, 12, "more"),
        _call(6, "c", 12, rounds[1], city="Tromsø"),
        _result(7, "c", 12, "snow"),
        _call(8, "d", 12, rounds[1], city="never run"),  # Stopped before it ran: no result.
    )
    assert message_turns(answer) == [
        ChatTurn(
            Role.ASSISTANT,
            "Let me look.",
            tool_calls=(ToolCall("a", "weather", {"city": "Oslo"}), ToolCall("b", "weather", {"city": "Bergen"})),
        ),
        ChatTurn(Role.TOOL, "sun", tool_call_id="a", tool_name="weather"),
        ChatTurn(Role.TOOL, "rain", tool_call_id="b", tool_name="weather"),
        ChatTurn(Role.ASSISTANT, "", tool_calls=(ToolCall("c", "weather", {"city": "Tromsø"}),)),
        ChatTurn(Role.TOOL, "snow", tool_call_id="c", tool_name="weather"),
        ChatTurn(Role.ASSISTANT, "Both done."),
    ]


def test_a_template_without_tools_gets_them_as_plain_alternating_turns() -> None:
    from tui.engines.wire import template_messages, without_tool_roles

    calls = (ToolCall("a", "weather", {"city": "Oslo"}), ToolCall("b", "weather", {"city": "Bergen"}))
    turns = [
        ChatTurn(Role.SYSTEM, "Be brief."),
        ChatTurn(Role.USER, "Weather?"),
        ChatTurn(Role.ASSISTANT, "Looking.", tool_calls=calls),
        ChatTurn(Role.TOOL, "sun", tool_call_id="a", tool_name="weather"),
        ChatTurn(Role.TOOL, "rain", tool_call_id="b", tool_name="weather"),
        ChatTurn(Role.USER, "Thanks?"),  # The answer was stopped after the results.
    ]
    assert without_tool_roles(template_messages(turns)) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": 'Looking.\n[called weather({"city": "Oslo"})]\n[called weather({"city": "Bergen"})]',
        },
        {"role": "user", "content": "[weather answered]\nsun\n\n[weather answered]\nrain\n\nThanks?"},
    ]
    untouched = template_messages(turns[:2] + [ChatTurn(Role.USER, "again")])
    assert without_tool_roles(untouched) is untouched


def test_two_rounds_with_nothing_between_stay_two_rounds_when_recorded() -> None:
    answer = _answer(
        "ok", _call(0, "a", 0, 1), _result(1, "a", 0, "one"), _call(2, "b", 0, 2), _result(3, "b", 0, "two")
    )
    assert [turn.role for turn in message_turns(answer)] == [
        Role.ASSISTANT,
        Role.TOOL,
        Role.ASSISTANT,
        Role.TOOL,
        Role.ASSISTANT,
    ]


def test_an_answer_stopped_before_its_text_ends_with_its_results() -> None:
    answer = _answer("", _call(0, "a", 0, 1), _result(1, "a", 0, "one"))
    turns = message_turns(answer)
    assert [turn.role for turn in turns] == [Role.ASSISTANT, Role.TOOL]
    assert turns[0].tool_calls == (ToolCall("a", "weather", {}),)


@pytest.fixture(params=["ollama", "openai"])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[str, Engine, ModelChoice, Any]]:
    calls = [{"name": "weather", "arguments": {"city": "Oslo"}}]
    if request.param == "ollama":
        state = OllamaState(tool_calls=calls, thinkers={"qwen3:4b": ()}, thoughts=["I have", " the weather."])
        state.add("qwen3:4b")
        served = start_ollama(state)
        engine: Engine = OllamaEngine(host=served.url, read_timeout=5)
        yield "ollama", engine, ModelChoice(engine.name, "qwen3:4b"), state
    else:
        openai_state = OpenAIState(tool_calls=calls, thoughts=["I have", " the weather."])
        served = start_openai(openai_state)
        engine = OpenAICompatEngine(name="lmstudio", base_url=served.url + "/v1", read_timeout=5)
        yield "openai", engine, ModelChoice("lmstudio", "qwen2.5-7b-instruct"), openai_state
    served.stop()


def _tool_service(tmp_path: Path) -> ToolService:
    config = McpConfig(servers={"t": McpServerConfig(command=sys.executable, args=[SERVER])})
    return ToolService(config, log_dir=tmp_path / "logs")


async def _approve(request: ApprovalRequest) -> Decision:
    return Decision.ONCE


async def _ended(updates) -> AnswerEnded:
    async with aclosing(updates) as stream:
        found = [update async for update in stream]
    assert isinstance(found[-1], AnswerEnded)
    return found[-1]


def _expected(kind: str, call_id: str) -> list[dict[str, Any]]:
    """The second turn's first request, in the backend's own format (the `ollama` client leaves
    an empty content out)."""
    if kind == "ollama":
        calling: dict[str, Any] = {"role": "assistant"}
        call: dict[str, Any] = {"function": {"name": "weather", "arguments": {"city": "Oslo"}}}
        result: dict[str, Any] = {"role": "tool", "content": RESULT, "tool_name": "weather"}
    else:
        calling = {"role": "assistant", "content": ""}
        call = {"id": call_id, "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}
        result = {"role": "tool", "content": RESULT, "tool_call_id": call_id}
    return [
        {"role": "user", "content": QUESTION},
        calling | {"tool_calls": [call]},
        result,
        {"role": "assistant", "content": ANSWER},
        {"role": "user", "content": FOLLOW_UP},
    ]


async def test_the_next_turn_sends_the_calls_and_results_back(backend, tmp_path: Path) -> None:
    kind, engine, model, state = backend
    requests: list[dict[str, Any]] = state.chats if kind == "ollama" else state.requests
    tools = _tool_service(tmp_path)
    try:
        with HistoryStore.open(tmp_path / "history.db") as store:
            service = ChatService(store, {engine.name: engine}, ChatConfig(), tools=tools)
            conversation = service.settings.set_tools(service.settings.new_conversation(model), ["t"])
            first = await _ended(service.answers.send(conversation.id, QUESTION, model, approver=_approve))
            assert first.message.content == ANSWER and first.message.reasoning == "I have the weather."
            call_id = first.message.parts_of(PartKind.TOOL_CALL)[0].data["id"]
            await _ended(service.answers.send(conversation.id, FOLLOW_UP, model, approver=_approve))

        second_turn = requests[2]["messages"]
        assert second_turn == _expected(kind, call_id)
        assert "I have" not in json.dumps(second_turn)  # The reasoning stays out.

        # Reopened from the file, the same history goes out: the second answer, regenerated.
        with HistoryStore.open(tmp_path / "history.db") as reopened:
            service = ChatService(reopened, {engine.name: engine}, ChatConfig(), tools=tools)
            answer = reopened.list_messages(conversation.id)[-1]
            await _ended(service.answers.regenerate(conversation.id, answer.id, model, approver=_approve))
        assert requests[4]["messages"] == second_turn
    finally:
        await tools.aclose()


async def test_the_embedded_engine_gives_the_template_the_calls_and_results(tmp_path: Path) -> None:
    """A conversation whose tool turn was answered over Ollama goes on with a GGUF model: its own
    template is given the call and the result in the Hugging Face conventions."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    from tests.gguf_files import starter_model, write_tiny_llama
    from tui.engines.embedded.engine import EmbeddedEngine

    shows = "{{ raise_exception('MESSAGES=' ~ (messages | tojson)) }}"
    probe = write_tiny_llama(tmp_path / "probe.gguf", chat_template=shows + "{# tools #}")
    no_tools = write_tiny_llama(tmp_path / "plain.gguf", chat_template=shows)
    state = OllamaState(tool_calls=[{"name": "weather", "arguments": {"city": "Oslo"}}], thinkers={"qwen3:4b": ()})
    state.add("qwen3:4b")
    served = start_ollama(state)
    ollama = OllamaEngine(host=served.url, read_timeout=5)
    embedded = EmbeddedEngine(models_dir=tmp_path, n_threads=1, n_ctx=2048, log_path=tmp_path / "engine.log")
    tools = _tool_service(tmp_path)
    try:
        with HistoryStore.open(tmp_path / "history.db") as store:
            service = ChatService(store, {"ollama": ollama, "embedded": embedded}, ChatConfig(), tools=tools)
            first_model = ModelChoice("ollama", "qwen3:4b")
            conversation = service.settings.set_tools(service.settings.new_conversation(first_model), ["t"])
            first = await _ended(service.answers.send(conversation.id, QUESTION, first_model, approver=_approve))
            assert first.message.reasoning  # It thought after the result; that stays out below.
            service.settings.set_tools(store.get_conversation(conversation.id), None)
            second = await _ended(service.answers.send(conversation.id, FOLLOW_UP, ModelChoice("embedded", str(probe))))
            # A template that knows no tools gets them as plain alternating turns.
            plain = ModelChoice("embedded", str(no_tools))
            third = await _ended(service.answers.regenerate(conversation.id, second.message.id, plain))
        rendered = json.loads(second.message.error.split("MESSAGES=", 1)[1])
        assert rendered == [
            {"role": "user", "content": QUESTION},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "call_0", "type": "function", "function": {"name": "weather", "arguments": {"city": "Oslo"}}}
                ],
            },
            {"role": "tool", "content": RESULT, "tool_call_id": "call_0", "name": "weather"},
            {"role": "assistant", "content": ANSWER},
            {"role": "user", "content": FOLLOW_UP},
        ]

        assert json.loads(third.message.error.split("MESSAGES=", 1)[1]) == [
            {"role": "user", "content": QUESTION},
            {"role": "assistant", "content": '[called weather({"city": "Oslo"})]'},
            {"role": "user", "content": f"[weather answered]\n{RESULT}"},
            {"role": "assistant", "content": ANSWER},
            {"role": "user", "content": FOLLOW_UP},
        ]

        starter = starter_model()
        if starter is not None:  # The starter model's own template puts the result in the prompt.
            import gguf

            field = gguf.GGUFReader(str(starter)).fields["tokenizer.chat_template"]
            template = bytes(field.parts[field.data[0]]).decode()
            prompt = Jinja2ChatFormatter(template=template, eos_token="", bos_token="")(messages=rendered).prompt
            assert f"<|im_start|>tool\n{RESULT}<|im_end|>" in prompt
            assert prompt.index(RESULT) < prompt.index(ANSWER) < prompt.index(FOLLOW_UP)
    finally:
        await tools.aclose()
        await embedded.aclose()
        served.stop()
