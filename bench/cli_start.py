"""Row 10: `lchat --version` against `python -c pass`, and `lchat ask` from start to first byte.

`ask` runs through bench.ask_probe (lchat's own entry point, stdout timed), which also
reports whether llama_cpp was imported in the lchat process (it must stay in the engine child).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import (
    PROMPT,
    PYTHON,
    Row,
    Sizes,
    default_threads,
    lchat_env,
    median,
    ms,
    run_json,
    starter_model,
    verdict,
    write_config,
)
from bench.timing import time_command


def lchat_command() -> list[str]:
    """The installed `lchat` script next to this interpreter, else `python -m tui`."""
    script = Path(sys.executable).with_name("lchat")
    return [str(script)] if script.exists() else [PYTHON, "-m", "tui"]


def ask_start(model: Path, runs: int) -> tuple[list[float], list[float], bool]:
    """Seconds from process start to the first answer byte, for `lchat ask` and raw llama."""
    lchat, raw, in_parent = [], [], False
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="lchat-bench-") as tmp:
            home = Path(tmp)
            config = write_config(home / "config.toml", threads=0, max_tokens=4)
            started = time.perf_counter()
            result = run_json([PYTHON, "-m", "bench.ask_probe", str(home / "data"), str(config)], env=lchat_env(home))
            lchat.append(result["first"] - started)
            in_parent = in_parent or result["llama_cpp_in_parent"]
        spec = {
            "mode": "generate",
            "model": str(model),
            "threads": default_threads(),
            "prompt": PROMPT,
            "max_tokens": 4,
        }
        started = time.perf_counter()
        result = run_json([PYTHON, "-m", "bench.raw_llama", json.dumps(spec)])
        raw.append(result["first"] - started)
    return lchat, raw, in_parent


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
    runs = max(sizes.starts * 2, sizes.repeats * 3)
    version = time_command([*lchat_command(), "--version"], runs)
    bare = time_command([PYTHON, "-c", "pass"], runs)
    rows = [
        Row(
            "10",
            "`lchat --version`",
            ms(median(version)),
            f"`python -c pass` {ms(median(bare))}",
            f"{median(version) / median(bare):.1f} x",
            "< 150 ms",
            verdict(median(version) < 0.150),
            {"version_s": version, "python_s": bare},
        )
    ]
    model = starter_model()
    if model is not None:
        lchat, raw, in_parent = ask_start(model, max(sizes.starts, sizes.repeats))
        log(
            f"  row 10: --version {ms(median(version))}, ask first byte {ms(median(lchat))}, "
            f"raw first token {ms(median(raw))}"
        )
        rows.append(
            Row(
                "10",
                "`lchat ask` start to first answer byte",
                ms(median(lchat)),
                f"raw llama-cpp-python process, start to first token {ms(median(raw))}",
                f"{median(lchat) / median(raw):.2f} x",
                "llama_cpp only in the engine child",
                verdict(not in_parent),
                {"ask_s": lchat, "raw_s": raw, "llama_cpp_in_parent": in_parent},
            )
        )
    return rows
