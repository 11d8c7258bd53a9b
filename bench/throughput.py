"""Row 1: tokens/s lchat delivers (`ask`, and the TUI in a pty) against raw llama-cpp-python.

Every figure is tokens / (last piece - first piece) as its consumer saw it: the raw loop after
each token, `ask` at each write to stdout, the TUI's worker after each write into the Markdown
stream. Runs are interleaved so that a burst of load on the machine hits all of them alike.
"""

from __future__ import annotations

import json
import tempfile
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
    missing_row,
    rate,
    run_json,
    starter_model,
    verdict,
    write_config,
)
from bench.pty_app import PtyApp


def raw(mode: str, model: Path, threads: int, max_tokens: int) -> dict:
    spec = {"mode": mode, "model": str(model), "threads": threads, "prompt": PROMPT, "max_tokens": max_tokens}
    return run_json([PYTHON, "-m", "bench.raw_llama", json.dumps(spec)])


def lchat_ask(home: Path, threads: int, max_tokens: int) -> dict:
    config = write_config(home / "config.toml", threads=threads, max_tokens=max_tokens)
    return run_json([PYTHON, "-m", "bench.ask_probe", str(home / "data"), str(config)], env=lchat_env(home))


def lchat_tui(home: Path, threads: int, max_tokens: int, spec: dict | None = None) -> dict:
    """One question typed into lchat in a pty; the "answer" event of bench.app_probe."""
    config = write_config(home / "config.toml", threads=threads, max_tokens=max_tokens)
    spec = {"data_dir": str(home / "data"), "config": str(config), "scenario": "stream", **(spec or {})}
    with PtyApp(spec, lchat_env(home)) as app:
        app.wait_for("ready", 60)
        app.type(PROMPT)
        app.type("\r")
        return app.wait_for("answer", 600)


def ui_share(marks: list) -> float:
    """CPU the UI process used while the answer streamed, as a share of one core."""
    (_, t0, cpu0), (_, t1, cpu1) = marks[0], marks[-1]
    return (cpu1 - cpu0) / (t1 - t0) if t1 > t0 else float("nan")


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
    model = starter_model()
    if model is None:
        return [missing_row("1", "tokens/s delivered", ">= 0.97 x raw", "starter model not installed")]
    default, tui_default = default_threads(), default_threads(leave_core_for_ui=True)
    settings = sorted({default if t == 0 else t for t in sizes.threads} | {tui_default}, reverse=True)
    n = sizes.max_tokens
    raw(  # Bring the model file into the page cache before anything is timed.
        "generate", model, default, 1
    )
    rates: dict[str, list[float]] = {}
    ratios: dict[str, list[float]] = {}
    ui_cpu: dict[int, list[float]] = {}

    def keep(key: str, result: dict) -> float:
        value = rate(result["tokens"], result["first"], result["last"])
        rates.setdefault(key, []).append(value)
        return value

    for repeat in range(sizes.repeats):
        for threads in settings:
            with tempfile.TemporaryDirectory(prefix="lchat-bench-") as tmp:
                generate = keep(f"generate/{threads}", raw("generate", model, threads, n))
                keep(f"chat/{threads}", raw("chat", model, threads, n))
                if threads == settings[0]:
                    asked = lchat_ask(Path(tmp) / "ask", threads, n)
                    ratios.setdefault("ask", []).append(keep("ask", asked) / generate)
                answer = lchat_tui(Path(tmp) / "tui", threads, n, {"mark_every": max(1, n // 8)})
                if answer["status"] != "complete":
                    raise RuntimeError(f"the TUI's answer ended {answer['status']}: {answer['error']}")
                ratios.setdefault(f"tui/{threads}", []).append(keep(f"tui/{threads}", answer) / generate)
                ui_cpu.setdefault(threads, []).append(ui_share(answer["marks"]))
        log(f"  row 1, repeat {repeat + 1}: " + ", ".join(f"{k} {v[-1]:.1f}" for k, v in rates.items()))

    def figures(key: str, threads: int) -> tuple[str, str, float]:
        gen, chat = median(rates[f"generate/{threads}"]), median(rates[f"chat/{threads}"])
        ratio = median(ratios[key])
        reference = f"generate {gen:.1f}, create_chat_completion {chat:.1f} tok/s"
        return reference, f"{ratio:.2f} x generate, {median(rates[key]) / chat:.2f} x chat", ratio

    rows = []
    reference, shown, ratio = figures("ask", settings[0])
    ask_label = f"{settings[0]} threads" + (" (default)" if settings[0] == default else "")
    rows.append(
        Row(
            "1",
            f"`lchat ask` tok/s ({ask_label}, {n} tokens)",
            f"{median(rates['ask']):.1f} tok/s",
            reference,
            shown,
            ">= 0.97 x",
            verdict(ratio >= 0.97),
            {"rates": rates, "ratios": ratios},
        )
    )
    for threads in settings:
        reference, shown, ratio = figures(f"tui/{threads}", threads)
        label = f"{threads} thread{'s' if threads > 1 else ''}" + (" (default)" if threads == tui_default else "")
        rows.append(
            Row(
                "1",
                f"TUI tok/s in a pty ({label}, {n} tokens)",
                f"{median(rates[f'tui/{threads}']):.1f} tok/s, UI process {median(ui_cpu[threads]):.0%} of a core",
                reference,
                shown,
                ">= 0.90 x",
                verdict(ratio >= 0.90),
                {"threads": threads, "ui_cpu": ui_cpu[threads]},
            )
        )
    if len(settings) > 1:
        best = max(settings, key=lambda t: median(rates[f"tui/{t}"]))
        rows.append(
            Row(
                "1",
                "best llama.cpp threads for the TUI",
                f"{best}",
                f"raw generate is fastest with {max(settings, key=lambda t: median(rates[f'generate/{t}']))}",
                values={"best_tui_threads": best},
            )
        )
    return rows
