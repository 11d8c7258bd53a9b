"""OpenAI-compatible servers: the real `openai` client against a loopback server streaming SSE."""

from __future__ import annotations

import base64
import io
import time
from contextlib import aclosing

import pytest
from PIL import Image

from tests.fake_openai import start_openai
from tests.loopback import Handler, closed_port, serve
from tui.chat.service import ChatService
from tui.config import ChatConfig, Config, ServerConfig
from tui.domain import Attachment, ChatTurn, GenerationOptions, MessageStatus, Role
from tui.engines.base import (
    BadRequest,
    EngineCrashed,
    EngineError,
    EngineUnavailable,
    Finished,
    ModelNotFound,
    ReasoningPiece,
    TextPiece,
)
from tui.engines.openai.engine import PRESETS, OpenAICompatEngine, configured_servers
from tui.models.names import ModelChoice
from tui.store import HistoryStore

HELLO = [ChatTurn(Role.USER, "hi")]
KEY = "sk-test-abcdef0123456789"
DEFAULT_OPTIONS = GenerationOptions()


@pytest.fixture
def server():
    served = start_openai()
    yield served
    served.stop()


@pytest.fixture
async def engine(server):
    engine = OpenAICompatEngine(name="lmstudio", base_url=server.url + "/v1", read_timeout=2)
    yield engine
    await engine.aclose()


async def collect(engine, model="qwen2.5-7b-instruct", options=DEFAULT_OPTIONS):
    async with aclosing(engine.chat(model, HELLO, options)) as stream:
        return [event async for event in stream]


def test_presets_and_configured_servers() -> None:
    config = Config(
        servers=[
            ServerConfig(preset="lmstudio"),
            ServerConfig(preset="vllm", name="gpu"),
            ServerConfig(preset="nope"),
            ServerConfig(name="bare"),
            ServerConfig(preset="localai"),
            ServerConfig(preset="llama-server"),
        ]
    )
    engines = configured_servers(config, {})
    assert list(engines) == ["lmstudio", "gpu", "nope", "bare", "localai", "llama-server"]
    assert engines["lmstudio"].base_url == "http://localhost:1234/v1" == PRESETS["lmstudio"]
    assert engines["gpu"].base_url == "http://localhost:8000/v1"
    assert engines["localai"].base_url == engines["llama-server"].base_url == "http://localhost:8080/v1"


async def test_misconfigured_server_lists_offline_with_why() -> None:
    engines = configured_servers(Config(servers=[ServerConfig(preset="nope"), ServerConfig(name="bare")]), {})
    with pytest.raises(EngineUnavailable, match="unknown preset 'nope'"):
        await engines["nope"].list_models()
    with pytest.raises(EngineUnavailable, match="no base_url and no preset"):
        await engines["bare"].list_models()


async def test_models_and_a_streamed_answer(engine, server) -> None:
    models = await engine.list_models()
    assert [m.name for m in models] == ["qwen2.5-7b-instruct", "llama-3.2-3b-instruct"]
    assert models[0].backend == "lmstudio" and models[0].context_length == 32768
    options = GenerationOptions(temperature=0.3, top_p=0.8, max_tokens=50, seed=1, stop=("END",))
    events = await collect(engine, options=options)
    assert [e.text for e in events if isinstance(e, TextPiece)] == ["Hi", " there", "!"]
    final = events[-1]
    assert isinstance(final, Finished) and (final.prompt_tokens, final.completion_tokens) == (12, 3)
    assert final.stop_reason == "stop" and final.ttft_s is not None
    body = server.requests[-1].body
    assert body["stream"] is True and body["messages"] == [{"role": "user", "content": "hi"}]
    assert (body["temperature"], body["top_p"], body["max_tokens"], body["seed"], body["stop"]) == (
        0.3,
        0.8,
        50,
        1,
        ["END"],
    )


async def test_server_without_stream_options_still_answers(engine, server) -> None:
    server.state.fault = "no_usage_support"
    events = await collect(engine)
    assert events[-1].completion_tokens == 3 and events[-1].prompt_tokens == 0
    assert "stream_options" not in server.requests[-1].body


async def test_api_key_comes_from_the_environment_and_is_never_shown(server, monkeypatch) -> None:
    server.state.api_key = KEY
    monkeypatch.setenv("OPENAI_API_KEY", "sk-the-users-real-openai-key")
    config = Config(servers=[ServerConfig(name="vllm", base_url=server.url + "/v1", api_key_env="VLLM_KEY")])
    without = configured_servers(config, {})["vllm"]
    with pytest.raises(EngineUnavailable, match="HTTP 401.*VLLM_KEY is not set"):
        await without.list_models()
    # The user's OpenAI key is never sent to a local server.
    assert "sk-the-users-real" not in server.requests[-1].headers.get("Authorization", "")
    engine = configured_servers(config, {"VLLM_KEY": KEY})["vllm"]
    assert len(await engine.list_models()) == 2
    wrong = configured_servers(config, {"VLLM_KEY": "sk-wrong-key-0000"})["vllm"]
    with pytest.raises(EngineUnavailable) as raised:
        await wrong.list_models()
    assert "check the key in $VLLM_KEY" in str(raised.value) and "sk-wrong" not in str(raised.value)
    for e in (without, engine, wrong):
        await e.aclose()


async def test_a_key_the_server_quotes_back_is_scrubbed_from_its_error(server) -> None:
    server.state.api_key, server.state.fault = KEY, "echo_key"
    config = Config(servers=[ServerConfig(name="vllm", base_url=server.url + "/v1", api_key_env="VLLM_KEY")])
    engine = configured_servers(config, {"VLLM_KEY": KEY})["vllm"]
    with pytest.raises(BadRequest) as raised:
        await collect(engine)
    assert "bad request with Bearer" in str(raised.value) and KEY not in str(raised.value)
    await engine.aclose()


class Elsewhere(Handler):
    def route(self) -> None:
        self.send_json(200, {"object": "list", "data": []})


async def test_redirect_to_another_host_is_not_followed(server) -> None:
    elsewhere = serve(Elsewhere)
    try:
        # A user:password in the Location is not shown either.
        server.state.redirect_to = elsewhere.url.replace("http://", "http://mallory:pw-there1@")
        server.state.api_key, server.state.fault = KEY, "redirect"
        config = Config(servers=[ServerConfig(name="vllm", base_url=server.url + "/v1", api_key_env="VLLM_KEY")])
        engine = configured_servers(config, {"VLLM_KEY": KEY})["vllm"]
        with pytest.raises(EngineUnavailable) as raised:
            await collect(engine)
        message = str(raised.value)
        assert f"redirected the request to {elsewhere.host_port} (HTTP 307)" in message
        assert "does not follow redirects" in message and KEY not in message
        assert "mallory" not in message and "pw-there1" not in message
        assert elsewhere.requests == []  # the key never left for the other host
        await engine.aclose()
    finally:
        elsewhere.stop()


async def test_user_and_password_in_base_url_never_appear(server) -> None:
    server.state.fault = "http500"
    engine = OpenAICompatEngine(name="proxy", base_url=server.url.replace("http://", "http://bob:pw-here22@") + "/v1")
    with pytest.raises(EngineError) as raised:
        await collect(engine)
    assert "model crashed while loading" in str(raised.value)
    assert "bob" not in str(raised.value) and "pw-here22" not in str(raised.value)
    await engine.aclose()


async def test_unreachable_server_is_offline_at_once() -> None:
    engine = OpenAICompatEngine(name="lmstudio", base_url=f"http://127.0.0.1:{closed_port()}/v1")
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match="cannot reach lmstudio.*connection refused"):
        await engine.list_models()
    assert time.monotonic() - started < 5  # refused at once, not after the 10 s connect timeout
    await engine.aclose()


FAULTS = [
    ("kill", EngineCrashed, "broke in the middle of the answer", "Hi"),
    ("stall", EngineError, "stopped responding: nothing arrived for 2 s", "Hi"),
    ("http500", EngineError, "failed (HTTP 500): model crashed while loading", ""),
    ("bad_json", EngineError, "sent an event that is not JSON", "Hi"),
    ("forbidden", EngineUnavailable, "refused the request (HTTP 403): set api_key_env", ""),
]


@pytest.mark.parametrize(("fault", "kind", "words", "kept"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_faults_keep_the_partial_answer(engine, server, tmp_path, fault, kind, words, kept) -> None:
    server.state.fault, server.state.stall_s = fault, 20.0  # far longer than the 2 s read timeout
    with HistoryStore.open(tmp_path / "h.db") as store:
        service = ChatService(store, {"lmstudio": engine}, ChatConfig())
        choice = ModelChoice("lmstudio", "qwen2.5-7b-instruct")
        conversation = service.settings.new_conversation(choice)
        async with aclosing(service.answers.send(conversation.id, "hi", choice)) as updates:
            [u async for u in updates]
        answer = store.list_messages(conversation.id)[-1]
        assert (answer.status, answer.content) == (MessageStatus.ERROR, kept)
        assert words in answer.error, answer.error
        server.state.fault = ""
        async with aclosing(service.answers.send(conversation.id, "again", choice)) as updates:
            [u async for u in updates]
        assert store.list_messages(conversation.id)[-1].status is MessageStatus.COMPLETE
    server.state.fault = fault
    with pytest.raises(kind):
        await collect(engine)


async def test_unknown_model_and_bad_request(engine) -> None:
    with pytest.raises(ModelNotFound, match="has no model 'nope'"):
        await collect(engine, model="nope")
    rows = dict(await engine.details("qwen2.5-7b-instruct"))
    assert rows["max_model_len"] == "32768"
    assert issubclass(BadRequest, EngineError)


async def test_the_configured_read_timeout_ends_a_stall(server) -> None:
    server.state.fault, server.state.stall_s = "stall", 3.0
    config = Config(servers=[ServerConfig(name="vllm", base_url=server.url + "/v1", read_timeout=0.4)])
    engine = configured_servers(config, {})["vllm"]
    started = time.monotonic()
    with pytest.raises(EngineError, match="nothing arrived for 0.4 s"):
        await collect(engine)
    assert time.monotonic() - started < 2.5  # the configured 0.4 s, not the 120 s default
    await engine.aclose()


async def test_invalid_utf8_from_the_server_becomes_replacement_characters(engine, server) -> None:
    server.state.fault, server.state.fault_after = "bad_utf8", 1
    events = await collect(engine)
    text = "".join(e.text for e in events if isinstance(e, TextPiece))
    assert text == "Hi\ufffdcafé € there!"  # the answer goes on; the split € arrives whole
    # Asked uncompressed, so the repair always has text to work on.
    assert server.requests[-1].headers.get("Accept-Encoding") == "identity"
    assert isinstance(events[-1], Finished)


def texts(events: list, kind: type) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
async def test_reasoning_deltas_stream_as_reasoning(engine, server, field) -> None:
    server.state.thoughts = ["Greeting", " detected."]
    server.state.reasoning_field = field
    events = await collect(engine)
    assert [type(e) for e in events[:3]] == [ReasoningPiece, ReasoningPiece, TextPiece]
    assert texts(events, ReasoningPiece) == "Greeting detected." and texts(events, TextPiece) == "Hi there!"
    final = events[-1]
    assert final.reasoning_ttft_s is not None and final.ttft_s is not None
    assert final.ttft_s >= final.reasoning_ttft_s
    # The server's one total (5) split by characters: 18 of reasoning, 9 of answer.
    assert (final.completion_tokens, final.reasoning_tokens, final.reasoning_estimated) == (5, 3, True)
    body = server.requests[-1].body
    assert "reasoning_effort" not in body and "chat_template_kwargs" not in body  # The model's default.


async def test_reasoning_counted_by_the_server_is_not_an_estimate(engine, server) -> None:
    server.state.thoughts, server.state.reasoning_tokens = ["Hmm."], 1
    final = (await collect(engine))[-1]
    assert (final.reasoning_tokens, final.reasoning_estimated) == (1, False)


async def test_think_tags_inside_the_content_are_split_even_across_chunks(engine, server) -> None:
    server.state.reply = ["<th", "ink>\nThe user", " says hi.</thi", "nk>\n\nHello", " <b>there</b>"]
    events = await collect(engine)
    assert texts(events, ReasoningPiece) == "The user says hi."
    assert texts(events, TextPiece) == "Hello <b>there</b>"
    assert events[-1].ttft_s >= events[-1].reasoning_ttft_s


async def test_think_settings_reach_the_server_and_a_refused_level_is_said(engine, server) -> None:
    server.state.thoughts = ["Thinking."]
    events = await collect(engine, options=GenerationOptions(think="off"))
    assert server.requests[-1].body["chat_template_kwargs"] == {"enable_thinking": False}
    assert texts(events, ReasoningPiece) == "" and events[-1].notice == ""
    await collect(engine, options=GenerationOptions(think="on"))
    assert server.requests[-1].body["chat_template_kwargs"] == {"enable_thinking": True}
    await collect(engine, options=GenerationOptions(think="high"))
    assert server.requests[-1].body["reasoning_effort"] == "high"
    assert (await engine.list_models())[0].extra["think_levels"] == ["low", "medium", "high"]
    # A server that refuses reasoning_effort: asked again without it, and the answer says so.
    server.state.refuses = ("reasoning_effort",)
    events = await collect(engine, options=GenerationOptions(think="low"))
    assert "reasoning_effort" not in server.requests[-1].body and texts(events, TextPiece) == "Hi there!"
    assert events[-1].notice == "lmstudio does not take reasoning_effort, so the think setting was not sent"
    assert "think_levels" not in (await engine.list_models())[0].extra  # Levels no longer offered.
    chats = [r for r in server.requests if r.path.endswith("/chat/completions")]
    events = await collect(engine, options=GenerationOptions(think="low"))  # Not tried again.
    assert len([r for r in server.requests if r.path.endswith("/chat/completions")]) == len(chats) + 1
    assert "does not take reasoning_effort" in events[-1].notice


async def test_a_model_that_thinks_with_think_off_is_reported(engine, server) -> None:
    server.state.thoughts, server.state.honours_think_off = ["I think anyway."], False
    events = await collect(engine, options=GenerationOptions(think="off"))
    assert texts(events, ReasoningPiece) == "I think anyway." and texts(events, TextPiece) == "Hi there!"
    assert events[-1].notice == "the model thought although thinking was set off"


async def test_reasoning_goes_back_only_when_the_turn_carries_it(engine, server) -> None:
    turns = [
        ChatTurn(Role.USER, "hi"),
        ChatTurn(Role.ASSISTANT, "Hello", reasoning="greet"),
        ChatTurn(Role.ASSISTANT, "Plain"),
    ]
    async with aclosing(engine.chat("qwen2.5-7b-instruct", turns, GenerationOptions())) as stream:
        [event async for event in stream]
    sent = server.requests[-1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": "Hello", "reasoning_content": "greet"}
    assert sent[2] == {"role": "assistant", "content": "Plain"}


async def test_an_image_goes_as_a_data_url_part_of_the_user_content(engine, server, tmp_path) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), "green").save(picture, format="PNG")
    shot = Attachment("shot.png", "image/png", picture.getvalue())
    notes = Attachment("notes.txt", "text/plain", b"line one\n")
    with HistoryStore.open(tmp_path / "h.db") as store:
        service = ChatService(store, {"lmstudio": engine}, ChatConfig())
        choice = ModelChoice("lmstudio", "qwen2.5-7b-instruct")
        assert engine.supports_images(choice.name) is None  # The server decides.
        conversation = service.settings.new_conversation(choice)
        async with aclosing(
            service.answers.send(conversation.id, "what is this?", choice, attachments=[notes, shot])
        ) as updates:
            [u async for u in updates]
        assert store.list_messages(conversation.id)[-1].status is MessageStatus.COMPLETE
    text, image = server.requests[-1].body["messages"][-1]["content"]
    assert text["type"] == "text" and "notes.txt" in text["text"] and text["text"].endswith("what is this?")
    assert image["type"] == "image_url"
    prefix, encoded = image["image_url"]["url"].split(",", 1)
    assert prefix == "data:image/png;base64" and base64.b64decode(encoded) == picture.getvalue()
