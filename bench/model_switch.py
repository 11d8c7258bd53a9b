"""Row 9: switching the embedded engine from model A to B and back.

B is a copy of the starter model at another path (kept in the bench cache), so it is a
different file to llama.cpp. Figures are times to first token of a one-token answer:
A warm (same model again), B cold (a fresh engine: child start, import, load), A after B
(the switch back). The reference is llama-cpp-python's own load of A after B, plus its first
token on the same prompt, in a raw process once the files are in the page cache (mmap loads).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    PROMPT,
    PYTHON,
    Row,
    Sizes,
    cache_dir,
    default_threads,
    median,
    missing_row,
    ms,
    run_json,
    starter_model,
    verdict,
)


def second_model(model: Path) -> Path:
    copy = cache_dir() / f"model-b-{model.name}"
    if not copy.exists() or copy.stat().st_size != model.stat().st_size:
        shutil.copyfile(model, copy.with_suffix(".part"))
        copy.with_suffix(".part").rename(copy)
    return copy


async def switch_times(model_a: Path, model_b: Path, rounds: int) -> dict[str, list[float]]:
    from tui.domain import ChatTurn, GenerationOptions, Role
    from tui.engines.base import TextPiece
    from tui.engines.embedded.engine import EmbeddedEngine

    options = GenerationOptions(temperature=0.0, max_tokens=1)
    turns = [ChatTurn(Role.USER, PROMPT)]
    times: dict[str, list[float]] = {"a_warm": [], "b_cold": [], "a_to_b": [], "b_to_a": []}

    async def first_token(engine: EmbeddedEngine, model: Path) -> float:
        started = time.perf_counter()
        async for event in engine.chat(str(model), turns, options):
            if isinstance(event, TextPiece):
                return time.perf_counter() - started
        return time.perf_counter() - started

    with tempfile.TemporaryDirectory(prefix="lchat-bench-") as tmp:
        for _ in range(rounds):
            cold = EmbeddedEngine(models_dir=Path(tmp))
            try:
                times["b_cold"].append(await first_token(cold, model_b))
            finally:
                await cold.aclose()
        engine = EmbeddedEngine(models_dir=Path(tmp))
        try:
            await first_token(engine, model_a)
            for _ in range(rounds):
                times["a_warm"].append(await first_token(engine, model_a))
                times["a_to_b"].append(await first_token(engine, model_b))
                times["b_to_a"].append(await first_token(engine, model_a))
        finally:
            await engine.aclose()
    return times


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
    model_a = starter_model()
    if model_a is None:
        return [missing_row("9", "model switch A -> B -> A", "< 1.5 x load", "starter model not installed")]
    model_b = second_model(model_a)
    rounds = max(sizes.starts, sizes.repeats)
    spec = {
        "mode": "load",
        "model": str(model_a),
        "other_model": str(model_b),
        "threads": default_threads(),
        "loads": rounds,
        "prompt": PROMPT,
    }
    raw = run_json([PYTHON, "-m", "bench.raw_llama", json.dumps(spec)])
    load, first = median(raw["load_s"]), median(raw["first_token_s"])
    times = asyncio.run(switch_times(model_a, model_b, rounds))
    warm, back = median(times["a_warm"]), median(times["b_to_a"])
    ratio = back / (load + first)
    log(
        f"  row 9: raw load {ms(load)} + first token {ms(first)}; lchat A warm {ms(warm)}, "
        f"A->B {ms(median(times['a_to_b']))}, B->A {ms(back)}, B cold {ms(median(times['b_cold']))}"
    )
    return [
        Row(
            "9",
            "model switch B -> A: first token (the child reloads A)",
            f"{ms(back)} (A->B {ms(median(times['a_to_b']))}, A again without a switch {ms(warm)})",
            f"raw: load A {ms(load)} + first token {ms(first)}; lchat cold B {ms(median(times['b_cold']))}",
            f"{ratio:.2f} x raw load + first token",
            "warm child, or reload < 1.5 x raw",
            verdict(ratio < 1.5),
            {"times": times, "raw": raw},
        )
    ]
