"""Hardware statistics: readers for NVIDIA (NVML), AMD (sysfs) and the CPU, sampled off the UI thread.

Nothing here imports Textual; nothing touches hardware until the first sample.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tui.config import Config
from tui.stats.monitor import StatsMonitor
from tui.stats.sampler import Sampler


def build_monitor(
    interval_s: float = 1.0,
    history_s: float = 300.0,
    *,
    owned_pids: Callable[[], set[int]] = set,
    owned_vram: Callable[[int], int | None] | None = None,
    root: Path | str = "/",
) -> StatsMonitor:
    """A monitor over this machine's real hardware; `owned_pids` names the engine's processes and
    `owned_vram` (optional) the VRAM they allocated on GPU n, shown when a container hides their pids.
    Processes the engines declare as their models' (Ollama's runners) are marked too."""
    from tui.engines.registry import model_processes
    from tui.stats.amd import AmdReader
    from tui.stats.cpu import CpuReader
    from tui.stats.nvidia import NvidiaReader

    nvidia = NvidiaReader(owned_pids=owned_pids, owned_vram=owned_vram, model_processes=model_processes())
    sampler = Sampler([nvidia, AmdReader(root)], CpuReader(root))
    return StatsMonitor(sampler, interval_s=interval_s, history_s=history_s)


def monitor_for(
    config: Config,
    owned_pids: Callable[[], set[int]] = set,
    owned_vram: Callable[[int], int | None] | None = None,
) -> StatsMonitor | None:
    """The monitor the [stats] section asks for; None when stats are switched off."""
    settings = config.stats
    if not settings.enabled:
        return None
    return build_monitor(settings.interval_s, settings.history_s, owned_pids=owned_pids, owned_vram=owned_vram)
