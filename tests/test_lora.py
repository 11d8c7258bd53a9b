"""LoRA adapters on the embedded engine: checked before use, applied by llama.cpp, per conversation
or from a saved per-model profile."""

from __future__ import annotations

from contextlib import aclosing
from pathlib import Path

import pytest

from tests.gguf_files import write_random, write_tiny_llama
from tests.gguf_lora import write_tiny_lora
from tests.scripted_engine import ScriptedEngine
from tests.test_models_pane import SIZE, settle
from tui.chat.service import ChatService
from tui.config import ChatConfig
from tui.domain import ChatTurn, ConversationSettings, GenerationOptions, ModelInfo, Role
from tui.engines.base import ModelLoadError, TextPiece
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.embedded.lora import read_lora, saved_lora
from tui.store import HistoryStore
from tui.ui.app import LchatApp


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    return {
        "model": write_tiny_llama(tmp_path / "tiny.gguf"),
        "lora": write_tiny_lora(tmp_path / "lora.gguf"),
        "qwen_lora": write_tiny_lora(tmp_path / "qwen-lora.gguf", arch="qwen2"),
        "random": write_random(tmp_path / "junk.gguf"),
    }


def test_adapters_are_checked_from_their_header(files) -> None:
    info = read_lora(files["lora"], for_architecture="llama")
    assert (info.architecture, info.alpha, info.name) == ("llama", 4.0, "tiny test lora")
    with pytest.raises(ModelLoadError, match="tiny.gguf is a model, not a GGUF LoRA adapter"):
        read_lora(files["model"])
    with pytest.raises(ModelLoadError, match="junk.gguf is not a GGUF file"):
        read_lora(files["random"])
    with pytest.raises(ModelLoadError, match="is a LoRA for qwen2 models; this model is llama"):
        read_lora(files["qwen_lora"], for_architecture="llama")
    with pytest.raises(ModelLoadError, match="no LoRA adapter file"):
        read_lora(files["lora"].with_name("missing.gguf"))
    model = ModelInfo(name="/m/tiny.gguf", backend="embedded", path="/m/tiny.gguf")
    assert saved_lora({"tiny.gguf": "/a.gguf"}, model) == "/a.gguf"
    assert saved_lora({"ollama-store/tiny:latest": "/b.gguf"}, model, "ollama-store/tiny:latest") == "/b.gguf"
    assert saved_lora({}, model) == ""


async def answer(engine: EmbeddedEngine, model: Path, lora: str | None) -> str:
    options = GenerationOptions(temperature=0.0, max_tokens=12, seed=1, lora=lora)
    async with aclosing(engine.chat(str(model), [ChatTurn(Role.USER, "hi")], options)) as stream:
        return "".join([e.text async for e in stream if isinstance(e, TextPiece)])


async def test_llama_cpp_applies_the_adapter_per_chat_or_from_the_profile(files, tmp_path) -> None:
    engine = EmbeddedEngine(
        models_dir=tmp_path / "none",
        include_starter=False,
        n_threads=1,
        n_ctx=256,
        lora_profiles={"tiny.gguf": str(files["lora"])},
    )
    try:
        plain = await answer(engine, files["model"], "")
        adapted = await answer(engine, files["model"], str(files["lora"]))
        assert plain and adapted and plain != adapted  # the adapter changes what the model writes
        assert await answer(engine, files["model"], None) == adapted  # the saved profile
        assert await answer(engine, files["model"], "") == plain  # "" turns it off again
        with pytest.raises(ModelLoadError, match="is a model, not a GGUF LoRA adapter"):
            await answer(engine, files["model"], str(files["model"]))
        with pytest.raises(ModelLoadError, match="LoRA for qwen2 models"):
            await answer(engine, files["model"], str(files["qwen_lora"]))
    finally:
        await engine.aclose()


def test_the_conversation_param_reaches_the_options(tmp_path) -> None:
    with HistoryStore.open(tmp_path / "h.db") as store:
        service = ChatService(store, {}, ChatConfig())
        conversation = store.create_conversation(settings=ConversationSettings(lora="/a/lora.gguf"))
        assert service.settings.options_for(conversation).lora == "/a/lora.gguf"
        assert service.settings.options_for(store.create_conversation()).lora is None


class LoraEngine(ScriptedEngine):
    """The fake, declaring LoRA as the embedded engine does."""

    supports_lora = True


async def test_l_attaches_an_adapter_to_the_conversation(open_services, files) -> None:
    engine = LoraEngine(name="embedded", models=["tiny"])
    other = ScriptedEngine(name="other", models=["remote"])
    services = open_services(engine, other)
    app = LchatApp(services)
    async with app.run_test(size=SIZE) as pilot:
        await settle(app, pilot)
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        app.screen.query_one("Input").value = str(files["random"])
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        assert any("Cannot use that adapter" in n.message for n in app._notifications)
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("l")
        await pilot.pause()
        app.screen.query_one("Input").value = str(files["lora"])
        await pilot.press("enter")
        await app.workers.wait_for_complete()
        await pilot.pause()
        conversation = app.screen.conversations.current
        assert conversation.settings.lora == str(files["lora"].resolve())
        assert "+ LoRA lora" in str(app.screen.query_one("ModelPane .current").render())
        await pilot.press("f3")
        await pilot.pause()
        await pilot.press(*"hi", "enter")
        await app.workers.wait_for_complete()
        assert engine.requests[-1][2].lora == str(files["lora"].resolve())
        # A model of another backend takes no adapter.
        await pilot.press("f4")
        await pilot.pause()
        await pilot.press("j", "l")
        await pilot.pause()
        assert any("apply to the embedded engine's GGUF models" in n.message for n in app._notifications)
