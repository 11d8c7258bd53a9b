"""The embedded engine against real llama-cpp-python: a tiny written model and the starter model."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.gguf_files import (
    CHATML,
    starter_model,
    with_chat_template,
    write_header_only,
    write_random,
    write_tiny_llama,
    write_truncated,
)
from tui.domain import ChatTurn, GenerationOptions, Role
from tui.engines.base import (
    BadRequest,
    EngineCrashed,
    Finished,
    ModelLoadError,
    ModelNotFound,
    ReasoningPiece,
    TextPiece,
)
from tui.engines.embedded.child import TextStream
from tui.engines.embedded.engine import EmbeddedEngine, default_threads
from tui.engines.embedded.gguf_info import read_gguf_info

ROOT = Path(__file__).resolve().parents[1]
STARTER = starter_model()
needs_starter = pytest.mark.skipif(STARTER is None, reason="starter model not installed")
QUESTION = [ChatTurn(Role.USER, "What is the capital of France? Answer in one sentence.")]
STORY = [ChatTurn(Role.USER, "Write a long story about a dragon who learns to cook.")]
GREEDY = GenerationOptions(temperature=0.0, max_tokens=60)


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("models")
    write_tiny_llama(folder / "tiny.gguf")
    return folder


@pytest.fixture
def tiny(models_dir: Path) -> str:
    return str(models_dir / "tiny.gguf")


@pytest.fixture
async def engine(models_dir: Path, tmp_path: Path) -> AsyncIterator[EmbeddedEngine]:
    engine = EmbeddedEngine(models_dir=models_dir, n_threads=1, n_ctx=2048, log_path=tmp_path / "engine.log")
    yield engine
    await engine.aclose()


async def collect(engine: EmbeddedEngine, model: str, messages, options=GREEDY):
    pieces, finished = [], None
    async for event in engine.chat(model, messages, options):
        assert finished is None, "nothing may follow Finished"
        if isinstance(event, TextPiece):
            pieces.append(event.text)
        else:
            assert isinstance(event, Finished)
            finished = event
    assert finished is not None
    return "".join(pieces), finished


async def test_streams_pieces_then_finished(engine: EmbeddedEngine, tiny: str) -> None:
    events = [e async for e in engine.chat(tiny, QUESTION, GenerationOptions(max_tokens=20))]
    assert all(isinstance(e, TextPiece) and e.text for e in events[:-1]) and len(events) > 5
    done = events[-1]
    assert isinstance(done, Finished)
    assert done.completion_tokens == 20 and done.stop_reason == "length"
    assert 20 < done.prompt_tokens < 100 and done.cached_tokens == 0
    assert done.ttft_s is not None and 0 < done.ttft_s < 10 and done.gen_s >= 0
    # The engine's own share: the load (this answer loaded the model), then the prompt.
    assert done.load_s is not None and 0 < done.prompt_s < done.ttft_s
    again = [e async for e in engine.chat(tiny, QUESTION, GenerationOptions(max_tokens=2))][-1]
    assert again.load_s is None and again.prompt_s is not None  # already loaded


async def test_model_by_file_name_and_list(engine: EmbeddedEngine, tiny: str) -> None:
    listed = await engine.list_models()
    assert listed[0].name == tiny and listed[0].backend == "embedded"
    assert "running" not in listed[0].extra
    text, done = await collect(engine, "tiny.gguf", QUESTION)
    assert text and done.completion_tokens == GREEDY.max_tokens
    loaded = (await engine.list_models())[0]  # the pane shows it "loaded", as Ollama's are
    running = dict(loaded.extra["running"])
    buffers, devices = running.pop("buffers"), running.pop("devices")  # As llama.cpp logged the load.
    assert set(buffers) == {"CPU"} and buffers["CPU"]["kv_mib"] > 0 and [d["name"] for d in devices] == ["CPU"]
    assert running == {
        "size": listed[0].size_bytes,
        "size_vram": 0,
        "context_length": 2048,
        "gpu_backend": "CPU",
        "gpu_layers": 0,
        "layers": 2,
        "note": "",
        "vram_bytes": 0,
        "vram_by_device": {},
        "flash_attn": "disabled",  # as the context got it (llama_context's log line)
    }  # What the load put on a GPU: nothing, on this build.
    await engine.aclose()
    assert "running" not in (await engine.list_models())[0].extra
    with pytest.raises(ModelNotFound):
        await collect(engine, "no-such-model.gguf", QUESTION)


@needs_starter
@pytest.mark.model
async def test_starter_answers_and_stops(engine: EmbeddedEngine) -> None:
    text, done = await collect(engine, str(STARTER), QUESTION)
    assert "Paris" in text
    assert done.stop_reason == "stop" and 3 < done.completion_tokens < GREEDY.max_tokens
    assert "<|im_end|>" not in text


async def test_second_turn_reuses_kv_cache(engine: EmbeddedEngine, tiny: str) -> None:
    first_text, first = await collect(engine, tiny, QUESTION)
    follow = [*QUESTION, ChatTurn(Role.ASSISTANT, first_text), ChatTurn(Role.USER, "And Spain?")]
    _, second = await collect(engine, tiny, follow)
    assert first.cached_tokens == 0
    assert second.cached_tokens >= first.prompt_tokens
    assert second.prompt_tokens > second.cached_tokens


async def test_stop_strings_are_cut_and_never_emitted(engine: EmbeddedEngine, tiny: str) -> None:
    full, _ = await collect(engine, tiny, QUESTION)
    stop = full[10:13]
    expected = full[: full.index(stop)]
    text, done = await collect(engine, tiny, QUESTION, GenerationOptions(temperature=0.0, max_tokens=60, stop=(stop,)))
    assert text == expected and done.stop_reason == "stop"


async def test_prompt_longer_than_context_is_bad_request(models_dir: Path, tiny: str) -> None:
    engine = EmbeddedEngine(models_dir=models_dir, n_ctx=64)
    try:
        with pytest.raises(BadRequest, match="too long"):
            await collect(engine, tiny, [ChatTurn(Role.USER, "word " * 100)])
        text, _ = await collect(engine, tiny, [ChatTurn(Role.USER, "hi")], GenerationOptions(max_tokens=5))
        assert text
    finally:
        await engine.aclose()


async def test_template_error_is_bad_request(engine: EmbeddedEngine, tmp_path: Path) -> None:
    path = write_tiny_llama(tmp_path / "strict.gguf", chat_template="{{ raise_exception('no system role') }}")
    with pytest.raises(BadRequest, match="no system role"):
        await collect(engine, str(path), QUESTION)


async def test_model_without_template_falls_back_to_chatml(engine: EmbeddedEngine, tiny: str, tmp_path: Path) -> None:
    plain = write_tiny_llama(tmp_path / "plain.gguf", chat_template=None)
    _, with_template = await collect(engine, tiny, QUESTION)
    text, fallback = await collect(engine, str(plain), QUESTION)
    assert text and fallback.prompt_tokens == with_template.prompt_tokens


@needs_starter
@pytest.mark.model
async def test_cancel_returns_at_once_and_leaves_no_stale_text(engine: EmbeddedEngine) -> None:
    model = str(STARTER)
    reference, _ = await collect(engine, model, QUESTION)
    pid = engine.child_pid
    got: list[str] = []
    enough = asyncio.Event()

    async def consume() -> None:
        async for event in engine.chat(model, STORY, GenerationOptions(max_tokens=1500)):
            got.append(event.text)
            if len(got) == 5:
                enough.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(enough.wait(), 10)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Unstopped, the story would run ~15 s and the drain would replace the child after 5 s: the
    # same child answering the next question, unchanged, shows the story was stopped.
    assert time.monotonic() - started < 5
    again, done = await collect(engine, model, QUESTION)
    assert again == reference and done.stop_reason == "stop"
    assert engine.child_pid == pid


@needs_starter
@pytest.mark.model
async def test_closing_the_iterator_early_cancels(engine: EmbeddedEngine) -> None:
    model = str(STARTER)
    reference, _ = await collect(engine, model, QUESTION)
    stream = engine.chat(model, STORY, GenerationOptions(max_tokens=1500))
    async for _ in stream:
        break
    await stream.aclose()
    pid = engine.child_pid
    again, _ = await collect(engine, model, QUESTION)
    assert again == reference
    assert engine.child_pid == pid  # the story was stopped, not drained and the child replaced


@needs_starter
@pytest.mark.model
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGSEGV])
async def test_child_killed_mid_answer_raises_engine_crashed(engine: EmbeddedEngine, sig: signal.Signals) -> None:
    model = str(STARTER)
    got: list[str] = []
    with pytest.raises(EngineCrashed, match=rf"^engine crashed \({sig.name}\)$"):
        async for event in engine.chat(model, STORY, GenerationOptions(max_tokens=1500)):
            got.append(event.text)
            if len(got) == 3:
                os.kill(engine.child_pid, sig)
    assert len(got) >= 3
    assert engine.child_pid is None
    text, done = await collect(engine, model, QUESTION)
    assert "Paris" in text and done.stop_reason == "stop"


@pytest.mark.parametrize("kind", ["random", "truncated", "missing", "no-tensors", "unknown-architecture"])
async def test_unusable_file_is_model_load_error_then_engine_works(
    engine: EmbeddedEngine, tiny: str, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / f"{kind}.gguf"
    if kind == "random":
        write_random(path)
    elif kind == "truncated":
        write_truncated(Path(tiny), path, 0.6)
    elif kind == "no-tensors":  # A valid header llama.cpp still refuses: the child reports it.
        write_header_only(path, llama__context_length=2048)
    elif kind == "unknown-architecture":
        write_header_only(path, arch="futurenet", futurenet__context_length=2048)
    await collect(engine, tiny, QUESTION)  # A warm child, so the failure must not break it.
    with pytest.raises(ModelLoadError, match=str(path)) as raised:
        await collect(engine, str(path), QUESTION)
    if kind == "unknown-architecture":  # llama.cpp's own reason, not just "could not be loaded"
        assert "could not be loaded by llama.cpp: configuration error: unknown model architecture: 'futurenet'" in str(
            raised.value
        )
        assert "unknown model architecture: 'futurenet'" in (tmp_path / "engine.log").read_text()
    text, done = await collect(engine, tiny, QUESTION)
    assert text and done.completion_tokens == GREEDY.max_tokens


def test_text_stream_decodes_split_utf8_and_holds_back_stops() -> None:
    stream = TextStream(["</end>"])
    data = "é🙂 ok </e".encode() + b"nd> never"
    out = ""
    for i in range(len(data)):  # One byte at a time, as byte-fallback tokens arrive.
        out += stream.feed(data[i : i + 1])
        if stream.stopped:
            break
    assert out == "é🙂 ok " and stream.stopped
    stream = TextStream(["STOP"])
    assert stream.feed(b"ab ST") == "ab "
    assert stream.feed(b"AR") == "STAR" and not stream.stopped
    assert stream.feed(b"\xe2\x82") == "" and stream.flush() == "\ufffd"


def _run_script(code: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=timeout,
    )


def test_parent_never_imports_llama_cpp(tiny: str) -> None:
    result = _run_script(
        "import asyncio, sys\n"
        "from pathlib import Path\n"
        "from tui.domain import ChatTurn, GenerationOptions, Role\n"
        "from tui.engines.embedded.engine import EmbeddedEngine\n"
        "async def main():\n"
        f"    engine = EmbeddedEngine(models_dir=Path({str(Path(tiny).parent)!r}))\n"
        "    await engine.list_models()\n"
        f"    events = [e async for e in engine.chat({tiny!r}, [ChatTurn(Role.USER, 'hi')], GenerationOptions(max_tokens=5))]\n"
        "    await engine.aclose()\n"
        "    print(len(events), 'llama_cpp' in sys.modules)\n"
        "asyncio.run(main())\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["6", "False"]


def test_child_exits_when_parent_is_killed(tiny: str) -> None:
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import asyncio\n"
            "from pathlib import Path\n"
            "from tui.domain import ChatTurn, GenerationOptions, Role\n"
            "from tui.engines.embedded.engine import EmbeddedEngine\n"
            "async def main():\n"
            "    engine = EmbeddedEngine(models_dir=Path('.'), n_threads=1)\n"
            f"    async for e in engine.chat({tiny!r}, [ChatTurn(Role.USER, 'hi')], GenerationOptions(max_tokens=3)):\n"
            "        pass\n"
            "    print(engine.child_pid, flush=True)\n"
            "    await asyncio.sleep(60)\n"
            "asyncio.run(main())\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        child = int(parent.stdout.readline())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 5
        while _alive(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(child)
    finally:
        parent.kill()


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(("cores", "headless", "beside_the_ui"), [(1, 1, 1), (2, 2, 1), (16, 16, 15)])
def test_default_threads_leave_a_core_for_the_ui(monkeypatch, cores: int, headless: int, beside_the_ui: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    assert default_threads() == headless
    assert default_threads(leave_core_for_ui=True) == beside_the_ui


def test_the_tuis_engine_leaves_a_core_but_the_config_stays_auto(monkeypatch, paths) -> None:
    from tui.config import Config
    from tui.engines.registry import build_engines

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(4)))
    config = Config()
    assert build_engines(config, paths, for_tui=True)["embedded"]._n_threads == 3
    assert build_engines(config, paths)["embedded"]._n_threads == 4  # lchat ask: every core
    assert config.engine.threads == 0  # not resolved into the config, so saving it (a theme switch) keeps "auto"
    config.engine.threads = 2  # a number the user chose wins everywhere
    assert build_engines(config, paths, for_tui=True)["embedded"]._n_threads == 2


# Reasoning: split on the template's own markers

THINK_OPENED = CHATML.replace("'<|im_start|>assistant\n'", "'<|im_start|>assistant\n<think>\n'")
"""ChatML whose generation prompt opens a think block, as DeepSeek-R1's and Qwen3-Thinking-2507's do."""
SAME_PROMPT_UNMARKED = CHATML.replace("'<|im_start|>assistant\n'", "'<|im_start|>assistant\n<' ~ 'think>\n'")
"""The same prompt from a template that never spells the marker: its output is not split."""
QWEN3_LIKE = CHATML.replace(
    "{{ '<|im_start|>assistant\n' }}",
    "{{ '<|im_start|>assistant\n' }}{% if enable_thinking is defined and enable_thinking is false %}"
    "{{ '<think>\n\n</think>\n\n' }}{% else %}{{ '<think>\n' }}{% endif %}",
)
"""A template with Qwen3's switch: thinking off closes an empty block in the prompt."""


async def events_of(engine: EmbeddedEngine, model: str, options: GenerationOptions = GREEDY) -> list:
    return [event async for event in engine.chat(model, QUESTION, options)]


def joined(events: list, kind: type) -> str:
    return "".join(e.text for e in events if isinstance(e, kind))


def test_the_templates_differ_only_in_spelling() -> None:
    from jinja2 import Template

    render = {"messages": [{"role": "user", "content": "hi"}], "add_generation_prompt": True}
    assert Template(THINK_OPENED).render(**render) == Template(SAME_PROMPT_UNMARKED).render(**render)
    assert Template(THINK_OPENED).render(**render).endswith("assistant\n<think>\n")
    assert "<think>" not in SAME_PROMPT_UNMARKED and "</think>" not in SAME_PROMPT_UNMARKED


@pytest.fixture(scope="module")
def starter_copies(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """The starter model with a template that opens a think block, and one that does the same unmarked."""
    if STARTER is None:
        pytest.skip("starter model not installed")
    folder = tmp_path_factory.mktemp("thinking")
    opened = with_chat_template(STARTER, folder / "starter-think.gguf", THINK_OPENED)
    plain = with_chat_template(STARTER, folder / "starter-plain.gguf", SAME_PROMPT_UNMARKED)
    return str(opened), str(plain)


@needs_starter
@pytest.mark.model
async def test_starter_writes_reasoning_until_it_closes_the_block_or_stops(engine, starter_copies) -> None:
    opened, plain = starter_copies
    raw_events = await events_of(engine, plain)
    raw = joined(raw_events, TextPiece)
    assert raw and not any(isinstance(e, ReasoningPiece) for e in raw_events)
    events = await events_of(engine, opened)
    reasoning, answer = joined(events, ReasoningPiece), joined(events, TextPiece)
    thought, closed, after = raw.partition("</think>")
    # Same prompt, greedy: the same words, split where the model closed the block (if it did).
    assert reasoning == thought.strip() and reasoning
    assert answer == (after.lstrip() if closed else "")
    assert "<think>" not in answer and "</think>" not in answer
    final = events[-1]
    assert isinstance(final, Finished) and final.reasoning_ttft_s is not None
    assert (final.ttft_s is None) == (not answer)
    assert 0 < final.reasoning_tokens <= final.completion_tokens and not final.reasoning_estimated
    assert final.completion_tokens == raw_events[-1].completion_tokens
    # Its template has no switch: asked not to think, it thinks anyway, and the answer says so.
    off = await events_of(engine, opened, GenerationOptions(temperature=0.0, max_tokens=60, think="off"))
    assert joined(off, ReasoningPiece) == reasoning
    assert off[-1].notice == "the model thought although thinking was set off"


async def test_thinking_is_switched_off_through_the_template(engine, tmp_path, tiny) -> None:
    model = str(write_tiny_llama(tmp_path / "qwen3ish.gguf", chat_template=QWEN3_LIKE))
    options = GenerationOptions(temperature=0.0, max_tokens=20)
    thinking = await events_of(engine, model, options)
    assert all(isinstance(e, ReasoningPiece) for e in thinking[:-1]) and joined(thinking, ReasoningPiece)
    final = thinking[-1]
    assert final.ttft_s is None and final.reasoning_ttft_s is not None
    assert final.reasoning_tokens == final.completion_tokens == 20
    off = await events_of(engine, model, GenerationOptions(temperature=0.0, max_tokens=20, think="off"))
    assert all(isinstance(e, TextPiece) for e in off[:-1]) and joined(off, TextPiece)
    # The template got enable_thinking=false: its prompt holds the closed, empty block.
    assert off[-1].prompt_tokens == final.prompt_tokens + len("\n</think>\n\n")
    assert off[-1].reasoning_tokens is None and off[-1].notice == ""
    # What the model list says (tui.chat.thinking offers choices from it): ChatML cannot think.
    assert read_gguf_info(Path(model)).extra["thinking"] is True
    assert read_gguf_info(Path(tiny)).extra["thinking"] is False


def test_control_tokens_are_decoded_only_where_the_splitter_needs_them(tiny: str) -> None:
    """gpt-oss's channel markers are control tokens: hidden in answers, decoded for the splitter."""
    result = _run_script(
        "import llama_cpp\n"
        "from tui.engines.embedded import llama_compat\n"
        "from tui.engines.embedded.child import _token_bytes\n"
        f"llm = llama_cpp.Llama(model_path={tiny!r}, n_ctx=64, verbose=False)\n"
        "vocab = llama_compat.vocab(llm)\n"
        "start = llm.tokenize(b'<|im_start|>', add_bos=False, special=True)\n"
        "assert len(start) == 1 and llama_cpp.llama_vocab_is_control(vocab, start[0])\n"
        "a = llm.tokenize(b'a', add_bos=False, special=False)[0]\n"
        "print(_token_bytes(llama_cpp, vocab, start[0], ()), _token_bytes(llama_cpp, vocab, start[0], ('<|im_start|>',)),"
        " _token_bytes(llama_cpp, vocab, start[0], ('<think>',)), _token_bytes(llama_cpp, vocab, a, ('<|im_start|>',)))\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["b''", "b'<|im_start|>'", "b''", "b'a'"]
