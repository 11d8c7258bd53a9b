"""What hardware sampling costs: process CPU time per sample against an idle baseline.

    python -m bench.stats_sampling [--samples 200] [--interval 0.02]

Samples are taken faster than the pane's 1 Hz so the figure settles in seconds; the cost per
sample is then stated as a share of one core at 1 Hz. The "4 NVIDIA GPUs" line drives the NVIDIA
reader with a stand-in for the NVML library (its C calls are microseconds), so it measures the
reader's own Python work, not the driver's.
"""

from __future__ import annotations

import argparse
import threading
import time
from types import SimpleNamespace

from tui.stats import build_monitor
from tui.stats.alerts import alerts_for
from tui.stats.amd import AmdReader
from tui.stats.cpu import CpuReader
from tui.stats.monitor import StatsMonitor
from tui.stats.nvidia import NvidiaReader
from tui.stats.sampler import Sampler


class StubNvml:
    """Just enough of pynvml for four busy GPUs with two processes each."""

    def __getattr__(self, name: str):
        values = {
            "nvmlDeviceGetCount": 4,
            "nvmlDeviceGetName": "NVIDIA H100 80GB HBM3",
            "nvmlDeviceGetUtilizationRates": SimpleNamespace(gpu=97, memory=60),
            "nvmlDeviceGetMemoryInfo": SimpleNamespace(used=70 * 2**30, total=80 * 2**30),
            "nvmlDeviceGetTemperature": 71,
            "nvmlDeviceGetTemperatureThreshold": 87,
            "nvmlDeviceGetPowerUsage": 650_000,
            "nvmlDeviceGetEnforcedPowerLimit": 700_000,
            "nvmlDeviceGetFanSpeed": 40,
            "nvmlDeviceGetClockInfo": 1980,
            "nvmlDeviceGetCurrentClocksEventReasons": 0x04,
            "nvmlDeviceGetComputeRunningProcesses": [
                SimpleNamespace(pid=1, usedGpuMemory=2**34),
                SimpleNamespace(pid=2, usedGpuMemory=2**30),
            ],
            "nvmlDeviceGetGraphicsRunningProcesses": [],
        }
        if name in ("nvmlInit", "nvmlShutdown"):
            return lambda: None
        if name == "nvmlDeviceGetHandleByIndex":
            return lambda index: index
        value = values[name]
        return lambda *args: value


def measure(monitor: StatsMonitor, samples: int) -> tuple[float, float]:
    """Process CPU seconds per sample (listener included, as the app's feed does), and wall seconds."""
    done = threading.Event()
    count = 0

    def listener(sample) -> None:
        nonlocal count
        alerts_for(sample)
        monitor.history.series()
        count += 1
        if count >= samples:
            done.set()

    cpu, wall = time.process_time(), time.monotonic()
    stop = monitor.subscribe(listener)
    done.wait()
    stop()
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    monitor.close()
    return cpu / samples, wall


def idle_cpu(seconds: float) -> float:
    """Process CPU spent while this process only sleeps for `seconds` (interpreter noise)."""
    cpu = time.process_time()
    time.sleep(seconds)
    return time.process_time() - cpu


async def pane_update_cpu(updates: int, *, post: bool = True) -> float:
    """Process CPU seconds for the pane to take in one sample of four GPUs and repaint (headless).

    With `post` False it measures the same loop without samples: Pilot's own cost, the baseline.
    """
    from textual.app import App, ComposeResult

    from tui.stats.history import StatsHistory
    from tui.ui.widgets.stats_pane import StatsPane, StatsSampled

    class Host(App[None]):
        def compose(self) -> ComposeResult:
            yield StatsPane()

    sampler = Sampler([NvidiaReader(StubNvml(), process_name=lambda pid: "python3")], CpuReader())
    history = StatsHistory(300, 1)
    samples = [sampler.sample() for _ in range(updates)]
    app = Host()
    async with app.run_test(size=(40, 60)) as pilot:
        pane = app.query_one(StatsPane)
        await pilot.pause()
        cpu = time.process_time()
        for sample in samples:
            history.add(sample)
            if post:
                pane.post_message(StatsSampled(sample, history.series(), alerts_for(sample)))
            await pilot.pause()
        return (time.process_time() - cpu) / updates


def line(label: str, per_sample_s: float, baseline_per_sample_s: float) -> str:
    net = max(0.0, per_sample_s - baseline_per_sample_s)
    return f"  {label:<34} {net * 1000:7.3f} ms CPU a sample  = {net * 100:6.3f} % of one core at 1 Hz"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between samples while measuring")
    parser.add_argument("--ui", action="store_true", help="also measure the pane taking in a sample (Textual)")
    args = parser.parse_args()

    real = build_monitor(args.interval)
    real.sample_now()  # first reads find the files and start NVML; not what each second costs
    per_real, wall = measure(real, args.samples)
    baseline = idle_cpu(wall) / args.samples
    stub_sampler = Sampler([NvidiaReader(StubNvml(), process_name=lambda pid: "python3"), AmdReader()], CpuReader())
    stubbed = StatsMonitor(stub_sampler, interval_s=args.interval)
    stubbed.sample_now()
    per_stub, _ = measure(stubbed, args.samples)
    found = real.latest
    gpus = ", ".join(gpu.name for gpu in found.gpus) if found and found.gpus else "no GPU"
    print(f"stats sampling cost, {args.samples} samples every {args.interval * 1000:.0f} ms ({gpus})")
    print(f"  {'idle baseline':<34} {baseline * 1000:7.3f} ms CPU per sampling period")
    print(line("this machine's readers", per_real, baseline))
    print(line("with 4 NVIDIA GPUs (NVML stand-in)", per_stub, baseline))
    if args.ui:
        import asyncio

        per_update = asyncio.run(pane_update_cpu(50))
        print(line("stats pane update and repaint", per_update, asyncio.run(pane_update_cpu(50, post=False))))
    if found and found.missing:
        print("  (not readable here: " + "; ".join(found.missing) + ")")


if __name__ == "__main__":
    main()
