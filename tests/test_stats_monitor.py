"""Sampling: merging readers, the sampling thread, history, warnings, and `lchat stats`."""

from __future__ import annotations

import json
import threading
import time

import pytest

from tests.fake_monitor import ScriptedReader, scripted_monitor
from tui.config import StatsConfig
from tui.stats.alerts import Limits, alerts_for
from tui.stats.history import StatsHistory
from tui.stats.monitor import StatsMonitor
from tui.stats.sample import CpuReading, GpuReading, Partial, StatsSample
from tui.stats.sampler import Sampler


def gpu(**figures) -> GpuReading:
    return GpuReading(index=0, vendor="nvidia", name="test GPU", **figures)


def sample(*gpus: GpuReading, cpu: CpuReading | None = None, generating: bool = False) -> StatsSample:
    return StatsSample(time=0, wall=0, gpus=gpus, cpu=cpu or CpuReading(), generating=generating)


# Sampler


def test_readers_are_merged_and_gpus_numbered_in_order() -> None:
    nvidia = ScriptedReader(Partial(gpus=(gpu(), GpuReading(1, "nvidia", "second"))))
    amd = ScriptedReader(Partial(gpus=(GpuReading(0, "amd", "radeon"),)))
    cpu = ScriptedReader(Partial(cpu=CpuReading(util_percent=12), absent=("no CPU temperature sensor",)))
    taken = Sampler([nvidia, amd], cpu).sample()
    assert [(g.index, g.name) for g in taken.gpus] == [(0, "test GPU"), (1, "second"), (2, "radeon")]
    assert taken.cpu.util_percent == 12 and taken.missing == ("no CPU temperature sensor",)


def test_a_reader_that_raises_becomes_a_line() -> None:
    class Broken:
        def read(self):
            raise ValueError("bad sysfs value")

        def close(self):
            raise OSError("and closing fails too")

    sampler = Sampler([Broken()], ScriptedReader(Partial(cpu=CpuReading(util_percent=1))))
    taken = sampler.sample()
    assert taken.missing == ("Broken failed: bad sysfs value",) and taken.cpu.util_percent == 1
    sampler.close()


def test_power_adds_gpus_and_cpu_package() -> None:
    assert sample(gpu(power_w=200), gpu(power_w=100), cpu=CpuReading(package_power_w=40)).power_w == 340
    assert sample(gpu(), cpu=CpuReading()).power_w is None
    assert sample(gpu(power_w=0.0)).power_w == 0


# Monitor


def test_thread_samples_while_someone_listens_and_stops_after() -> None:
    monitor = scripted_monitor([[gpu(util_percent=50)]], interval_s=0.01)
    seen: list[StatsSample] = []
    got_three = threading.Event()

    def listener(taken: StatsSample) -> None:
        assert threading.current_thread().name == "lchat-stats"
        seen.append(taken)
        if len(seen) >= 3:
            got_three.set()

    assert not monitor.running
    stop = monitor.subscribe(listener)
    assert got_three.wait(5)
    stop()
    assert not monitor.running
    count = len(seen)
    time.sleep(0.05)
    assert len(seen) <= count + 1  # at most the one in flight
    assert monitor.latest is not None and monitor.sampling_cpu_s >= 0
    monitor.close()
    assert monitor.sampler.cpu_reader.closed


def test_a_failing_listener_does_not_stop_the_others() -> None:
    monitor = scripted_monitor(threaded=False)
    seen = []
    monitor.subscribe(lambda s: 1 / 0)
    monitor.subscribe(seen.append)
    monitor.tick()
    assert len(seen) == 1


def test_history_keeps_the_last_minutes_of_gpu_figures() -> None:
    steps = [[gpu(util_percent=u, temp_c=50 + u, power_w=100 + u)] for u in range(10)]
    monitor = scripted_monitor(steps, interval_s=1, history_s=5, threaded=False)
    for _ in range(10):
        monitor.tick()
    series = monitor.history.series()
    assert series.source == "GPU"
    assert series.util == (5, 6, 7, 8, 9) and series.temp == (55, 56, 57, 58, 59)
    assert series.power[-1] == 109 + 0  # the scripted CPU has no package power


def test_history_falls_back_to_the_cpu_and_skips_gaps() -> None:
    history = StatsHistory(60, 1)
    history.add(sample(cpu=CpuReading(util_percent=10, temp_c=None)))
    history.add(sample(cpu=CpuReading(util_percent=20, temp_c=45)))
    series = history.series()
    assert (series.source, series.util, series.temp, series.power) == ("CPU", (10, 20), (45,), ())


# Warnings


@pytest.mark.parametrize("temp, expected", [(80, None), (82, False), (87, True), (91, True)])
def test_temperature_near_and_past_slowdown(temp, expected) -> None:
    alerts = alerts_for(sample(gpu(temp_c=temp, temp_slowdown_c=87)), Limits(temp_margin_c=5))
    if expected is None:
        assert alerts == []
    else:
        (alert,) = alerts
        assert alert.severe is expected and f"{temp}°C" in alert.text


def test_throttling_vram_and_swap() -> None:
    taken = sample(
        gpu(throttle=("thermal", "power"), vram_used=96, vram_total=100),
        cpu=CpuReading(swap_io_bytes_s=4 * 2**20),
        generating=True,
    )
    texts = [alert.text for alert in alerts_for(taken)]
    assert "GPU0 throttling (thermal)" in texts and "GPU0 throttling (power)" in texts
    assert "GPU0 VRAM 96% full" in texts
    assert any(text.startswith("swapping while generating (4.0 MiB/s)") for text in texts)
    assert alerts_for(taken)[0].severe  # severe ones first
    # Swap moving while idle is not lchat's business.
    idle = sample(cpu=CpuReading(swap_io_bytes_s=4 * 2**20), generating=False)
    assert alerts_for(idle) == []


def test_cpu_near_its_limit() -> None:
    (alert,) = alerts_for(sample(cpu=CpuReading(temp_c=97, temp_high_c=100)))
    assert "CPU at 97°C" in alert.text and not alert.severe


# lchat stats


def cli_monitor(**kwargs) -> StatsMonitor:
    return scripted_monitor(
        [[gpu(util_percent=77, temp_c=85, temp_slowdown_c=87, power_w=123.4)]],
        CpuReading(util_percent=9, ram_used=2**30, ram_total=2**34),
        **kwargs,
    )


def test_stats_command_prints_one_snapshot(monkeypatch, capsys) -> None:
    import tui.stats
    from tui.cli import main

    monkeypatch.setattr(tui.stats, "build_monitor", lambda *a, **k: cli_monitor())
    monkeypatch.setattr("tui.cli.commands.stats.SETTLE_S", 0)
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "• GPU0 at 85°C, near slowdown at 87°C" in out
    assert "GPU0 test GPU" in out and "util 77%" in out and "123 W" in out and "CPU 9%" in out


def test_stats_command_json_and_watch(monkeypatch, capsys) -> None:
    import tui.stats
    from tui.cli import main

    monkeypatch.setattr(tui.stats, "build_monitor", lambda *a, **k: cli_monitor())
    monkeypatch.setattr("tui.cli.commands.stats.SETTLE_S", 0)
    assert main(["stats", "--json", "--watch", "0.01", "--count", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    first = json.loads(lines[0])
    assert first["gpus"][0]["util_percent"] == 77 and first["power_w"] == pytest.approx(123.4)
    assert first["cpu"]["ram_total"] == 2**34 and first["alerts"][0]["severe"] is False
    assert isinstance(first["time"], float) and first["missing"] == []


def test_stats_command_stops_cleanly_on_ctrl_c() -> None:
    from io import StringIO

    from tui.cli.commands.stats import run_stats

    monitor = cli_monitor()
    calls = 0

    class Interrupting(StringIO):
        def flush(self) -> None:
            nonlocal calls
            calls += 1
            if calls == 2:
                raise KeyboardInterrupt

    assert run_stats(monitor, StatsConfig(interval_s=0.01), watch=0.0, out=Interrupting(), settle_s=0) == 0
    assert monitor.sampler.cpu_reader.closed
