"""Download progress for people: bytes, rate over the last seconds, time left."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from tui.fit.units import gb

WINDOW_S = 5.0
"""The rate is measured over this many recent seconds."""


class TransferMeter:
    """Turns (completed, total) samples into "1.2 GB / 4.1 GB · 35.0 MB/s · 1:23 left"."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._total: int | None = None

    def update(self, completed: int | None, total: int | None) -> None:
        if completed is None:
            return
        if total != self._total or (self._samples and completed < self._samples[-1][1]):
            self._samples.clear()  # A new file or layer starts from zero.
            self._total = total
        now = self._clock()
        self._samples.append((now, completed))
        while len(self._samples) > 2 and now - self._samples[0][0] > WINDOW_S:
            self._samples.popleft()

    def rate(self) -> float | None:
        """Bytes per second, once two samples are apart in time."""
        if len(self._samples) < 2:
            return None
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else None

    def eta(self) -> float | None:
        rate = self.rate()
        if not rate or not self._total or not self._samples:
            return None
        return max(0.0, (self._total - self._samples[-1][1]) / rate)

    def text(self) -> str:
        if not self._samples:
            return ""
        done = self._samples[-1][1]
        parts = [f"{gb(done)} / {gb(self._total)}" if self._total else gb(done)]
        rate, eta = self.rate(), self.eta()
        if rate:
            parts.append(f"{gb(int(rate))}/s")
        if eta is not None:
            parts.append(f"{duration(eta)} left")
        return " · ".join(parts)


def duration(seconds: float) -> str:
    """1:23 or 1:02:03."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"
