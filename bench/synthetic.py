"""A synthetic answer for the UI benchmark: Markdown with code blocks, from an engine at a fixed rate."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Sequence

from tui.domain import ChatTurn, GenerationOptions, ModelInfo
from tui.engines.base import ChatEvent, Engine, Finished, ModelNotFound, TextPiece

MODEL = "paced-markdown"
_WORDS = (
    "the model streams tokens into a widget while the event loop keeps drawing frames and reading "
    "keys so the answer grows line by line and every block of text is parsed once more when it ends "
    "cache prompt context window thread batch layout render compositor markdown fence paragraph"
).split()
_CODE = [
    "def tokens_per_second(count: int, seconds: float) -> float:",
    "    if seconds <= 0:",
    "        return 0.0",
    "    return count / seconds",
    "for index, piece in enumerate(stream):",
    "    buffer.append(piece)",
    "    total += len(piece)",
    "result = {key: value for key, value in pairs if value is not None}",
    'print(f"{name}: {result!r}")',
]


def markdown_pieces(count: int, *, seed: int = 7) -> list[str]:
    """`count` pieces of Markdown, about a word each: headings, prose, lists and fenced code."""
    rng = random.Random(seed)
    pieces: list[str] = []
    section = 0
    while len(pieces) < count:
        section += 1
        pieces += [f"## Part {section}", "\n\n"]
        pieces += _prose(rng, rng.randint(30, 70)) + ["\n\n"]
        for _ in range(rng.randint(2, 4)):
            pieces += ["-"] + _prose(rng, rng.randint(5, 12)) + ["\n"]
        pieces += ["\n", "```python", "\n"]
        for _ in range(rng.randint(4, 12)):
            line = rng.choice(_CODE)
            pieces += _split_code(line) + ["\n"]
        pieces += ["```", "\n\n"]
        pieces += _prose(rng, rng.randint(20, 50)) + [" `count`", " and", " **bold**", ".", "\n\n"]
    return pieces[:count]


def reasoning_pieces(count: int, *, seed: int = 11) -> list[str]:
    """`count` pieces of a thinking model's reasoning, about a word each: paragraphs of prose."""
    rng = random.Random(seed)
    pieces: list[str] = []
    while len(pieces) < count:
        pieces += _prose(rng, rng.randint(25, 60)) + ["\n\n"]
    return pieces[:count]


def _prose(rng: random.Random, words: int) -> list[str]:
    return [" " + rng.choice(_WORDS) for _ in range(words)]


def _split_code(line: str) -> list[str]:
    parts = line.split(" ")
    return [part if index == 0 else " " + part for index, part in enumerate(parts)]


class PacedEngine(Engine):
    """A fake backend whose piece i is ready at start + i / rate, like a real engine's pipe.

    A consumer that falls behind gets the backlog at once, as it would from the engine child.
    """

    def __init__(self, pieces: Sequence[str], rate: float, *, name: str = "fake") -> None:
        self.name = name
        self.pieces = list(pieces)
        self.rate = rate

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(name=MODEL, backend=self.name, context_length=1_000_000)]

    async def chat(
        self, model: str, messages: Sequence[ChatTurn], options: GenerationOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        if model != MODEL:
            raise ModelNotFound(f"model {model!r} not found")
        started = time.perf_counter()
        for index, piece in enumerate(self.pieces):
            wait = started + index / self.rate - time.perf_counter()
            if wait > 0:  # Like a pipe: a piece already due is handed over without waiting.
                await asyncio.sleep(wait)
            yield TextPiece(piece)
        ended = time.perf_counter()
        yield Finished(prompt_tokens=1, completion_tokens=len(self.pieces), ttft_s=0.0, gen_s=ended - started)

    @property
    def local(self) -> bool:
        return True


async def own_rate(engine: PacedEngine) -> dict:
    """The engine's rate with a consumer that does nothing: the row's reference."""
    stamps = []
    async for event in engine.chat(MODEL, [], GenerationOptions()):
        if isinstance(event, TextPiece):
            stamps.append(time.perf_counter())
    return {"tokens": len(stamps), "first": stamps[0], "last": stamps[-1]}
