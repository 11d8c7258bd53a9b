"""Recent samples reduced to the three series the sparklines draw."""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

from tui.stats.sample import StatsSample


@dataclass(frozen=True)
class Series:
    """What the sparklines show, oldest first; values a sample lacked are left out."""

    source: str = "CPU"
    """"GPU" when the utilisation and temperature are the GPUs' (the hottest, busiest one), else "CPU"."""
    util: tuple[float, ...] = ()
    temp: tuple[float, ...] = ()
    power: tuple[float, ...] = ()


class StatsHistory:
    """The last `seconds` of samples at `interval_s`; safe to add from one thread and read from another."""

    def __init__(self, seconds: float, interval_s: float) -> None:
        self._points: deque[tuple[float | None, float | None, float | None]] = deque(
            maxlen=max(2, math.ceil(seconds / max(interval_s, 1e-3)))
        )
        self._source = "CPU"
        self._lock = threading.Lock()

    def add(self, sample: StatsSample) -> None:
        gpus = [gpu for gpu in sample.gpus if not gpu.error]
        if gpus:
            util = _most(gpu.util_percent for gpu in gpus)
            temp = _most(gpu.temp_c for gpu in gpus)
        else:
            util, temp = sample.cpu.util_percent, sample.cpu.temp_c
        with self._lock:
            self._source = "GPU" if gpus else "CPU"
            self._points.append((util, temp, sample.power_w))

    def series(self) -> Series:
        with self._lock:
            points, source = list(self._points), self._source
        return Series(
            source,
            tuple(p[0] for p in points if p[0] is not None),
            tuple(p[1] for p in points if p[1] is not None),
            tuple(p[2] for p in points if p[2] is not None),
        )


def _most(values) -> float | None:
    known = [value for value in values if value is not None]
    return max(known) if known else None
