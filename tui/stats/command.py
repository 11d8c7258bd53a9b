"""`lchat stats`: one snapshot of the hardware, as text or JSON, once or repeatedly."""

from __future__ import annotations

import json
import sys
import time
from typing import TextIO

from tui.config import StatsConfig
from tui.stats.alerts import Limits, alerts_for
from tui.stats.monitor import StatsMonitor
from tui.stats.report import text_report, to_json

SETTLE_S = 0.5
"""Before the first snapshot: CPU use and RAPL power are rates, so they need two readings."""


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
