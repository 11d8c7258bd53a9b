"""A child's own peak memory for the tests that bound it (see tests/rss_probe.py for why not ru_maxrss)."""

from __future__ import annotations

import sys
from pathlib import Path

PROBE = Path(__file__).with_name("rss_probe.py")


def probed(report: Path, *args: str) -> list[str]:
    """The command line that runs `python -m tui ARGS` and writes its peak RSS (kB) to `report`."""
    return [sys.executable, str(PROBE), str(report), "-m", "tui", *args]


def reported_mb(report: Path) -> float:
    """The peak RSS (MB) the probe wrote; inf when it wrote none (the process died before its exit)."""
    try:
        return int(report.read_text()) / 1024
    except (OSError, ValueError):
        return float("inf")


def live_peak_mb(pid: int) -> float:
    """The peak RSS (MB) so far of a process still running."""
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
