"""Sampling off the caller's thread, at a steady interval, for as long as anyone listens."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tui.stats.history import StatsHistory
from tui.stats.sample import StatsSample
from tui.stats.sampler import Sampler

logger = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.05
Listener = Callable[[StatsSample], None]


class StatsMonitor:
    """Runs a `Sampler` in a daemon thread while listeners are subscribed; keeps the recent history.

    Listeners are called on the sampling thread: they must hand samples on (post a message),
    not touch a UI.
    """

    def __init__(
        self, sampler: Sampler, *, interval_s: float = 1.0, history_s: float = 300.0, threaded: bool = True
    ) -> None:
        self.sampler = sampler
        self.threaded = threaded
        """Sample on a thread of its own; tests turn it off and call `tick` themselves."""
        self.interval_s = max(MIN_INTERVAL_S, interval_s)
        self.history = StatsHistory(history_s, self.interval_s)
        self.latest: StatsSample | None = None
        """The newest sample, from whichever thread took it."""
        self.samples_taken = 0
        self.sampling_cpu_s = 0.0
        """CPU time the sampling thread spent reading hardware, summed (for the benchmark)."""
        self._listeners: list[Listener] = []
        self._generating = 0
        self._lock = threading.Lock()
        self._sample_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and not self._stop.is_set()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` with every sample from now on; returns the function that stops it."""
        with self._lock:
            self._listeners.append(listener)
            if self.threaded and not self._closed and (self._thread is None or self._stop.is_set()):
                self._stop = threading.Event()
                self._thread = threading.Thread(target=self._run, args=(self._stop,), name="lchat-stats", daemon=True)
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)
                if not self._listeners:
                    self._stop.set()

        return unsubscribe

    def generation_started(self) -> None:
        with self._lock:
            self._generating += 1

    def generation_ended(self) -> None:
        with self._lock:
            self._generating = max(0, self._generating - 1)

    def sample_now(self) -> StatsSample:
        """Take one sample on the calling thread (for `lchat stats`)."""
        started = time.thread_time()
        with self._sample_lock:
            sample = self.sampler.sample(generating=self._generating > 0)
        self.sampling_cpu_s += time.thread_time() - started
        self.samples_taken += 1
        self.latest = sample
        self.history.add(sample)
        return sample

    def close(self) -> None:
        """Stop sampling and release the readers (NVML)."""
        with self._lock:
            self._closed = True
            self._listeners.clear()
            self._stop.set()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2 * self.interval_s + 1)
        with self._sample_lock:
            self.sampler.close()

    def tick(self) -> StatsSample:
        """Take a sample and hand it to every listener (the sampling thread's work, once)."""
        sample = self.sample_now()
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(sample)
            except Exception:  # noqa: BLE001 - one bad listener must not stop the others
                logger.exception("stats listener %r failed", listener)
        return sample

    def _run(self, stop: threading.Event) -> None:
        next_at = time.monotonic()
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the sampler already turns reader failures into lines
                logger.exception("stats sampling failed")
            next_at += self.interval_s
            now = time.monotonic()
            if next_at < now:  # fell behind (suspended laptop, slow driver): do not catch up in a burst
                next_at = now + self.interval_s
            stop.wait(next_at - now)
