"""`lchat stats`: one snapshot of the hardware, as text or JSON, once or repeatedly.

It needs neither the history nor the engines; the stats modules load only when it runs.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, TextIO

from tui.cli.command import Context

if TYPE_CHECKING:
    from tui.config import StatsConfig
    from tui.stats.monitor import StatsMonitor

COMMANDS = ("stats",)
USES_SERVICES = False

SETTLE_S = 0.5
"""Before the first snapshot: CPU use and RAPL power are rates, so they need two readings."""


def register(commands: argparse._SubParsersAction) -> None:
    """Add `lchat stats` to lchat's argument parser."""
    stats = commands.add_parser("stats", help="print the GPU, CPU and memory figures of the stats pane")
    stats.add_argument("--json", action="store_true", help="one JSON object per snapshot")
    stats.add_argument(
        "--watch",
        nargs="?",
        type=float,
        const=0.0,
        metavar="SECONDS",
        help="repeat every SECONDS (default: [stats] interval_s) until ctrl+c",
    )
    stats.add_argument("--count", type=int, help="stop after this many snapshots")


def run(args: argparse.Namespace, context: Context) -> int:
    """Print the snapshots `args` ask for, from a monitor of the configured interval."""
    from tui.stats import build_monitor

    settings = context.config.stats
    monitor = build_monitor(settings.interval_s, settings.history_s)
    return run_stats(monitor, settings, as_json=args.json, watch=args.watch, count=args.count)


def run_stats(
    monitor: StatsMonitor,
    settings: StatsConfig,
    *,
    as_json: bool = False,
    watch: float | None = None,
    count: int | None = None,
    out: TextIO | None = None,
    settle_s: float | None = None,
) -> int:
    """Print snapshots: one, or with `watch` one every `watch` seconds (0: the configured interval)."""
    import json

    from tui.stats.alerts import Limits, alerts_for
    from tui.stats.report import text_report, to_json

    out = out or sys.stdout
    limits = Limits(settings.temp_margin_c, settings.vram_warn_percent)
    interval = (watch or settings.interval_s) if watch is not None else 0.0
    remaining = count if count is not None else (None if watch is not None else 1)
    try:
        monitor.sample_now()
        time.sleep(SETTLE_S if settle_s is None else settle_s)
        while remaining is None or remaining > 0:
            sample = monitor.sample_now()
            alerts = alerts_for(sample, limits)
            if as_json:
                out.write(json.dumps(to_json(sample, alerts)) + "\n")
            else:
                stamp = time.strftime("%H:%M:%S", time.localtime(sample.wall))
                out.write((f"── {stamp}\n" if watch is not None else "") + text_report(sample, alerts) + "\n")
            out.flush()
            remaining = None if remaining is None else remaining - 1
            if remaining != 0:
                time.sleep(interval)
    except KeyboardInterrupt:
        return 130 if watch is None else 0
    except BrokenPipeError:  # `lchat stats --watch | head`
        return 0
    finally:
        monitor.close()
    return 0
