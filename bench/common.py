"""What every benchmark shares: sizes, result rows, statistics, and lchat homes to run in."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

# Times that cross processes use time.perf_counter(): CLOCK_MONOTONIC on Linux, one clock for all.
PYTHON = sys.executable
PROMPT = "Write a long story about a robot who learns to paint. Describe every step in detail."
"""The question of the throughput runs: SmolLM2 answers it at length, without stopping early."""


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark runs; `FULL` is what docs/benchmarks.md's table reports."""

    repeats: int = 3
    """Runs per figure (the table shows medians)."""
    starts: int = 3
    """Process starts per start-up or model-switch figure (cheap, so never fewer than this)."""
    max_tokens: int = 200
    """Answer length of the throughput runs (row 1)."""
    absorb_tokens: int = 20_000
    """Tokens of the synthetic Markdown stream (row 2)."""
    absorb_rate: float = 2000.0
    """Tokens per second the synthetic engine produces (row 2)."""
    turns: int = 20
    """Turns of the conversation whose time to first token is compared (row 3)."""
    turn_tokens: int = 24
    """Answer length of each of those turns."""
    conversations: int = 100_000
    """Conversations in the big history (rows 4 to 7)."""
    messages: int = 1_000_000
    """Messages in the big history."""
    long_conversation: int = 5_000
    """Messages of the one long conversation opened in row 5."""
    idle_s: float = 6.0
    """Seconds an idle lchat is watched (row 8)."""
    stream_tokens: int = 600
    """Tokens of the answer streamed at 20 tok/s in the streaming-cost row (11)."""
    peers: bool = True
    """Install and run the peer client (oterm) in row 11."""
    threads: tuple[int, ...] = (0, 1)
    """llama.cpp thread settings the TUI is measured with (0: lchat's default)."""


FULL = Sizes()
QUICK = Sizes(
    repeats=1,
    max_tokens=48,
    absorb_tokens=4000,
    turns=4,
    conversations=2_000,
    messages=20_000,
    long_conversation=5_000,
    idle_s=3.0,
    stream_tokens=200,
)
TINY = replace(
    QUICK,
    starts=1,
    max_tokens=8,
    absorb_tokens=300,
    turns=2,
    turn_tokens=4,
    conversations=50,
    messages=400,
    long_conversation=60,
    idle_s=1.0,
    threads=(1,),
    stream_tokens=30,
    peers=False,
)
"""For the test suite: every code path, seconds each."""


@dataclass
class Row:
    """One line of the results table."""

    number: str
    what: str
    figure: str
    reference: str = "-"
    ratio: str = "-"
    target: str = "-"
    verdict: str = "-"
    """"met", "MISSED", or "n/a"."""
    values: dict = field(default_factory=dict)
    """The raw numbers behind the line (seconds, tokens/s...), for the JSON output and tests."""


def missing_row(number: str, what: str, target: str, why: str = "feature missing") -> Row:
    return Row(number, what, f"n/a ({why})", target=target, verdict="n/a")


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "MISSED")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile (0 < fraction <= 1) of `values`."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def rate(tokens: int, first: float | None, last: float | None) -> float:
    """Tokens per second between the first and the last piece, as the consumer saw them."""
    if not tokens or first is None or last is None or last <= first:
        return float("nan")
    return tokens / (last - first)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def run_json(args: Sequence[str], *, env: dict | None = None, timeout: float = 300) -> dict:
    """Run a helper process that prints one JSON object as its last line of output."""
    done = subprocess.run(list(args), capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])}... failed ({done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def starter_model() -> Path | None:
    from tui.engines.embedded.discovery import starter_model_path

    return starter_model_path()


def default_threads(leave_core_for_ui: bool = False) -> int:
    """lchat's default llama.cpp threads: for `ask`, or (leaving a core) for the TUI."""
    from tui.engines.embedded.engine import default_threads as lchat_default

    return lchat_default(leave_core_for_ui)


def cache_dir() -> Path:
    """Where slow-to-build inputs (the big history, a second model) are kept between runs."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    folder = Path(base) / "lchat" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_config(
    path: Path, *, threads: int = 0, max_tokens: int = 256, model: str = "", extra: str = "", ollama_host: str = ""
) -> Path:
    """A config for a benchmark run: greedy sampling, and no other backends or model stores
    (unknown keys are only warnings, so this also works before those sections exist);
    `ollama_host` enables Ollama at that address only."""
    ollama = f"enabled = true\nhosts = [{json.dumps(ollama_host)}]" if ollama_host else "enabled = false"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"[engine]\nthreads = {threads}\n\n"
        f"[chat]\ntemperature = 0.0\nmax_tokens = {max_tokens}\nmodel = {json.dumps(model)}\n\n"
        f"[ollama]\n{ollama}\n\n"
        "[models]\nreuse_ollama_store = false\nreuse_lmstudio = false\nreuse_hf_cache = false\n" + extra
    )
    path.chmod(0o600)
    return path


def lchat_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment of an lchat process under test: its own home, no daemons, fixed TERM."""
    env = {k: v for k, v in os.environ.items() if k not in ("OLLAMA_HOST", "NO_COLOR", "TEXTUAL")}
    env.update(TERM="xterm-256color", COLORTERM="truecolor", PYTHONUNBUFFERED="1", **extra)
    if home is not None:
        env["LCHAT_HOME"] = str(home)
    return env


def machine() -> str:
    """One line on the machine and how busy it is right now."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{os.cpu_count()} cores, {model}, load average {load:.2f}, {time.strftime('%Y-%m-%d %H:%M')}"
