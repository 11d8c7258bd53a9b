"""Row 3: time to first token at turn N of a conversation against turn 1 (embedded engine).

Measured through ChatService, as `ask` and the TUI use it: from `send` to the first piece,
so lchat's own work (committing the question, reading the history) is included. The model is
loaded by a warm-up answer first, so turn 1 is not a cold start.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from contextlib import aclosing
from pathlib import Path

from bench.common import Row, Sizes, median, missing_row, ms, starter_model, verdict

QUESTIONS = [
    "Name a colour.",
    "Why is the sky blue?",
    "Give me a word that rhymes with cat.",
    "What is two plus two?",
    "Say something about trees.",
    "Tell me a fruit.",
]


async def conversation_ttfts(turns: int, tokens: int, runs: int) -> list[list[dict]]:
    from tui.chat.events import AnswerEnded, AnswerPiece
    from tui.chat.service import ChatService
    from tui.config import ChatConfig
    from tui.engines.embedded.engine import EmbeddedEngine
    from tui.models.names import ModelChoice
    from tui.store import HistoryStore

    with tempfile.TemporaryDirectory(prefix="lchat-bench-") as tmp:
        engine = EmbeddedEngine(models_dir=Path(tmp) / "models")
        store = HistoryStore.open(Path(tmp) / "history.db")
        defaults = ChatConfig(temperature=0.0, max_tokens=tokens)
        service = ChatService(store, {engine.name: engine}, defaults)
        model = ModelChoice(engine.name, str(starter_model()))

        async def turn(conversation_id: int, text: str) -> dict:
            started, first, stats = time.perf_counter(), None, None
            async with aclosing(service.answers.send(conversation_id, text, model)) as updates:
                async for update in updates:
                    if isinstance(update, AnswerPiece) and first is None:
                        first = time.perf_counter()
                    elif isinstance(update, AnswerEnded):
                        stats = update.stats
                        if stats is None:
                            raise RuntimeError(f"the answer failed: {update.message.error}")
            if stats is None:
                raise RuntimeError("the answer never ended")
            # prompt_s: the engine's own part (template, tokenizing, prefill, first decode).
            return {
                "ttft": (first or time.perf_counter()) - started,
                "engine": stats.prompt_s or 0.0,
                "prompt_tokens": stats.prompt_tokens,
                "cached_tokens": stats.cached_tokens,
            }

        try:
            await turn(service.settings.new_conversation(model).id, "Hello.")  # Loads the model.
            results = []
            for _ in range(runs):
                conversation = service.settings.new_conversation(model)
                results.append([await turn(conversation.id, QUESTIONS[n % len(QUESTIONS)]) for n in range(turns)])
            return results
        finally:
            await engine.aclose()
            store.close()


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
    if starter_model() is None:
        return [missing_row("3", "time to first answer token, turn N vs 1", "<= 1.3 x", "starter model not installed")]
    runs = asyncio.run(conversation_ttfts(sizes.turns, sizes.turn_tokens, sizes.repeats))
    first = [run[0]["ttft"] for run in runs]
    last = [run[-1]["ttft"] for run in runs]
    ratio = median([b / a for a, b in zip(first, last)])
    end = runs[-1][-1]
    engine_first = median([run[0]["engine"] for run in runs])
    engine_last = median([run[-1]["engine"] for run in runs])
    log(
        f"  row 3: turn 1 {ms(median(first))}, turn {sizes.turns} {ms(median(last))} "
        f"({end['cached_tokens']} of {end['prompt_tokens']} prompt tokens cached); "
        f"of which the engine (template, tokenize, prefill, first decode): "
        f"{ms(engine_first)} and {ms(engine_last)}, lchat and the pipe the rest"
    )
    return [
        Row(
            "3",
            f"time to first answer token (not reasoning), turn {sizes.turns} vs turn 1 (embedded, from `send`)",
            f"{ms(median(last))} ({end['cached_tokens']}/{end['prompt_tokens']} prompt tokens cached)",
            f"turn 1: {ms(median(first))}",
            f"{ratio:.2f} x",
            "<= 1.3 x",
            verdict(ratio <= 1.3),
            {"runs": runs},
        )
    ]
