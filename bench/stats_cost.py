"""Row 8: CPU an idle lchat spends with the stats sampled at 1 Hz, against one with stats off.

Both run in a pty with an empty data dir and sit idle after the first paint; the figure is the
UI process's CPU time (all threads, and children it waited for) over wall time.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.common import Row, Sizes, lchat_env, median, missing_row, verdict, write_config
from bench.pty_app import PtyApp

TARGET = "< 1% of a core over idle"


def idle_cpu(stats: bool, idle_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="lchat-bench-") as tmp:
        home = Path(tmp)
        extra = f"\n[stats]\nenabled = {'true' if stats else 'false'}\ninterval_s = 1.0\n"
        config = write_config(home / "config.toml", extra=extra)
        spec = {
            "data_dir": str(home / "data"),
            "config": str(config),
            "scenario": "idle",
            "settle_s": 2.0,
            "idle_s": idle_s,
        }
        with PtyApp(spec, lchat_env(home)) as app:
            return app.wait_for("idle", idle_s + 90)


def run(sizes: Sizes, log: Callable[[str], None] = print) -> list[Row]:
    from tui.config import Config

    what = "stats sampling at 1 Hz, idle UI"
    if not hasattr(Config(), "stats"):
        return [missing_row("8", what, TARGET)]
    on: list[float] = []
    off: list[float] = []
    samples = 0
    for repeat in range(sizes.repeats):
        for stats, into in ((False, off), (True, on)):
            result = idle_cpu(stats, sizes.idle_s)
            into.append(result["cpu_s"] / result["wall_s"])
            samples += result["samples"] if stats else 0
        log(f"  row 8, repeat {repeat + 1}: stats off {off[-1]:.2%}, on {on[-1]:.2%} of a core")
    if not samples:
        return [missing_row("8", what, TARGET, "no samples were taken with stats on")]
    extra = median(on) - median(off)
    return [
        Row(
            "8",
            what,
            f"{median(on):.2%} of a core ({extra:+.2%} for sampling)",
            f"idle lchat, stats off: {median(off):.2%}",
            f"{extra:+.2%}",
            TARGET,
            verdict(extra < 0.01),
            {"on": on, "off": off, "samples": samples},
        )
    ]
