"""The Ollama backend: the real `ollama` client against a loopback daemon that speaks its API."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing

import pytest

from tests.fake_ollama import GIB, OllamaState, start_ollama
from tests.loopback import Handler, closed_port, serve
from tui.chat.service import ChatService
from tui.chat.thinking import think_choices
from tui.config import ChatConfig, Config
from tui.domain import ChatTurn, GenerationOptions, MessageStatus, Role
from tui.engines.base import (
    EngineCrashed,
    EngineError,
    EngineUnavailable,
    Finished,
    ModelNotFound,
    ReasoningPiece,
    TextPiece,
)
from tui.engines.ollama.engine import (
    OllamaEngine,
    ThinkAbility,
    configured_ollama_engines,
    ollama_url,
)
from tui.models.names import ModelChoice
from tui.store import HistoryStore

HELLO = [ChatTurn(Role.USER, "hi")]
SECRET = "Bearer sk-live-0123456789abcdef"
DEFAULT_OPTIONS = GenerationOptions()


@pytest.fixture
def daemon():
    state = OllamaState()
    state.add("llama3.2:latest", size=2 * GIB)
    state.add("qwen2.5:7b", size=4 * GIB, family="qwen2", params="7.6B")
    state.load("qwen2.5:7b", vram=5 * GIB)
    served = start_ollama(state)
    yield served
    served.stop()


@pytest.fixture
async def engine(daemon):
    engine = OllamaEngine(host=daemon.url, connect_timeout=5, read_timeout=5)
    yield engine
    await engine.aclose()


async def collect(engine, model="llama3.2:latest", options=DEFAULT_OPTIONS):
    events = []
    async with aclosing(engine.chat(model, HELLO, options)) as stream:
        async for event in stream:
            events.append(event)
    return events


def test_hosts_are_normalised_like_ollama_does() -> None:
    assert ollama_url("") == "http://localhost:11434"
    assert ollama_url("gpu-box") == "http://gpu-box:11434"
    assert ollama_url("10.0.0.2:8080") == "http://10.0.0.2:8080"
    assert ollama_url("https://ollama.example.com/") == "https://ollama.example.com"


def test_configured_engines_one_per_host() -> None:
    config = Config()
    assert list(configured_ollama_engines(config, {})) == ["ollama"]
    assert configured_ollama_engines(config, {"OLLAMA_HOST": "box:1234"})["ollama"].url == "http://box:1234"
    config.ollama.hosts = ["localhost:11434", "gpu-box"]
    assert list(configured_ollama_engines(config, {})) == ["ollama@localhost:11434", "ollama@gpu-box:11434"]
    config.ollama.enabled = False
    assert configured_ollama_engines(config, {}) == {}


async def test_models_are_listed_with_state_and_shape(engine, daemon) -> None:
    models = {m.name: m for m in await engine.list_models()}
    assert set(models) == {"llama3.2:latest", "qwen2.5:7b"}
    llama, qwen = models["llama3.2:latest"], models["qwen2.5:7b"]
    assert (llama.backend, llama.size_bytes, llama.quantization, llama.architecture) == (
        "ollama",
        2 * GIB,
        "Q4_K_M",
        "llama",
    )
    assert llama.parameters == 3_212_749_888 and llama.context_length == 131072
    assert llama.extra["kv"] == {"layers": 28, "kv_heads": 8, "key_length": 128, "value_length": 128, "heads": 24}
    assert "running" not in llama.extra
    assert qwen.extra["running"]["size_vram"] == 5 * GIB and qwen.extra["running"]["expires_at"] > time.time()
    # /api/show is asked once per model digest, not on every refresh.
    shows = daemon.paths().count("POST /api/show")
    await engine.list_models()
    assert daemon.paths().count("POST /api/show") == shows


async def test_answer_streams_with_the_daemons_own_figures(engine, daemon) -> None:
    options = GenerationOptions(temperature=0.2, top_p=0.9, max_tokens=64, seed=7, stop=("###",))
    engine.num_ctx = 8192
    events = await collect(engine, options=options)
    assert [e.text for e in events if isinstance(e, TextPiece)] == ["Hello", " from", " Ollama", "."]
    final = events[-1]
    assert isinstance(final, Finished) and sum(isinstance(e, Finished) for e in events) == 1
    assert (final.prompt_tokens, final.completion_tokens, final.stop_reason) == (26, 4, "stop")
    assert final.gen_s == pytest.approx(0.25) and final.tokens_per_s == pytest.approx(16)
    assert final.prompt_s == pytest.approx(0.13) and final.load_s == pytest.approx(0.5)
    body = daemon.requests[-1].body
    assert body["options"] == {
        "temperature": 0.2,
        "top_p": 0.9,
        "num_predict": 64,
        "seed": 7,
        "stop": ["###"],
        "num_ctx": 8192,
    }
    assert body["messages"] == [{"role": "user", "content": "hi"}] and body["stream"] is True


async def test_user_and_password_in_the_host_never_appear(daemon) -> None:
    host = daemon.url.replace("http://", "http://alice:pw-hunter2@")
    engine = OllamaEngine(host=host, read_timeout=0.5)
    daemon.state.chat_fault = "http500"
    with pytest.raises(EngineError) as failed:
        await collect(engine)
    assert "pw-hunter2" not in str(failed.value) and "alice" not in str(failed.value)
    assert daemon.url.removeprefix("http://") in str(failed.value)  # the host itself is still named
    assert daemon.requests[-1].headers["Authorization"] == "Basic YWxpY2U6cHctaHVudGVyMg=="  # sent as basic auth
    config = Config()
    config.ollama.hosts = [host, "gpu-box"]
    assert "pw-hunter2" not in " ".join(configured_ollama_engines(config, {}))
    await engine.aclose()


async def test_unreachable_daemon_is_offline_at_once() -> None:
    engine = OllamaEngine(host=f"127.0.0.1:{closed_port()}", connect_timeout=10)
    started = time.monotonic()
    with pytest.raises(EngineUnavailable, match="cannot reach Ollama.*connection refused"):
        await engine.list_models()
    with pytest.raises(EngineUnavailable, match="connection refused"):
        await collect(engine)
    assert time.monotonic() - started < 5  # Refused at once, not after the 10 s connect timeout.
    await engine.aclose()


FAULTS = [
    # (fault, error type, words in the message, pieces kept)
    ("kill", EngineCrashed, "broke in the middle of the answer", "Hello from"),
    ("stall", EngineError, "stopped responding: nothing arrived for 2 s", "Hello from"),
    ("http500", EngineError, "failed (HTTP 500): llama runner process has terminated", ""),
    ("error_line", EngineError, "reported an error: an error was encountered while running the model", "Hello from"),
    ("bad_json", EngineError, "sent a line that is not JSON ('<html>proxy error</html>')", "Hello from"),
    ("unauthorized", EngineUnavailable, "refused the request (HTTP 401 unauthorized)", ""),
    ("forbidden", EngineUnavailable, "refused the request (HTTP 403 forbidden)", ""),
    ("echo_auth", EngineError, "failed (HTTP 500): upstream rejected ", ""),  # the secret itself is scrubbed
]


@pytest.mark.parametrize(("fault", "kind", "words", "kept"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_each_fault_is_a_readable_error_and_the_partial_answer_is_kept(
    daemon, tmp_path, fault, kind, words, kept
) -> None:
    # A read timeout a loaded machine never trips between pieces, and a stall far longer than it.
    engine = OllamaEngine(host=daemon.url, read_timeout=2, auth_secret=SECRET, auth_env="OLLAMA_TOKEN")
    daemon.state.chat_fault, daemon.state.stall_s = fault, 20.0
    with HistoryStore.open(tmp_path / "h.db") as store:
        service = ChatService(store, {"ollama": engine}, ChatConfig())
        choice = ModelChoice("ollama", "llama3.2:latest")
        conversation = service.settings.new_conversation(choice)
        started = time.monotonic()
        async with aclosing(service.answers.send(conversation.id, "hi", choice)) as updates:
            [update async for update in updates]
        assert time.monotonic() - started < 15  # the stall ended by the read timeout, not by the server
        answer = store.list_messages(conversation.id)[-1]
        assert answer.status is MessageStatus.ERROR
        assert words in answer.error, answer.error
        assert answer.content == kept
        assert "sk-live" not in answer.error and "0123456789" not in answer.error
        # Retry works once the daemon behaves.
        daemon.state.chat_fault = ""
        async with aclosing(service.answers.send(conversation.id, "again", choice)) as updates:
            [update async for update in updates]
        assert store.list_messages(conversation.id)[-1].status is MessageStatus.COMPLETE
    with pytest.raises(kind):
        daemon.state.chat_fault = fault
        await collect(engine)
    await engine.aclose()


async def test_unknown_model_is_model_not_found(engine) -> None:
    with pytest.raises(ModelNotFound, match="model 'nope:latest' not found on Ollama at .*: pull it first"):
        await collect(engine, model="nope:latest")


async def test_auth_header_comes_from_the_environment_and_is_never_shown(daemon) -> None:
    daemon.state.required_auth = SECRET
    config = Config()
    config.ollama.hosts = [daemon.url]
    config.ollama.auth_header_env = "LCHAT_TEST_OLLAMA_AUTH"
    missing = configured_ollama_engines(config, {})["ollama"]
    with pytest.raises(EngineUnavailable, match="LCHAT_TEST_OLLAMA_AUTH named in .* is not set"):
        await missing.list_models()
    engine = configured_ollama_engines(config, {"LCHAT_TEST_OLLAMA_AUTH": SECRET})["ollama"]
    assert len(await engine.list_models()) == 2
    assert {k.lower(): v for k, v in daemon.requests[-1].headers.items()}["authorization"] == SECRET
    daemon.state.required_auth = "Bearer another"
    with pytest.raises(EngineUnavailable) as raised:
        await engine.list_models()
    assert "HTTP 401" in str(raised.value) and "$LCHAT_TEST_OLLAMA_AUTH" in str(raised.value)
    assert "sk-live" not in str(raised.value)
    await engine.aclose()
    await missing.aclose()


class Recorder(Handler):
    def route(self) -> None:
        self.send_json(200, {"models": []})


async def test_redirect_to_another_host_is_not_followed(daemon) -> None:
    elsewhere = serve(Recorder)
    try:
        daemon.state.chat_fault = "redirect"
        daemon.state.redirect_to = elsewhere.url
        engine = OllamaEngine(host=daemon.url, auth_secret=SECRET)
        with pytest.raises(EngineUnavailable) as raised:
            await collect(engine)
        message = str(raised.value)
        assert f"redirected the request to {elsewhere.host_port} (HTTP 307)" in message
        assert "does not follow redirects" in message and "sk-live" not in message
        assert elsewhere.requests == []  # the credentials never left for the other host
        await engine.aclose()
    finally:
        elsewhere.stop()


async def test_pull_reports_progress_then_the_model_is_listed(engine, daemon) -> None:
    assert engine.can_pull and engine.can_delete and engine.can_unload
    daemon.state.pull_sizes["phi3:mini"] = 1000
    steps = [step async for step in engine.pull("phi3:mini")]
    assert steps[0].status == "pulling manifest" and steps[-1].status == "success"
    sized = [s for s in steps if s.total]
    assert [s.completed for s in sized] == [0, 200, 400, 600, 800, 1000] and sized[0].total == 1000
    assert "phi3:mini" in {m.name for m in await engine.list_models()}


async def test_pull_failures_are_readable(engine, daemon) -> None:
    with pytest.raises(EngineError, match="pulling 'no-such-model' failed: pull model manifest: file does not exist"):
        [step async for step in engine.pull("no-such-model")]
    daemon.state.pull_sizes["big:1"] = 10**9
    daemon.state.pull_fault = "error_line"
    with pytest.raises(EngineError, match="no space left on device"):
        [step async for step in engine.pull("big:1")]
    daemon.state.pull_fault = "kill"
    with pytest.raises(EngineCrashed, match="broke during pull"):
        [step async for step in engine.pull("big:1")]


async def test_pull_is_cancelled_by_cancelling_the_consumer(engine, daemon) -> None:
    daemon.state.pull_sizes["slow:1"] = 1000
    daemon.state.pull_steps, daemon.state.pull_delay = 100, 0.05
    seen = []

    async def consume():
        async for step in engine.pull("slow:1"):
            seen.append(step)

    task = asyncio.create_task(consume())
    while len(seen) < 3:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert "slow:1" not in daemon.state.models


async def test_delete_unload_and_details(engine, daemon) -> None:
    assert engine.can_describe
    rows = dict(await engine.details("llama3.2:latest"))
    assert rows["Architecture"] == "llama" and rows["Context length"] == "131072"
    assert rows["Capabilities"] == "completion, tools" and rows["Template"] == "{{ .Prompt }}"
    assert rows["License"].startswith("LLAMA 3.2") and "temperature 0.6" in rows["Default parameters"]
    assert rows["Quantization"] == "Q4_K_M" and rows["Parameters"] == "3,212,749,888"
    await engine.unload("qwen2.5:7b")
    assert "qwen2.5:7b" not in daemon.state.running
    assert daemon.requests[-1].body["keep_alive"] == 0
    await engine.delete("llama3.2:latest")
    assert "llama3.2:latest" not in daemon.state.models
    with pytest.raises(ModelNotFound, match="'llama3.2:latest' not found"):
        await engine.delete("llama3.2:latest")
    with pytest.raises(ModelNotFound):
        await engine.details("llama3.2:latest")


async def test_the_configured_read_timeout_ends_a_stall(daemon) -> None:
    daemon.state.chat_fault, daemon.state.stall_s = "stall", 3.0
    config = Config()
    config.ollama.hosts, config.ollama.read_timeout = [daemon.url], 0.4
    engine = configured_ollama_engines(config, {})["ollama"]
    started = time.monotonic()
    with pytest.raises(EngineError, match="nothing arrived for 0.4 s"):
        await collect(engine)
    assert time.monotonic() - started < 2.5  # the configured 0.4 s, not the 120 s default
    await engine.aclose()


async def test_invalid_utf8_from_the_daemon_becomes_replacement_characters(engine, daemon) -> None:
    daemon.state.chat_fault, daemon.state.fault_after = "bad_utf8", 1
    events = await collect(engine)
    text = "".join(e.text for e in events if isinstance(e, TextPiece))
    assert text == "Hello\ufffdcafé € from Ollama."  # the answer goes on; the split € arrives whole
    assert isinstance(events[-1], Finished)


class NotOllama(Handler):
    """Some other web server on the configured port: a Go mux's plain-text 404 for everything."""

    def route(self) -> None:
        data = b"404 page not found"
        self.send_response(404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


async def test_a_wrong_host_is_named_as_such_not_as_a_missing_model() -> None:
    other = serve(NotOllama)
    try:
        engine = OllamaEngine(host=other.url)
        with pytest.raises(EngineUnavailable, match="no Ollama API at .*HTTP 404"):
            await engine.list_models()
        with pytest.raises(EngineUnavailable, match=r"no Ollama API at .*\(HTTP 404: 404 page not found\)"):
            await collect(engine)
        await engine.aclose()
    finally:
        other.stop()


@pytest.fixture
def thinking_daemon(daemon):
    state: OllamaState = daemon.state
    state.add("qwen3:8b", family="qwen3")
    state.add("gpt-oss:20b", family="gptoss")
    state.thinkers = {"qwen3:8b": (), "gpt-oss:20b": ("low", "medium", "high")}
    return daemon


async def test_a_thinking_model_streams_its_reasoning_first_and_the_answer_clean(engine, thinking_daemon) -> None:
    thinking_daemon.state.piece_delay = 0.05
    events = await collect(engine, "qwen3:8b")
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["ReasoningPiece"] * 3 + ["TextPiece"] * 4 + ["Finished"]
    assert "".join(e.text for e in events if isinstance(e, ReasoningPiece)) == "The user greets me. Reply kindly."
    assert "".join(e.text for e in events if isinstance(e, TextPiece)) == "Hello from Ollama."
    final = events[-1]
    # TTFT is the first answer token; the reasoning's own is earlier.
    assert final.reasoning_ttft_s is not None and final.ttft_s is not None
    assert final.ttft_s >= final.reasoning_ttft_s + 0.1
    # One eval_count (4) for both: the split is estimated by characters (33 reasoning, 18 answer).
    assert (final.reasoning_tokens, final.reasoning_estimated) == (round(4 * 33 / 51), True)
    assert "think" not in thinking_daemon.requests[-1].body  # None: the model's default.
    assert final.notice == ""


async def test_think_is_sent_as_the_model_allows(engine, thinking_daemon) -> None:
    async def think_sent(model: str, think: str | None) -> tuple[object, list[object]]:
        events = await collect(engine, model, GenerationOptions(think=think))
        body = [r for r in thinking_daemon.requests if r.path == "/api/chat"][-1].body
        return body.get("think", "absent"), events

    value, events = await think_sent("qwen3:8b", "off")
    assert (
        value is False
        and not any(isinstance(e, ReasoningPiece) for e in events)
        and events[-1].reasoning_tokens is None
    )
    assert (await think_sent("qwen3:8b", "on"))[0] is True
    assert (await think_sent("qwen3:8b", "high"))[0] is True  # No levels: a level means on.
    assert (await think_sent("gpt-oss:20b", "low"))[0] == "low"
    assert (await think_sent("gpt-oss:20b", "on"))[0] == "medium"  # The model's default level.
    # A model that cannot think is never sent `think` (Ollama refuses it), whatever the setting.
    value, events = await think_sent("llama3.2:latest", "on")
    assert value == "absent" and isinstance(events[-1], Finished)
    # gpt-oss thinks anyway with think off: the answer says so.
    value, events = await think_sent("gpt-oss:20b", "off")
    assert value is False and any(isinstance(e, ReasoningPiece) for e in events)
    assert events[-1].notice == "the model thought although thinking was set off"
    # /api/show is asked once per model, however many answers.
    assert thinking_daemon.paths().count("POST /api/show") == 3


async def test_the_model_list_says_which_models_think_and_their_levels(engine, thinking_daemon) -> None:
    models = {m.name: m for m in await engine.list_models()}
    assert models["qwen3:8b"].extra["thinking"] is True and "think_levels" not in models["qwen3:8b"].extra
    assert models["gpt-oss:20b"].extra["think_levels"] == ["low", "medium", "high"]
    assert models["llama3.2:latest"].extra["thinking"] is False
    assert think_choices(models["gpt-oss:20b"]) == ["", "off", "low", "medium", "high"]
    assert think_choices(models["llama3.2:latest"]) == [""]
    shows = thinking_daemon.paths().count("POST /api/show")
    await collect(engine, "gpt-oss:20b", GenerationOptions(think="low"))  # The list's answer is reused.
    assert thinking_daemon.paths().count("POST /api/show") == shows


def test_think_ability_from_older_daemons_without_the_levels_object() -> None:
    assert ThinkAbility.from_show({"capabilities": ["completion"]}).as_extra() == {"thinking": False}
    assert ThinkAbility.from_show({"capabilities": ["thinking"]}).as_extra() == {"thinking": True}
    gpt_oss = {"capabilities": ["thinking"], "model_info": {"general.architecture": "gptoss"}}
    assert ThinkAbility.from_show(gpt_oss) == ThinkAbility(True, ("low", "medium", "high"), "medium")


async def test_reasoning_goes_back_only_when_the_turn_carries_it(engine, thinking_daemon) -> None:
    turns = [
        ChatTurn(Role.USER, "hi"),
        ChatTurn(Role.ASSISTANT, "Hello", reasoning="greet back"),
        ChatTurn(Role.USER, "again"),
    ]
    async with aclosing(engine.chat("qwen3:8b", turns, GenerationOptions())) as stream:
        async for _ in stream:
            pass
    sent = thinking_daemon.requests[-1].body["messages"]
    assert sent[1] == {"role": "assistant", "content": "Hello", "thinking": "greet back"}
    assert sent[0] == {"role": "user", "content": "hi"}
