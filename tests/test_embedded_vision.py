"""Images on the embedded engine: which GGUF models can see, the refusals before anything runs,
the handler the child loads, and how its stream becomes the child's messages.

No vision GGUF small enough for the tests is to be had here, and this build of llama-cpp-python
lacks libmtmd: a real image answer is not tested, the paths up to it are.
"""

from __future__ import annotations

import io
import re
import sys
import types
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.gguf_files import write_tiny_llama
from tui.chat.service import ChatService
from tui.config import ChatConfig
from tui.domain import Attachment, ChatTurn, GenerationOptions, ModelInfo, Role
from tui.engines.base import BadRequest, Finished, TextPiece
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.embedded.vision_chat import (
    NO_VISION_BUILD,
    NoVisionSupport,
    load_handler,
    render_check,
    stream_answer,
    vision_request,
)
from tui.models.names import ModelChoice
from tui.store import HistoryStore


def _png() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), "orange").save(picture, format="PNG")
    return picture.getvalue()


SHOT = Attachment("shot.png", "image/png", _png())
LOOK = [ChatTurn(Role.USER, "what is this?", attachments=(SHOT,))]


def _has_libmtmd() -> bool:
    try:
        import llama_cpp.mtmd_cpp  # noqa: F401
    except Exception:  # noqa: BLE001 - FileNotFoundError when the library was not built
        return False
    return True


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    write_tiny_llama(folder / "tiny.gguf")
    return folder


@pytest.fixture
async def engine(models_dir: Path, tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    engine = EmbeddedEngine(models_dir=models_dir, n_threads=1, n_ctx=2048, log_path=tmp_path / "engine.log")
    yield engine
    await engine.aclose()


@pytest.fixture
def fake_mtmd(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A build with libmtmd, as far as the handlers' constructors look."""
    monkeypatch.setitem(sys.modules, "llama_cpp.mtmd_cpp", types.ModuleType("llama_cpp.mtmd_cpp"))
    yield


async def test_a_gguf_sees_only_with_its_projector(engine: EmbeddedEngine, models_dir: Path) -> None:
    tiny = str(models_dir / "tiny.gguf")
    await engine.list_models()
    assert engine.supports_images(tiny) is False and engine.supports_images("tiny.gguf") is False
    assert engine.supports_images("not-listed.gguf") is None
    (models_dir / "mmproj-tiny-f16.gguf").write_bytes(b"GGUF")
    assert engine.supports_images(tiny) is True and engine.supports_images("tiny.gguf") is True


async def test_an_image_for_a_gguf_without_projector_is_refused_before_it_is_kept(
    engine: EmbeddedEngine, models_dir: Path, tmp_path: Path
) -> None:
    await engine.list_models()
    with HistoryStore.open(tmp_path / "h.db") as store:
        service = ChatService(store, {"embedded": engine}, ChatConfig())
        choice = ModelChoice("embedded", str(models_dir / "tiny.gguf"))
        conversation = service.settings.new_conversation(choice)
        with pytest.raises(BadRequest, match=r"tiny\.gguf does not take images; nothing was sent\.$"):
            async with aclosing(
                service.answers.send(conversation.id, "what is this?", choice, attachments=[SHOT])
            ) as updates:
                [u async for u in updates]
        assert store.list_messages(conversation.id) == []
        assert engine.child_pid is None  # Nothing reached the engine.
    # The engine refuses by itself too (a caller that skipped the check).
    with pytest.raises(BadRequest, match="does not take images: no projector"):
        [e async for e in engine.chat(str(models_dir / "tiny.gguf"), LOOK, GenerationOptions(max_tokens=4))]


def test_vision_request_carries_the_projector_handler_and_data_urls(tmp_path: Path) -> None:
    model = tmp_path / "gemma-4-e2b-it-Q4_K_M.gguf"
    model.write_bytes(b"GGUF")
    info = ModelInfo(name=str(model), backend="embedded", path=str(model), architecture="gemma4")
    assert vision_request(info, [ChatTurn(Role.USER, "hi")]) is None
    with pytest.raises(BadRequest, match="gemma-4-e2b-it-Q4_K_M.gguf does not take images"):
        vision_request(info, LOOK)
    (tmp_path / "mmproj-gemma-4-e2b-it-f16.gguf").write_bytes(b"GGUF")
    seen = vision_request(info, LOOK)
    assert seen is not None
    messages, vision = seen
    assert vision == {"projector": str(tmp_path / "mmproj-gemma-4-e2b-it-f16.gguf"), "handler": "Gemma4ChatHandler"}
    text, image = messages[0]["content"]
    assert text == {"type": "text", "text": "what is this?"}
    assert image["image_url"]["url"].startswith("data:image/png;base64,")


def test_without_libmtmd_the_handler_fails_with_one_clear_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp.mtmd_cpp", None)  # `import` raises ImportError
    with pytest.raises(NoVisionSupport) as refused:
        load_handler("MTMDChatHandler", str(tmp_path / "mmproj.gguf"))
    assert str(refused.value) == NO_VISION_BUILD and "\n" not in NO_VISION_BUILD
    assert "make install" in NO_VISION_BUILD


@pytest.mark.usefixtures("fake_mtmd")
def test_the_handler_for_the_family_gets_the_projector(tmp_path: Path) -> None:
    from llama_cpp import llama_chat_format

    projector = tmp_path / "mmproj.gguf"
    projector.write_bytes(b"GGUF")
    generic = load_handler("MTMDChatHandler", str(projector))
    assert type(generic) is llama_chat_format.MTMDChatHandler and generic.clip_model_path == str(projector)
    assert type(load_handler("Gemma4ChatHandler", str(projector))) is llama_chat_format.Gemma4ChatHandler
    assert type(load_handler("NoSuchHandler", str(projector))) is llama_chat_format.MTMDChatHandler


class _Llama:
    """What the vision path touches of llama_cpp.Llama: its template, its token counter, its
    chat handler slot and create_chat_completion's stream."""

    def __init__(self, template: str, pieces: list[str]) -> None:
        self.metadata = {"tokenizer.chat_template": template}
        self.pieces = pieces
        self.chat_handler: Any = None
        self.n_tokens = 0
        self.calls: list[dict[str, Any]] = []
        self.cleared = False
        self._ctx = types.SimpleNamespace(kv_cache_clear=self._clear)

    def _clear(self) -> None:
        self.cleared = True

    def reset(self) -> None:
        self.n_tokens = 0

    def create_chat_completion(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        assert self.chat_handler is not None, "the vision handler must be the one used"
        self.calls.append(kwargs)
        self.n_tokens = 40  # The prompt with its image, evaluated.
        for piece in self.pieces:
            yield {"choices": [{"delta": {"content": piece}, "finish_reason": None}]}
            self.n_tokens += 1
        yield {"choices": [{"delta": {}, "finish_reason": "length"}]}


@pytest.mark.usefixtures("fake_mtmd")
def test_the_template_renders_with_images_as_the_media_marker(tmp_path: Path) -> None:
    (tmp_path / "mmproj.gguf").write_bytes(b"GGUF")
    handler = load_handler("MTMDChatHandler", str(tmp_path / "mmproj.gguf"))
    seen = vision_request(
        ModelInfo(name=str(tmp_path / "m.gguf"), backend="embedded", path=str(tmp_path / "m.gguf")), LOOK
    )
    assert seen is not None
    template = "{% for m in messages %}{% for p in m.content %}[{{ p.text }}]{% endfor %}{% endfor %}"
    assert render_check(_Llama(template, []), handler, seen[0]) == len("[what is this?][<__media__>]")
    with pytest.raises(ValueError, match="no images here"):
        render_check(_Llama("{{ raise_exception('no images here') }}", []), handler, seen[0])


def test_the_handlers_stream_becomes_pieces_and_figures() -> None:
    llm, handler = _Llama("", ["A ", "cat", "."]), object()
    pieces: list[str] = []
    stats: dict[str, Any] = {"started": 0.0}
    sampling = {"temperature": 0.2, "max_tokens": 3}
    stream_answer(
        llm,
        handler,
        [{"role": "user", "content": "x"}],
        sampling,
        stats,
        on_text=pieces.append,
        check_cancel=lambda: None,
    )
    assert pieces == ["A ", "cat", "."]
    assert (stats["prompt_tokens"], stats["completion_tokens"], stats["stop_reason"]) == (40, 3, "length")
    assert "started" not in stats and stats["prompt_s"] > 0
    assert llm.calls == [{"messages": [{"role": "user", "content": "x"}], "stream": True, **sampling}]
    # The handler is put back and the cache dropped: the image embeddings are not the text path's prefix.
    assert llm.chat_handler is None and llm.n_tokens == 0 and llm.cleared


async def test_the_child_answers_an_image_turn_with_the_clear_line_or_the_projector_error(
    engine: EmbeddedEngine, models_dir: Path
) -> None:
    """Through the real child: with this build's missing libmtmd, the clear line; with libmtmd,
    llama.cpp's refusal of the fake projector. Either way the child keeps answering text."""
    (models_dir / "mmproj-tiny.gguf").write_bytes(b"GGUF not really a projector")
    tiny = str(models_dir / "tiny.gguf")
    # With libmtmd the tiny model's text-only template refuses first (or llama.cpp the projector).
    expected = "cannot take images|Failed to load mtmd context" if _has_libmtmd() else NO_VISION_BUILD
    with pytest.raises(BadRequest, match=expected if _has_libmtmd() else re.escape(expected)):
        [e async for e in engine.chat(tiny, LOOK, GenerationOptions(max_tokens=4))]
    events = [e async for e in engine.chat(tiny, [ChatTurn(Role.USER, "hi")], GenerationOptions(max_tokens=4))]
    assert isinstance(events[-1], Finished) and all(isinstance(e, TextPiece) for e in events[:-1])
