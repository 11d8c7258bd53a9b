"""The engine contract, run against every engine (the scripted fake, llama.cpp, Ollama, an
OpenAI-compatible server): one answer's events, and every optional ability declared, with an
ability an engine lacks failing as `Unsupported`, never as a missing attribute."""

from __future__ import annotations

import pytest

from tests.fake_ollama import OllamaState, start_ollama
from tui.config.paths import Paths
from tui.domain import ChatTurn, GenerationOptions, Role
from tui.engines.base import Engine, EngineError, Finished, TextPiece, Unsupported
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.ollama.engine import OllamaEngine
from tui.engines.openai.engine import OpenAICompatEngine

QUESTION = [ChatTurn(Role.USER, "Say hello.")]
DECLARED = {
    # backend: (can_describe, can_pull, can_delete, can_unload, supports_lora, loads_into)
    "fake": (False, False, False, False, False, ""),
    "embedded": (True, False, True, False, True, "RAM"),
    "ollama": (True, True, True, True, False, "VRAM"),
    "lmstudio": (True, False, False, False, False, ""),
}


async def test_one_answer_is_pieces_then_exactly_one_finished(engine: Engine) -> None:
    model = (await engine.list_models())[0].name
    events = [event async for event in engine.chat(model, QUESTION, GenerationOptions(max_tokens=8, temperature=0))]
    assert events and isinstance(events[-1], Finished)
    assert [type(event) for event in events[:-1]] == [TextPiece] * (len(events) - 1)
    assert "".join(event.text for event in events[:-1] if isinstance(event, TextPiece))
    assert events[-1].completion_tokens > 0


async def test_every_ability_is_declared_with_what_the_engine_really_does(engine: Engine) -> None:
    assert isinstance(engine, Engine)
    listed = await engine.list_models()
    model = listed[0]
    flags = (
        engine.can_describe,
        engine.can_pull,
        engine.can_delete,
        engine.can_unload,
        engine.supports_lora,
        engine.loads_into,
    )
    assert flags == DECLARED[engine.name]
    # Every engine here runs on this machine (the servers are loopback doubles).
    assert engine.local is True
    assert engine.url == "" if engine.name in ("fake", "embedded") else engine.url.startswith("http://127.0.0.1:")
    assert engine.child_pid is None or engine.name == "embedded"
    assert engine.context_cap is None or engine.context_cap > 0
    for answer in (
        engine.supports_thinking(model.name),
        engine.supports_tools(model.name),
        engine.supports_images(model.name),
    ):
        assert answer in (True, False, None)
    assert all(isinstance(level, str) for level in engine.think_levels(model.name))

    if engine.can_describe:
        rows = await engine.details(model.name)
        assert rows and all(isinstance(label, str) and isinstance(value, str) for label, value in rows)
    else:
        with pytest.raises(Unsupported):
            await engine.details(model.name)
    if not engine.can_pull:
        with pytest.raises(Unsupported):
            async for _ in engine.pull("some-model"):
                pass
    if engine.can_delete:  # What goes is said before asking; a file lchat does not own is refused.
        try:
            assert engine.delete_note(model)
        except Unsupported:
            pytest.fail("an engine that can delete said it cannot")
        except EngineError as refused:
            assert engine.name == "embedded" and "models folder" in str(refused)
    else:
        with pytest.raises(Unsupported):
            engine.delete_note(model)
        with pytest.raises(Unsupported):
            await engine.delete(model.name)
    if engine.can_unload:
        await engine.unload(model.name)
    else:
        with pytest.raises(Unsupported, match="no unload"):
            await engine.unload(model.name)
    await engine.aclose()
    await engine.aclose()  # Twice is harmless.


async def test_the_embedded_engine_names_its_child_process_while_it_runs(paths: Paths) -> None:
    """Only the embedded engine has a child process (the others' `child_pid` is checked above)."""
    engine = EmbeddedEngine(models_dir=paths.models_dir, n_threads=1, n_ctx=2048, log_path=paths.log_dir / "engine.log")
    assert engine.child_pid is None  # Nothing started yet.
    model = (await engine.list_models())[0].name
    async for _ in engine.chat(model, QUESTION, GenerationOptions(max_tokens=2)):
        pass
    assert isinstance(engine.child_pid, int)
    await engine.aclose()
    assert engine.child_pid is None


def test_a_server_elsewhere_is_not_local_and_claims_none_of_this_machines_memory() -> None:
    far = [OllamaEngine(host="gpu-box:11434"), OpenAICompatEngine(name="vllm", base_url="http://10.0.0.7:8000/v1")]
    for engine in far:
        assert not engine.local and engine.loads_into == "" and engine.url.startswith("http://")
    near = OllamaEngine(host="localhost:11434", num_ctx=8192)
    assert near.local and near.loads_into == "VRAM" and near.context_cap == 8192
    assert OllamaEngine().context_cap is None


async def test_ollama_says_what_each_model_can_do_from_its_capabilities() -> None:
    state = OllamaState()
    state.add("llama3.2:latest")
    daemon = start_ollama(state)
    engine = OllamaEngine(host=daemon.url, read_timeout=5)
    try:
        assert engine.supports_tools("llama3.2:latest") is None  # Not read yet: unknown, not "no".
        await engine.list_models()  # The double's /api/show says ["completion", "tools"].
        assert engine.supports_tools("llama3.2:latest") is True
        assert engine.supports_images("llama3.2:latest") is False
        assert engine.supports_thinking("llama3.2:latest") is False
        assert engine.supports_tools("not-listed") is None
    finally:
        await engine.aclose()
        daemon.stop()
