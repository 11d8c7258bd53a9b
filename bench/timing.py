"""Timing whole commands from the outside."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Sequence


def time_command(argv: Sequence[str], runs: int, *, env: dict | None = None) -> list[float]:
    """Wall-clock seconds of each of `runs` runs of `argv` (output discarded); one untimed run first."""
    times = []
    for index in range(runs + 1):
        started = time.perf_counter()
        subprocess.run(list(argv), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, check=True)
        if index:
            times.append(time.perf_counter() - started)
    return times
