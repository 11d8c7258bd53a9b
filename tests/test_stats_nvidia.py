"""The NVIDIA reader against a double of pynvml: several GPUs, missing metrics, failures mid-session."""

from __future__ import annotations

import pynvml
import pytest

from tests.fake_nvml import DRIVER_NOT_LOADED, GPU_IS_LOST, LIBRARY_NOT_FOUND, UNKNOWN, FakeGpu, FakeNvml
from tui.stats.alerts import alerts_for
from tui.stats.nvidia import NvidiaReader
from tui.stats.sampler import Sampler


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def reader_for(nvml: FakeNvml, **kwargs) -> NvidiaReader:
    names = {1234: "python3", 4321: "ollama_llama_server", 77: "Xorg"}
    return NvidiaReader(nvml, process_name=lambda pid: names.get(pid, f"pid {pid}"), **kwargs)


def test_several_gpus_with_every_metric() -> None:
    nvml = FakeNvml(
        FakeGpu(name=b"NVIDIA GeForce RTX 4090", processes=[(77, 300 * 2**20), (1234, 6 * 2**30)]),
        FakeGpu(name="NVIDIA RTX A6000", util=90, temp=83, reasons=0x20 | 0x04, processes=[(4321, None)]),
    )
    part = reader_for(nvml, owned_pids=lambda: {1234}).read()
    first, second = part.gpus
    assert (first.index, first.vendor, first.name) == (0, "nvidia", "NVIDIA GeForce RTX 4090")  # bytes decoded
    assert first.util_percent == 40 and first.vram_used == 8 * 2**30 and first.vram_total == 24 * 2**30
    assert first.temp_c == 60 and first.temp_slowdown_c == 87
    assert first.power_w == 250 and first.power_limit_w == 450 and first.fan_percent == 35
    assert (first.sm_clock_mhz, first.mem_clock_mhz) == (2520, 10501)
    assert first.throttle == ()
    # The engine's own process comes first and is marked; others follow by VRAM held.
    assert [(p.pid, p.name, p.ours) for p in first.processes] == [(1234, "python3", True), (77, "Xorg", False)]
    assert first.processes[0].vram_bytes == 6 * 2**30
    # An Ollama runner is the model too, even though lchat did not start it.
    assert second.processes[0].ours and second.processes[0].vram_bytes is None
    assert set(second.throttle) == {"thermal", "power"}
    assert not part.absent and not part.problems


def test_unsupported_metrics_are_left_out_quietly_and_asked_once() -> None:
    datacenter = FakeGpu(name="NVIDIA H100", fan=None, sm_mhz=None, mem_mhz=None, limit_mw=None)
    nvml = FakeNvml(datacenter)
    reader = reader_for(nvml)
    for _ in range(3):
        (gpu,) = reader.read().gpus
        assert gpu.fan_percent is None and gpu.sm_clock_mhz is None and gpu.power_limit_w is None
        assert gpu.power_w == 250 and gpu.temp_c == 60
    assert nvml.calls["nvmlDeviceGetFanSpeed"] == 1
    assert nvml.calls["nvmlDeviceGetUtilizationRates"] == 3
    # Name and slowdown threshold never change: read once.
    assert nvml.calls["nvmlDeviceGetName"] == 1


def test_an_older_driver_without_clock_event_reasons_falls_back() -> None:
    class OldDriver(FakeNvml):
        def nvmlDeviceGetCurrentClocksThrottleReasons(self, handle: int) -> int:
            return 0x40

    nvml = OldDriver(FakeGpu())
    nvml.fail["nvmlDeviceGetCurrentClocksEventReasons"] = pynvml.NVML_ERROR_FUNCTION_NOT_FOUND
    reader = reader_for(nvml)
    for _ in range(2):
        (gpu,) = reader.read().gpus
        assert gpu.throttle == ("thermal",)
    assert nvml.calls["nvmlDeviceGetCurrentClocksEventReasons"] == 1


def test_a_transient_error_costs_one_metric_once() -> None:
    nvml = FakeNvml(FakeGpu())
    reader = reader_for(nvml)
    nvml.fail["nvmlDeviceGetPowerUsage"] = UNKNOWN
    (gpu,) = reader.read().gpus
    assert gpu.power_w is None and gpu.temp_c == 60
    del nvml.fail["nvmlDeviceGetPowerUsage"]
    (gpu,) = reader.read().gpus
    assert gpu.power_w == 250  # asked again: unknown errors are not remembered as "unsupported"


def test_a_lost_gpu_is_reported_and_the_others_still_read() -> None:
    nvml = FakeNvml(FakeGpu(name="first"), FakeGpu(name="second"))
    reader = reader_for(nvml)
    reader.read()
    nvml.gpus[0].lost = True
    sample = Sampler([reader], None).sample()
    lost, fine = sample.gpus
    assert lost.error == str(pynvml.NVMLError(GPU_IS_LOST)) and lost.name == "first"
    assert fine.error == "" and fine.util_percent == 40
    assert any("GPU0 stopped answering" in alert.text and alert.severe for alert in alerts_for(sample))


def test_driver_that_disappears_mid_session_then_comes_back() -> None:
    clock = Clock()
    nvml = FakeNvml(FakeGpu())
    reader = reader_for(nvml, clock=clock, retry_s=30)
    assert len(reader.read().gpus) == 1
    nvml.driver_gone = True
    gone = reader.read()
    assert gone.gpus == () and len(gone.problems) == 1
    assert "stopped answering" in gone.problems[0] and "Driver Not Loaded" in gone.problems[0]
    assert nvml.calls["nvmlShutdown"] == 1
    # Until the retry time, NVML is not touched at all.
    nvml.driver_gone = False
    calls = sum(nvml.calls.values())
    assert reader.read().problems == gone.problems
    assert sum(nvml.calls.values()) == calls
    clock.now += 31
    back = reader.read()
    assert len(back.gpus) == 1 and not back.problems
    assert nvml.calls["nvmlInit"] == 2


def test_no_driver_is_one_line_never_an_error() -> None:
    nvml = FakeNvml(init_error=LIBRARY_NOT_FOUND)
    part = reader_for(nvml).read()
    assert part.gpus == () and part.problems == ()
    assert part.absent == ("no NVIDIA driver (NVML Shared Library Not Found)",)
    sample = Sampler([reader_for(nvml)], None).sample()
    assert sample.missing == ("no NVIDIA driver (NVML Shared Library Not Found)",)


def test_driver_not_loaded_at_start_counts_as_absent() -> None:
    part = reader_for(FakeNvml(init_error=DRIVER_NOT_LOADED)).read()
    assert part.absent and not part.problems


def test_no_permission_at_start_is_a_problem_not_an_absence() -> None:
    part = reader_for(FakeNvml(init_error=pynvml.NVML_ERROR_NO_PERMISSION)).read()
    assert part.problems == ("NVIDIA driver: Insufficient Permissions",) and not part.absent


def test_process_listing_refused_leaves_processes_out() -> None:
    nvml = FakeNvml(FakeGpu(processes=[(1234, 2**30)]))
    nvml.fail["nvmlDeviceGetComputeRunningProcesses"] = pynvml.NVML_ERROR_NO_PERMISSION
    (gpu,) = reader_for(nvml).read().gpus
    assert gpu.processes == () and gpu.util_percent == 40


def test_absent_nvidia_is_not_mentioned_when_another_gpu_was_found() -> None:
    from tui.stats.fake import ScriptedReader
    from tui.stats.sample import GpuReading, Partial

    amd = ScriptedReader(Partial(gpus=(GpuReading(0, "amd", "Radeon"),)))
    sample = Sampler([reader_for(FakeNvml(init_error=LIBRARY_NOT_FOUND)), amd], None).sample()
    assert [gpu.name for gpu in sample.gpus] == ["Radeon"] and sample.missing == ()


@pytest.mark.parametrize("raw, expected", [(b"Tesla T4", "Tesla T4"), ("A100-SXM4-80GB", "A100-SXM4-80GB")])
def test_names_as_bytes_or_text(raw, expected) -> None:
    (gpu,) = reader_for(FakeNvml(FakeGpu(name=raw))).read().gpus
    assert gpu.name == expected


def test_close_shuts_nvml_down() -> None:
    nvml = FakeNvml(FakeGpu())
    reader = reader_for(nvml)
    reader.read()
    reader.close()
    assert not nvml.initialised
