"""Row 2: the UI absorbing a synthetic Markdown stream at a fixed rate (fake engine, pty).

Reported: the rate the UI worker wrote pieces at against the engine's own rate, the event
loop's lag (a 5 ms timer's lateness) while streaming, and the process's CPU time per token
in the first and the last tenth of the answer (flat means the cost does not grow with it).
Key echo in the composer while an answer streams has a reference: the same keys typed into the
`Input` of stock Textual streaming the same Markdown (bench/bare_markdown.py) from the
loopback Ollama double at the same rate.
"""

from __future__ import annotations

import asyncio
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    PYTHON,
    Row,
    Sizes,
    lchat_env,
    median,
    ms,
    percentile,
    rate,
    verdict,
    write_config,
)
from bench.ollama_double import MODEL as DOUBLE_MODEL
from bench.ollama_double import OllamaDouble
from bench.pty_app import PtyApp
from bench.synthetic import MODEL, PacedEngine, markdown_pieces, own_rate

ECHO_EVERY_S = 0.25
"""How often a key is typed into the composer while the answer streams (its echo is timed)."""


def echo_key(n: int) -> str:
    """The `n`th key typed for its echo: a CJK character, never in the answer nor typed before."""
    return chr(0x4E00 + n)


def stream_once(tokens: int, tokens_per_s: float, *, echo: bool = False) -> dict:
    """Type a question into lchat on the paced engine; the probe's "answer" event, with the
    key-echo times of the composer while it streamed when `echo`."""
    with tempfile.TemporaryDirectory(prefix="lchat-bench-") as tmp:
        home = Path(tmp)
        config = write_config(home / "config.toml", max_tokens=tokens, model=MODEL)
        spec = {
            "data_dir": str(home / "data"),
            "config": str(config),
            "scenario": "stream",
            "engine": "paced",
            "tokens": tokens,
            "rate": tokens_per_s,
            "mark_every": max(1, tokens // 10),
        }
        with PtyApp(spec, lchat_env(home)) as app:
            app.wait_for("ready", 60)
            app.type("Write a long answer with code.\r")
            echoes: list[float] = []
            if echo:  # Keys while it streams: from half a second in to half a second before the end.
                time.sleep(0.5)
                ends = time.monotonic() + tokens / tokens_per_s - 1.0
                while time.monotonic() < ends:
                    echoes.append(app.echo_s(echo_key(len(echoes))))
                    time.sleep(ECHO_EVERY_S)
            answer = app.wait_for("answer", 120 + 20 * tokens / min(tokens_per_s, 500))
            idle: list[float] = []  # The same keys with nothing streaming: the machine's own floor.
            if echo:  # Once the final render is done and the screen is still.
                app.wait_quiet(quiet_s=0.5, timeout=60)  # The stats pane draws once a second.
                for _ in range(8):
                    idle.append(app.echo_s(echo_key(len(echoes) + len(idle))))
                    time.sleep(ECHO_EVERY_S)
            return dict(answer, echo=echoes, echo_idle=idle)


def bare_echo(tokens: int, tokens_per_s: float) -> list[float]:
    """Key-echo times of stock Textual's `Input` while its Markdown streams `tokens` at `tokens_per_s`."""
    with OllamaDouble(markdown_pieces(tokens), tokens_per_s) as double:
        argv = [PYTHON, "-m", "bench.bare_markdown", double.host_port, DOUBLE_MODEL]
        with PtyApp({}, lchat_env(), argv=argv) as app:
            app.wait_quiet()
            app.type("Write a long answer with code.\r")
            answer = double.next_answer(60)
            time.sleep(0.5)
            ends = time.monotonic() + tokens / tokens_per_s - 1.0
            echoes: list[float] = []
            while time.monotonic() < ends and not answer.done.is_set():
                echoes.append(app.echo_s(echo_key(len(echoes))))
                time.sleep(ECHO_EVERY_S)
            answer.done.wait(120)
            return echoes


def _timed(echoes: list[float]) -> list[float]:
    return [e for e in echoes if not math.isnan(e)]


def analyse(answer: dict) -> dict:
    first, last, finished = answer["first"], answer["last"], answer["finished"]
    streaming = [lag for t, lag in answer["lag"] if first <= t <= last]
    finishing = [lag for t, lag in answer["lag"] if last < t <= finished + 0.05]
    marks = answer["marks"]  # (pieces, time, cpu): the first at piece 1, then every tenth.
    per_token = [(b[2] - a[2]) / (b[0] - a[0]) for a, b in zip(marks, marks[1:]) if b[0] > a[0]]
    return {
        "rate": rate(answer["pieces"], first, last),
        "shown_rate": rate(answer["pieces"], first, answer["drained"]),
        "drain_s": answer["drained"] - last,
        "lag_p99": percentile(streaming, 0.99),
        "lag_max": max(streaming, default=float("nan")),
        "finish_lag_max": max(finishing, default=0.0),
        "finish_s": finished - answer["drained"],
        "cpu_first": per_token[0] if per_token else float("nan"),
        "cpu_last": per_token[-1] if per_token else float("nan"),
        "cpu_windows": per_token,
    }


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
    n, target_rate = sizes.absorb_tokens, sizes.absorb_rate
    reference = asyncio.run(own_rate(PacedEngine(markdown_pieces(n), target_rate)))
    engine_rate = rate(reference["tokens"], reference["first"], reference["last"])
    runs = []
    for repeat in range(sizes.repeats):
        answer = stream_once(n, target_rate, echo=True)
        if answer["pieces"] != n:
            raise RuntimeError(f"the UI wrote {answer['pieces']} of {n} pieces ({answer['status']})")
        runs.append(dict(analyse(answer), echo=answer["echo"], echo_idle=answer["echo_idle"]))
        log(
            f"  row 2, repeat {repeat + 1}: {runs[-1]['rate']:.0f} tok/s written, "
            f"all shown {ms(runs[-1]['drain_s'])} after the last, "
            f"lag p99 {ms(runs[-1]['lag_p99'])}, CPU/token {runs[-1]['cpu_first'] * 1e6:.0f} -> "
            f"{runs[-1]['cpu_last'] * 1e6:.0f} us"
        )
    slow_run = stream_once(sizes.stream_tokens, 20.0, echo=True)
    slow = slow_run["echo"]
    fast = [e for run in runs for e in run["echo"]]
    idle = _timed(slow_run["echo_idle"] + [e for run in runs for e in run["echo_idle"]])
    echo_slow, echo_fast = percentile(_timed(slow), 0.95), percentile(_timed(fast), 0.95)
    log(
        f"  row 2, key echo p95: {ms(echo_slow)} at 20 tok/s, {ms(echo_fast)} at {target_rate:,.0f} tok/s; "
        f"after the answer (once the screen is still) {ms(percentile(idle, 0.95))}"
    )
    bare_slow = bare_echo(sizes.stream_tokens, 20.0)
    bare_fast = [e for _ in range(sizes.repeats) for e in bare_echo(n, target_rate)]
    bare_p95 = percentile(_timed(bare_slow), 0.95), percentile(_timed(bare_fast), 0.95)
    log(f"  row 2, bare Textual key echo p95: {ms(bare_p95[0])} at 20 tok/s, {ms(bare_p95[1])} at {target_rate:,.0f}")
    ceiling = analyse(stream_once(n, 1e9))
    log(f"  row 2, unthrottled: {ceiling['shown_rate']:.0f} tok/s shown")

    def mid(key: str) -> float:
        return median([r[key] for r in runs])

    ratio, lag_p99 = mid("rate") / engine_rate, mid("lag_p99")
    growth = mid("cpu_last") / mid("cpu_first")
    values = {"runs": runs, "engine_rate": engine_rate, "unthrottled": ceiling}
    return [
        Row(
            "2",
            f"UI absorbing {n:,} Markdown tokens at {target_rate:,.0f} tok/s (pty)",
            f"{mid('rate'):,.0f} tok/s written, all shown {ms(mid('drain_s'))} after the last",
            f"fake engine alone {engine_rate:,.0f} tok/s",
            f"{ratio:.2f} x",
            "keeps up (>= 0.97 x)",
            verdict(ratio >= 0.97 and mid("drain_s") < 0.25),
            values,
        ),
        Row(
            "2",
            "event-loop lag while streaming",
            f"p99 {ms(lag_p99)}, max {ms(mid('lag_max'))}",
            "-",
            "-",
            "p99 < 50 ms",
            verdict(lag_p99 < 0.050),
        ),
        Row(
            "2",
            "key echo in the composer while an answer streams (a key every 0.25 s)",
            f"p95 {ms(echo_slow)} at 20 tok/s, {ms(echo_fast)} at {target_rate:,.0f} tok/s "
            f"({len(slow)} and {len(fast)} keys; {len(slow) + len(fast) - len(_timed(slow + fast))} not echoed in 5 s)",
            f"bare Textual Input beside its Markdown stream: p95 {ms(bare_p95[0])} at 20 tok/s, "
            f"{ms(bare_p95[1])} at {target_rate:,.0f} tok/s ({len(bare_slow)} and {len(bare_fast)} keys)",
            f"{echo_slow / bare_p95[0]:.2f} x, {echo_fast / bare_p95[1]:.2f} x bare",
            "p95 < 20 ms",
            verdict(max(echo_slow, echo_fast) < 0.020) if slow and fast else "n/a",
            {"echo_20": slow, "echo_fast": fast, "echo_idle": idle, "bare_20": bare_slow, "bare_fast": bare_fast},
        ),
        Row(
            "2",
            "CPU per token, first vs last tenth of the answer",
            f"{mid('cpu_first') * 1e6:.0f} -> {mid('cpu_last') * 1e6:.0f} us",
            "-",
            f"{growth:.2f} x",
            "flat (<= 1.5 x)",
            verdict(growth <= 1.5),
        ),
        Row(
            "2",
            "final full render of the answer (after the stream)",
            f"{ms(mid('finish_s'))}, loop blocked up to {ms(mid('finish_lag_max'))}",
        ),
        Row(
            "2",
            "UI absorb ceiling (engine unthrottled; first piece to all shown)",
            f"{ceiling['shown_rate']:,.0f} tok/s",
            values={"unthrottled": ceiling},
        ),
    ]
