"""`lchat ask` choosing its model among real backends (Ollama and OpenAI-compatible loopback
doubles): BACKEND/NAME and --backend, what each failed backend said, and the configured model
named when it is unavailable, never replaced."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tests.fake_openai import OpenAIState, start_openai
from tests.scripted_engine import ScriptedEngine
from tui.cli.ask_stream import ask
from tui.config import Config
from tui.domain import Role
from tui.engines.ollama.engine import OllamaEngine
from tui.engines.openai.engine import OpenAICompatEngine
from tui.services import Services


@pytest.fixture
def servers() -> Iterator[tuple[OllamaState, OpenAIState, str, str]]:
    """An Ollama daemon and an OpenAI-compatible server, both serving qwen3:0.6b."""
    ollama_state, openai_state = OllamaState(), OpenAIState(models=["qwen3:0.6b", "phi-4"])
    ollama_state.add("qwen3:0.6b")
    ollama_state.add("qwen2.5:0.5b")
    daemon, server = start_ollama(ollama_state), start_openai(openai_state)
    yield ollama_state, openai_state, daemon.url, server.url + "/v1"
    daemon.stop()
    server.stop()


def backends(
    open_services,
    ollama_url: str,
    openai_url: str,
    config: Config | None = None,
) -> tuple[Services, ScriptedEngine]:
    starter = ScriptedEngine(name="embedded", models=["/m/starter.gguf"])
    services = open_services(
        starter,
        OllamaEngine(host=ollama_url, read_timeout=5),
        OpenAICompatEngine(name="lmstudio", base_url=openai_url, read_timeout=5),
        config=config,
    )
    return services, starter


async def run(services: Services, model: str | None = None, backend: str | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await ask(services, "hi", model=model, backend=backend, as_json=False, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


async def test_backend_slash_name_and_backend_option_pick_among_backends_serving_one_name(
    open_services, servers
) -> None:
    _, _, ollama_url, openai_url = servers
    services, starter = backends(open_services, ollama_url, openai_url)
    code, out, err = await run(services, "qwen3")
    assert code == 1 and out == ""
    assert "'qwen3' matches several models: lmstudio/qwen3:0.6b, ollama/qwen3:0.6b; name one as BACKEND/NAME" in err
    assert await run(services, "lmstudio/qwen3:0.6b") == (0, "Hi there!\n", "")
    assert await run(services, "qwen3", backend="ollama") == (0, "Hello from Ollama.\n", "")
    assert await run(services, backend="lmstudio") == (0, "Hi there!\n", "")
    code, _, err = await run(services, "qwen3", backend="vllm")
    assert code == 1 and "no backend named 'vllm'; backends: embedded, ollama, lmstudio" in err
    assert starter.requests == []
    answers = [
        m
        for c in services.store.list_conversation_page(limit=10)
        for m in services.store.list_messages(c.id)
        if m.role is Role.ASSISTANT
    ]
    assert sorted(m.backend for m in answers) == ["lmstudio", "lmstudio", "ollama"]


async def test_refused_credentials_are_said_for_each_backend_that_could_not_list(open_services, servers) -> None:
    ollama_state, openai_state, ollama_url, openai_url = servers
    ollama_state.required_auth = "Bearer right-token"
    openai_state.api_key = "right-key"
    services, starter = backends(open_services, ollama_url, openai_url)
    code, out, err = await run(services, "qwen2.5:0.5b")
    assert code == 1 and out == ""
    assert err.startswith("lchat: 'qwen2.5:0.5b' matches no model; known: embedded/starter.gguf; not listed: ")
    assert re.search(r"ollama: Ollama at http://127\.0\.0\.1:\d+ refused the request \(HTTP 401 unauthorized\)", err)
    assert re.search(r"lmstudio: lmstudio at http://127\.0\.0\.1:\d+/v1 refused the request \(HTTP 401\)", err)
    code, _, err = await run(services, "ollama/qwen2.5:0.5b")
    assert code == 1 and "'ollama/qwen2.5:0.5b': ollama could not list its models: " in err and "HTTP 401" in err
    assert starter.requests == []


async def test_the_configured_model_is_named_when_unavailable_never_replaced(open_services, servers) -> None:
    ollama_state, _, ollama_url, openai_url = servers
    config = Config()
    config.chat.model = "qwen2.5:0.5b"
    services, starter = backends(open_services, ollama_url, openai_url, config)
    assert await run(services) == (0, "Hello from Ollama.\n", "")
    ollama_state.required_auth = "Bearer right-token"
    code, out, err = await run(services)
    assert code == 1 and out == "" and starter.requests == []
    assert "the configured model (chat.model) is not available: 'qwen2.5:0.5b' matches no model" in err
    assert "ollama: Ollama at " in err and "HTTP 401 unauthorized" in err
