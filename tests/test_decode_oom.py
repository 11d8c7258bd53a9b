"""The GPU running out of memory in the middle of an answer: llama.cpp's CUDA backend logs why and
aborts the engine's child. The user reads "the engine stopped: out of GPU memory", keeps what had
arrived, and the next load puts half the layers on the GPU and says so.

Real: llama.cpp (the CPU build) answering with the starter model in the engine's child; the ERROR
lines going through ggml's own logger (ggml_log_internal) into lchat's log callback, and from there
down the pipe; ggml_abort killing the child with SIGABRT; everything the parent does after.
Simulated (tui.engines.embedded.oom_abort_hook, LCHAT_TEST_OOM_AT_TOKEN): the failing cudaMalloc itself.
The hook logs the lines ggml_cuda_error logs for it and calls ggml_abort after the 4th token.
"""

from __future__ import annotations

from contextlib import aclosing
from pathlib import Path

import pytest

from tests.gguf_files import starter_model
from tui.domain import ChatTurn, GenerationOptions, MessageStatus, Role
from tui.engines.base import EngineCrashed, Finished, OutOfGpuMemory, TextPiece
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.embedded.oom_abort_hook import VARIABLE
from tui.models.names import ModelChoice

STARTER = starter_model()
pytestmark = pytest.mark.skipif(STARTER is None, reason="starter model not installed")
QUESTION = [ChatTurn(Role.USER, "Count from 1 to 50, one number per line.")]
OPTIONS = GenerationOptions(temperature=0.0, max_tokens=12)


def gpu_engine(tmp_path: Path, layers: int) -> EmbeddedEngine:
    """A CUDA flavour asked for `layers` on the GPU (the CPU build loads them on the CPU)."""
    return EmbeddedEngine(
        models_dir=tmp_path / "models",
        n_threads=1,
        n_ctx=512,
        gpu_layers=layers,
        flavour="cuda",
        log_path=tmp_path / "engine.log",
    )


async def test_a_decode_out_of_gpu_memory_stops_the_engine_with_a_message_and_fewer_layers_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(VARIABLE, "4")
    engine = gpu_engine(tmp_path, 8)
    pieces: list[str] = []
    try:
        with pytest.raises(OutOfGpuMemory) as raised:
            async for event in engine.chat(str(STARTER), QUESTION, OPTIONS):
                if isinstance(event, TextPiece):
                    pieces.append(event.text)
        assert isinstance(raised.value, EngineCrashed)  # The crash family: the UI's one path.
        assert str(raised.value) == (
            "the engine stopped: out of GPU memory (CUDA error: out of memory); "
            f"the next answer loads {Path(str(STARTER)).name} with 4 layers on the GPU"
        )
        assert "".join(pieces)  # Four tokens had arrived.
        log = (tmp_path / "engine.log").read_text()
        assert "CUDA error: out of memory" in log
        monkeypatch.delenv(VARIABLE)
        finished = [e async for e in engine.chat(str(STARTER), QUESTION, OPTIONS)][-1]
        assert isinstance(finished, Finished)
        assert finished.notice == "the GPU ran out of memory during an earlier answer: 4 layers go to the GPU this time"
        assert "lchat: loading " in log and log.count("with 8 layers on the GPU") == 1
        assert "with 4 layers on the GPU" in (tmp_path / "engine.log").read_text()
        [listed] = [m for m in await engine.list_models() if m.path == str(STARTER)]
        assert listed.extra["running"]["note"] == finished.notice  # The models pane and ask --json.
    finally:
        await engine.aclose()


async def test_another_abort_is_still_a_plain_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without an allocation line before it (CUDA's illegal memory access), an abort is the engine
    crashing, and no layers are taken away."""
    monkeypatch.setenv(VARIABLE, "2:other")
    engine = gpu_engine(tmp_path, 8)
    try:
        with pytest.raises(EngineCrashed) as raised:
            [e async for e in engine.chat(str(STARTER), QUESTION, OPTIONS)]
        assert not isinstance(raised.value, OutOfGpuMemory) and str(raised.value) == "engine crashed (SIGABRT)"
        assert engine._planner.after_oom == {}
        assert "CUDA error: an illegal memory access was encountered" in (tmp_path / "engine.log").read_text()
    finally:
        await engine.aclose()


async def test_the_partial_answer_is_kept_with_the_message(open_services, tmp_path: Path, monkeypatch) -> None:
    """Through the chat service: the answer is stored as an error with the text that had arrived."""
    monkeypatch.setenv(VARIABLE, "4")
    engine = gpu_engine(tmp_path, 8)
    services = open_services(engine)
    try:
        conversation = services.chat.settings.new_conversation()
        async with aclosing(
            services.chat.answers.send(conversation.id, QUESTION[0].content, ModelChoice("embedded", str(STARTER)))
        ) as updates:
            [u async for u in updates]
        answer = services.store.list_messages(conversation.id)[-1]
        assert answer.status is MessageStatus.ERROR and answer.content
        assert answer.error.startswith("the engine stopped: out of GPU memory")
    finally:
        await engine.aclose()


async def test_in_the_app_the_error_shows_and_the_next_answer_says_fewer_layers(
    open_services, paths, tmp_path: Path, monkeypatch, notified
) -> None:
    """The user's view (Textual Pilot): the answer ends in the error with what had arrived shown,
    and the next answer, loaded with fewer layers, raises a toast saying so."""
    from tui.ui.app import LchatApp
    from tui.ui.widgets.message_view import MessageView

    monkeypatch.setenv(VARIABLE, "4")
    engine = gpu_engine(tmp_path, 8)  # The starter model is its only one: the app's default.
    services = open_services(engine)
    app = LchatApp(services)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.press(*"Count to 50.", "enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            answer = app.screen.query(MessageView).last()
            assert answer.has_class("-error")
            assert "the engine stopped: out of GPU memory" in str(answer.query_one(".error-text").render())
            assert answer.message.content  # The partial answer stays.
            monkeypatch.delenv(VARIABLE)
            await pilot.press(*"Say hello.", "enter")
            await app.workers.wait_for_complete()
            await pilot.pause()
            assert app.screen.query(MessageView).last().message.status is MessageStatus.COMPLETE
        assert any("4 layers go to the GPU this time" in n.message for n in notified)
    finally:
        await engine.aclose()
