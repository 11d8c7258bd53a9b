"""A chat template comes from a stranger's GGUF: it renders under a time and a memory limit, in a
fork of the engine child, so the child keeps its whole address space for the model."""

from __future__ import annotations

import os
import time

import pytest

from tests.gguf_files import write_tiny_llama
from tui.domain import ChatTurn, GenerationOptions, Role
from tui.engines.base import EngineError
from tui.engines.embedded.confined import LimitExceeded, run_confined
from tui.engines.embedded.engine import EmbeddedEngine

MB = 1 << 20


def peak_rss(pid: int) -> int:
    """The most memory process `pid` has held (VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def confined(work, *, seconds: float = 5.0, memory: int = 64 * MB, result: int = 4 * MB):
    return run_confined(work, seconds=seconds, memory_bytes=memory, max_result_bytes=result)


def test_a_result_comes_back_and_an_error_is_raised_here() -> None:
    assert confined(lambda: ("prompt", ["</s>"], True)) == ("prompt", ["</s>"], True)
    assert confined(os.getpid) != os.getpid()  # it ran in another process

    def fails() -> None:
        raise ValueError("the template's own raise_exception")

    with pytest.raises(ValueError, match="raise_exception"):
        confined(fails)


def test_asking_for_too_much_memory_is_stopped_there() -> None:
    with pytest.raises(LimitExceeded, match="more than 64 MB of memory"):
        confined(lambda: "x" * 10**9)
    assert confined(lambda: len("x" * (16 * MB))) == 16 * MB  # within the limit is fine


def test_running_too_long_is_stopped() -> None:
    started = time.monotonic()
    with pytest.raises(LimitExceeded, match="ran for more than 0.5 s"):
        confined(lambda: time.sleep(60), seconds=0.5)
    assert time.monotonic() - started < 3


def test_too_big_a_result_is_refused() -> None:
    with pytest.raises(LimitExceeded, match="output passed 4 MB"):
        confined(lambda: "y" * (8 * MB))


TEMPLATES = {
    "memory": ("{{ 'x' * 10**9 }}", "memory"),
    "output": ("{{ messages[0]['content'] * 50000000 }}", "output passed"),  # 100 MB, within the memory
    "endless": (
        "{% for i in range(100000) %}{% for j in range(100000) %}"
        "{% for k in range(100000) %}{% endfor %}{% endfor %}{% endfor %}",
        "ran for more than",
    ),
}


@pytest.mark.parametrize("kind", list(TEMPLATES))
async def test_a_greedy_chat_template_is_an_error_and_the_engine_goes_on(paths, kind: str) -> None:
    template, words = TEMPLATES[kind]
    greedy = write_tiny_llama(paths.models_dir / f"{kind}.gguf", chat_template=template)
    good = write_tiny_llama(paths.models_dir / "good.gguf")
    engine = EmbeddedEngine(models_dir=paths.models_dir, n_threads=1, n_ctx=512)
    hi = [ChatTurn(Role.USER, "hi")]
    try:
        with pytest.raises(EngineError) as raised:
            [e async for e in engine.chat(str(greedy), hi, GenerationOptions(max_tokens=4))]
        assert "the chat template failed" in str(raised.value) and words in str(raised.value)
        child = engine.child_pid
        assert child is not None  # the engine child itself lives on, with its model...
        assert peak_rss(child) < 1024 * MB  # ...and never held the gigabyte (not even loading the file)
        pieces = [e async for e in engine.chat(str(good), hi, GenerationOptions(max_tokens=4))]
        assert len(pieces) == 5 and engine.child_pid == child
    finally:
        await engine.aclose()
