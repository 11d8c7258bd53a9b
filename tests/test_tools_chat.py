"""The whole tool loop: a model over Ollama's and an OpenAI-compatible protocol asks for a call, a real
MCP server runs it once approved, the answer uses the result, and the history keeps it all."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.fake_openai import OpenAIState, start_openai
from tests.test_tools_servers import SERVER
from tui.chat.events import AnswerEnded, ToolNotice
from tui.chat.service import ChatService
from tui.config import ChatConfig, McpConfig, McpServerConfig
from tui.domain import MessageStatus, PartKind, Role
from tui.engines.base import Engine
from tui.engines.ollama.engine import OllamaEngine
from tui.engines.openai.engine import OpenAICompatEngine
from tui.models.names import ModelChoice
from tui.portable import document, import_file, to_json
from tui.store import HistoryStore
from tui.tools.approval import ApprovalRequest, Decision
from tui.tools.loop import REFUSED_TEXT, ToolCallShown, ToolResultShown
from tui.tools.service import ToolService

WEATHER_CALL = [{"name": "weather", "arguments": {"city": "Oslo"}}]


def mcp_config(**kwargs: object) -> McpConfig:
    servers = {
        "t": McpServerConfig(command=sys.executable, args=[SERVER]),
        "broken": McpServerConfig(command=sys.executable, args=[SERVER, "fail"]),
    }
    return McpConfig(servers=servers, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(params=["ollama", "openai"])
def backend(request: pytest.FixtureRequest) -> Iterator[tuple[Engine, ModelChoice, object]]:
    if request.param == "ollama":
        state = OllamaState(tool_calls=WEATHER_CALL)
        state.add("qwen3:4b")
        served = start_ollama(state)
        engine: Engine = OllamaEngine(host=served.url, read_timeout=5)
        yield engine, ModelChoice(engine.name, "qwen3:4b"), state
    else:
        openai_state = OpenAIState(tool_calls=WEATHER_CALL)
        served = start_openai(openai_state)
        engine = OpenAICompatEngine(name="lmstudio", base_url=served.url + "/v1", read_timeout=5)
        yield engine, ModelChoice("lmstudio", "qwen2.5-7b-instruct"), openai_state
    served.stop()


@pytest.fixture
async def tools(tmp_path: Path):
    service = ToolService(mcp_config(), log_dir=tmp_path / "logs")
    yield service
    await service.aclose()


async def _ask(
    service: ChatService,
    conversation_id: int,
    model: ModelChoice,
    decisions: list[Decision],
    asked: list[ApprovalRequest],
) -> list[object]:
    async def approver(request: ApprovalRequest) -> Decision:
        asked.append(request)
        return decisions.pop(0)

    updates = []
    async with aclosing(service.answers.send(conversation_id, "Weather in Oslo?", model, approver=approver)) as stream:
        async for update in stream:
            updates.append(update)
    return updates


async def test_approved_call_runs_and_the_answer_uses_its_result(backend, tools, tmp_path: Path) -> None:
    engine, model, state = backend
    with HistoryStore.open(tmp_path / "history.db") as store:
        service = ChatService(store, {engine.name: engine}, ChatConfig(), tools=tools)
        conversation = service.settings.set_tools(service.settings.new_conversation(model), ["t", "broken"])
        asked: list[ApprovalRequest] = []
        updates = await _ask(service, conversation.id, model, [Decision.ONCE], asked)

        assert [request.tool.qualified for request in asked] == ["t.weather"]
        notices = [update.text for update in updates if isinstance(update, ToolNotice)]
        assert notices == ["broken: could not start: it exited (it said: cannot open the database: permission denied)"]
        assert [update.part.data["state"] for update in updates if isinstance(update, ToolCallShown)] == [
            "asked",
            "done",
        ]
        assert any(isinstance(update, ToolResultShown) for update in updates)
        ended = updates[-1]
        assert isinstance(ended, AnswerEnded) and ended.message.status is MessageStatus.COMPLETE
        assert ended.message.content == "The tool said: Sunny, 21 C in Oslo (metric)"

        # The engine was offered the tools, then sent its own call and the result.
        requests = state.chats if isinstance(state, OllamaState) else state.requests
        assert len(requests) == 2
        assert {tool["function"]["name"] for tool in requests[0]["tools"]} >= {"weather", "add", "hang"}
        assert [message["role"] for message in requests[1]["messages"]] == ["user", "assistant", "tool"]

        # The whole exchange is in the history, as it will be after a restart.
        stored = store.list_messages(conversation.id)[-1]
        assert stored.content == ended.message.content
        call, result = stored.parts_of(PartKind.TOOL_CALL)[0], stored.parts_of(PartKind.TOOL_RESULT)[0]
        assert {key: call.data[key] for key in ("server", "tool", "arguments", "approval", "state")} == {
            "server": "t",
            "tool": "weather",
            "arguments": {"city": "Oslo"},
            "approval": "user",
            "state": "done",
        }
        assert result.text == "Sunny, 21 C in Oslo (metric)" and result.data["id"] == call.data["id"]
        assert call.seq < result.seq


async def test_refused_call_never_runs_and_the_model_is_told(backend, tools, tmp_path: Path) -> None:
    engine, model, _ = backend
    with HistoryStore.open(tmp_path / "history.db") as store:
        service = ChatService(store, {engine.name: engine}, ChatConfig(), tools=tools)
        conversation = service.settings.set_tools(service.settings.new_conversation(model), ["t.weather"])
        updates = await _ask(service, conversation.id, model, [Decision.REFUSE], [])
        ended = updates[-1]
        assert isinstance(ended, AnswerEnded)
        assert ended.message.content == f"The tool said: {REFUSED_TEXT}"
        call = ended.message.parts_of(PartKind.TOOL_CALL)[0]
        assert (call.data["state"], call.data["approval"]) == ("refused", "refused")


@pytest.mark.parametrize("backend", ["ollama"], indirect=True)
async def test_without_an_approver_nothing_runs(backend, tools, tmp_path: Path) -> None:
    engine, model, _ = backend
    with HistoryStore.open(tmp_path / "history.db") as store:
        service = ChatService(store, {engine.name: engine}, ChatConfig(), tools=tools)
        conversation = service.settings.set_tools(service.settings.new_conversation(model), ["t.weather"])
        async with aclosing(service.answers.send(conversation.id, "Weather?", model)) as stream:
            updates = [update async for update in stream]
        assert updates[-1].message.content == f"The tool said: {REFUSED_TEXT}"


@pytest.mark.parametrize("backend", ["ollama"], indirect=True)
async def test_tools_off_offers_nothing_and_starts_no_server(backend, tools, tmp_path: Path) -> None:
    engine, model, state = backend
    with HistoryStore.open(tmp_path / "history.db") as store:
        service = ChatService(store, {engine.name: engine}, ChatConfig(), tools=tools)
        conversation = service.settings.new_conversation(model)
        updates = await _ask(service, conversation.id, model, [], [])
        assert updates[-1].message.content.startswith(("Hello", "Hi"))
        requests = state.chats if isinstance(state, OllamaState) else state.requests
        assert not requests[-1].get("tools")
        assert tools.listed is None  # no server was started


@pytest.mark.parametrize("backend", ["ollama"], indirect=True)
async def test_export_and_import_keep_the_calls(backend, tools, tmp_path: Path) -> None:
    engine, model, _ = backend
    with HistoryStore.open(tmp_path / "history.db") as store:
        service = ChatService(store, {engine.name: engine}, ChatConfig(), tools=tools)
        conversation = service.settings.set_tools(service.settings.new_conversation(model), ["t.weather"])
        await _ask(service, conversation.id, model, [Decision.ONCE], [])
        exported = tmp_path / "chat.json"
        exported.write_text(to_json(document(store, conversation.id)))
    with HistoryStore.open(tmp_path / "other.db") as other:
        (imported,) = import_file(other, exported)
        answer = [m for m in other.list_messages(imported.id) if m.role is Role.ASSISTANT][-1]
        kinds = [part.kind for part in answer.parts]
        assert kinds == [PartKind.TOOL_CALL, PartKind.TOOL_RESULT]
        assert answer.parts[0].data["approval"] == "user" and answer.parts[1].text == "Sunny, 21 C in Oslo (metric)"
        assert json.loads(exported.read_text())["messages"][-1]["parts"][0]["data"]["server"] == "t"
