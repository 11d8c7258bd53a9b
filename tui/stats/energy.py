"""The energy one answer took, integrated from the power samples taken while it was generated."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

from tui.stats.monitor import StatsMonitor
from tui.stats.sample import StatsSample


class Measurement(Protocol):
    """One answer's measurement; `end` returns watt-hours, or None when no power was readable."""

    def end(self) -> float | None: ...


class EnergySource(Protocol):
    """What ChatService needs: something that starts a measurement (no hardware in sight)."""

    def begin(self) -> Measurement: ...


def integrate_wh(points: Sequence[tuple[float, float]], start: float, end: float) -> float | None:
    """Watt-hours from `start` to `end` given (time, watts) points.

    Power is taken as linear between points and flat before the first and after the last one,
    so a short answer between two samples still gets a fair figure.
    """
    if not points or end < start:
        return None
    points = sorted(points)
    times = [t for t, _ in points]

    def power_at(t: float) -> float:
        i = bisect.bisect_left(times, t)
        if i == 0:
            return points[0][1]
        if i == len(points):
            return points[-1][1]
        (t0, p0), (t1, p1) = points[i - 1], points[i]
        return p0 + (p1 - p0) * (t - t0) / (t1 - t0) if t1 > t0 else p1

    knots = [start, *(t for t in times if start < t < end), end]
    joules = sum((power_at(a) + power_at(b)) / 2 * (b - a) for a, b in zip(knots, knots[1:]))
    return joules / 3600


class EnergyMeter:
    """Starts measurements on a `StatsMonitor`; sampling runs while any measurement does."""

    def __init__(self, monitor: StatsMonitor, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.monitor = monitor
        self._clock = clock

    def begin(self) -> EnergyRun:
        return EnergyRun(self.monitor, self._clock)


class EnergyRun:
    """Collects power samples from `begin` to `end`."""

    def __init__(self, monitor: StatsMonitor, clock: Callable[[], float]) -> None:
        self._monitor = monitor
        self._clock = clock
        self._points: list[tuple[float, float]] = []
        self._lock = threading.Lock()
        self._result: float | None = None
        self._ended = False
        self.start = clock()
        latest = monitor.latest
        if latest is not None and self.start - latest.time <= 2 * monitor.interval_s:
            self._add(latest)  # the sample just before: an answer may be shorter than the interval
        monitor.generation_started()
        self._unsubscribe = monitor.subscribe(self._add)

    def _add(self, sample: StatsSample) -> None:
        power = sample.model_power_w
        if power is not None:
            with self._lock:
                self._points.append((sample.time, power))

    def end(self) -> float | None:
        """Stop collecting; the answer's energy in watt-hours (the same figure if called again)."""
        if not self._ended:
            self._ended = True
            stop = self._clock()
            self._unsubscribe()
            self._monitor.generation_ended()
            with self._lock:
                points = list(self._points)
            self._result = integrate_wh(points, self.start, stop)
        return self._result
