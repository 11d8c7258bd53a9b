"""Stats readers that read no hardware, for the tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from tui.stats.monitor import StatsMonitor
from tui.stats.sample import CpuReading, GpuReading, Partial
from tui.stats.sampler import Sampler


class ScriptedReader:
    """Returns its partials in turn, then the last one for ever; `script` may be changed live."""

    def __init__(self, *script: Partial) -> None:
        self.script: list[Partial] = list(script) or [Partial()]
        self.reads = 0
        self.closed = False

    def read(self) -> Partial:
        partial = self.script[min(self.reads, len(self.script) - 1)]
        self.reads += 1
        return partial

    def close(self) -> None:
        self.closed = True


def scripted_monitor(
    gpus: Sequence[Sequence[GpuReading]] = ((),),
    cpu: CpuReading | None = None,
    *,
    interval_s: float = 1.0,
    history_s: float = 60.0,
    threaded: bool = True,
    clock: Callable[[], float] = time.monotonic,
) -> StatsMonitor:
    """A monitor whose GPU reader plays `gpus` (one tuple per sample) and whose CPU is `cpu`."""
    gpu_reader = ScriptedReader(
        *(Partial(gpus=tuple(step)) if step else Partial(absent=("scripted: no GPU",)) for step in gpus)
    )
    cpu_reader = ScriptedReader(Partial(cpu=cpu or CpuReading(util_percent=5.0, ram_used=2**30, ram_total=2**33)))
    return StatsMonitor(
        Sampler([gpu_reader], cpu_reader, clock=clock), interval_s=interval_s, history_s=history_s, threaded=threaded
    )
