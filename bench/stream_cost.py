"""Row 11: what streaming one answer costs the UI process and the terminal link, beside its peers.

Each client runs in a pseudo-terminal of the row's size and streams the same Markdown answer
(paragraphs, lists, code blocks) from the same loopback Ollama double at the same rate. Over
the window from the double's first piece to its last: the client's CPU (utime + stime from
/proc, as % of a core) and the bytes it wrote to its terminal per second. References in the
same run: stock Textual `Markdown.get_stream` in a `VerticalScroll` plus an `Input`
(bench/bare_markdown.py), and oterm in a virtualenv of its own (bench/oterm_peer.py).
One run is a thinking model's: half the pieces are reasoning, streamed first, and every client
shows them (lchat's live reasoning block, a second Markdown in the bare app, oterm's thinking).
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from bench import oterm_peer
from bench.common import (
    PYTHON,
    Row,
    Sizes,
    lchat_env,
    median,
    verdict,
    write_config,
)
from bench.ollama_double import MODEL, OllamaDouble
from bench.pty_app import PtyApp
from bench.synthetic import markdown_pieces, reasoning_pieces

RATE = 20.0
"""Tokens per second of the double, as a local model on a small machine writes them."""
SHAPES = [((100, 40), False, False), ((100, 40), True, False), ((200, 60), False, False), ((100, 40), False, True)]
"""(terminal size, stats pane shown, a thinking model) of the lchat runs; the references run at
each size and model."""
CPU_TARGET = {False: 10.0, True: 15.0}
BYTES_TARGET = 13 * 1024


def cpu_seconds(pid: int) -> float:
    """utime + stime of process `pid` (its threads included), in seconds."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(app: PtyApp, double: OllamaDouble, ask: Callable[[PtyApp], None], tokens: int) -> dict:
    """Ask through `ask`, then the CPU and terminal bytes from the first to the last piece."""
    ask(app)
    try:
        answer = double.next_answer(120)
    except TimeoutError:
        raise RuntimeError(f"no answer asked for; screen: {app.screen_text()}") from None
    while not answer.first:
        time.sleep(0.002)
    cpu, sent, started = cpu_seconds(app.process.pid), app.screen_bytes, time.perf_counter()
    if not answer.done.wait(60 + 2 * tokens / RATE):
        raise RuntimeError("the answer did not end")
    wall = time.perf_counter() - started
    cpu = cpu_seconds(app.process.pid) - cpu
    sent = app.screen_bytes - sent
    time.sleep(0.5)  # The last pieces are drawn before the client quits.
    return {
        "cpu_percent": 100 * cpu / wall,
        "bytes_per_s": sent / wall,
        "bytes_per_token": sent / tokens,
        "wall_s": wall,
    }


def _type_question(app: PtyApp) -> None:
    app.type("Write a long answer with a list and code.")
    time.sleep(0.3)
    app.type("\r")


def run_lchat(double: OllamaDouble, size: tuple[int, int], stats: bool, tokens: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="lchat-bench-") as tmp:
        home = Path(tmp)
        config = write_config(
            home / "config.toml",
            max_tokens=tokens + 10,
            model=MODEL,
            ollama_host=double.host_port,
            extra=f"\n[stats]\nvisible = {str(stats).lower()}\n",
        )
        spec = {"data_dir": str(home / "data"), "config": str(config), "scenario": "stream", "model": MODEL}
        with PtyApp(spec, lchat_env(home), size=size) as app:
            app.wait_for("ready", 60)
            app.wait_quiet(timeout=5)
            return measure(app, double, _type_question, tokens)


def run_bare(double: OllamaDouble, size: tuple[int, int], tokens: int) -> dict:
    argv = [PYTHON, "-m", "bench.bare_markdown", double.host_port, MODEL]
    with PtyApp({}, lchat_env(), size=size, argv=argv) as app:
        app.wait_quiet()
        return measure(app, double, _type_question, tokens)


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
    tokens = sizes.stream_tokens
    oterm = oterm_peer.install(log) if sizes.peers else oterm_peer.Oterm(None, "not run at these sizes")
    results: dict[str, list[dict]] = {}
    plain = OllamaDouble(markdown_pieces(tokens), RATE)
    thinking = OllamaDouble(markdown_pieces(tokens - tokens // 2), RATE, reasoning=reasoning_pieces(tokens // 2))
    with plain, thinking:
        for repeat in range(sizes.repeats):
            for size, reasoning in sorted({(size, reasoning) for size, _, reasoning in SHAPES}):
                double = thinking if reasoning else plain
                suffix = " thinking" if reasoning else ""
                runs: list[tuple[str, Callable[[], dict]]] = [
                    (f"lchat {size} stats {stats}{suffix}", partial(run_lchat, double, size, stats, tokens))
                    for shape, stats, model_thinks in SHAPES
                    if (shape, model_thinks) == (size, reasoning)
                ]
                runs.append((f"bare {size}{suffix}", partial(run_bare, double, size, tokens)))
                if oterm.ready:
                    runs.append(
                        (f"oterm {size}{suffix}", partial(oterm_peer.run, oterm, double, size, tokens, measure))
                    )
                for key, runner in runs:
                    found = runner()
                    results.setdefault(key, []).append(found)
                    log(
                        f"  row 11, repeat {repeat + 1}, {key}: {found['cpu_percent']:.1f}% of a core, "
                        f"{found['bytes_per_s'] / 1024:.1f} KiB/s"
                    )
    return rows(results, tokens, oterm.note)


def _mid(results: dict[str, list[dict]], key: str, field: str) -> float:
    return median([r[field] for r in results.get(key, [])])


def _spread(results: dict[str, list[dict]], key: str, field: str) -> str:
    values = [r[field] for r in results.get(key, [])]
    return "" if len(values) < 2 else f" ({min(values):.1f} to {max(values):.1f})"


def rows(results: dict[str, list[dict]], tokens: int, oterm_note: str) -> list[Row]:
    found = []
    for size, stats, reasoning in SHAPES:
        suffix = " thinking" if reasoning else ""
        key, ref, peer = f"lchat {size} stats {stats}{suffix}", f"bare {size}{suffix}", f"oterm {size}{suffix}"
        cpu, bps = _mid(results, key, "cpu_percent"), _mid(results, key, "bytes_per_s")
        ref_cpu, ref_bps = _mid(results, ref, "cpu_percent"), _mid(results, ref, "bytes_per_s")
        reference = f"bare Textual Markdown stream {ref_cpu:.1f}%, {ref_bps / 1024:.1f} KiB/s"
        ratio = f"{cpu / ref_cpu:.2f} x CPU, {bps / ref_bps:.2f} x bytes of bare"
        if peer in results:
            peer_cpu, peer_bps = _mid(results, peer, "cpu_percent"), _mid(results, peer, "bytes_per_s")
            reference += f"; oterm {peer_cpu:.1f}%, {peer_bps / 1024:.1f} KiB/s"
            ratio += f"; {cpu / peer_cpu:.2f} x CPU, {bps / peer_bps:.2f} x bytes of oterm"
        else:
            reference += f"; oterm: {oterm_note}"
        checked = size == (100, 40) and not reasoning
        target = f"<= {CPU_TARGET[stats]:.0f}% of a core" + (", <= 13 KiB/s" if not stats else "") if checked else "-"
        ok = cpu <= CPU_TARGET[stats] and (stats or bps <= BYTES_TARGET) if checked else None
        found.append(
            Row(
                "11",
                f"streaming {tokens} Markdown tokens at {RATE:.0f} tok/s, {size[0]}x{size[1]}, "
                f"stats pane {'shown' if stats else 'hidden'}"
                + (f", a thinking model ({tokens // 2} of them reasoning)" if reasoning else ""),
                f"{cpu:.1f}%{_spread(results, key, 'cpu_percent')} of a core, {bps / 1024:.1f} KiB/s "
                f"({bps / RATE / 1024:.2f} KiB/token)",
                reference,
                ratio,
                target,
                verdict(ok) if checked else "-",
                {key: results.get(key, []), ref: results.get(ref, []), peer: results.get(peer, [])},
            )
        )
    return found
