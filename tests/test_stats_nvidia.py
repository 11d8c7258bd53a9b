"""The NVIDIA reader against a double of pynvml: several GPUs, missing metrics, failures mid-session."""

from __future__ import annotations

import os

import pynvml
import pytest

from tests.fake_nvml import DRIVER_NOT_LOADED, GPU_IS_LOST, LIBRARY_NOT_FOUND, UNKNOWN, FakeGpu, FakeNvml
from tui.engines.ollama.engine import OllamaEngine
from tui.stats.alerts import alerts_for
from tui.stats.nvidia import NvidiaReader
from tui.stats.report import gpu_lines
from tui.stats.sample import StatsSample
from tui.stats.sampler import Sampler


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


NAMES = {1234: "python3", 4321: "ollama_llama_server", 77: "Xorg"}
"""The processes this pid namespace has, by name."""


def reader_for(nvml: FakeNvml, **kwargs) -> NvidiaReader:
    kwargs.setdefault("pid_visible", lambda pid: True)  # the host: every pid NVML lists is ours to see
    return NvidiaReader(nvml, process_name=lambda pid: NAMES.get(pid, f"pid {pid}"), **kwargs)


def test_several_gpus_with_every_metric() -> None:
    nvml = FakeNvml(
        FakeGpu(name=b"NVIDIA GeForce RTX 4090", processes=[(77, 300 * 2**20), (1234, 6 * 2**30)]),
        FakeGpu(name="NVIDIA RTX A6000", util=90, temp=83, reasons=0x20 | 0x04, processes=[(4321, None)]),
    )
    part = reader_for(nvml, owned_pids=lambda: {1234}, model_processes=OllamaEngine.model_processes).read()
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
    from tests.fake_monitor import ScriptedReader
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


def container_reader(nvml: FakeNvml, **kwargs) -> NvidiaReader:
    """A reader in a container: only the pids in NAMES exist here, NVML lists the host's."""
    return reader_for(nvml, pid_visible=lambda pid: pid in NAMES, **kwargs)


def test_in_a_container_a_host_pid_is_not_taken_for_the_engine() -> None:
    """NVML lists host pid 48213 (the engine, seen from the host); the engine's pid here is 1234."""
    nvml = FakeNvml(FakeGpu(processes=[(48213, 6 * 2**30)]), FakeGpu(processes=[]))
    first, idle = container_reader(nvml, owned_pids=lambda: {1234}).read().gpus
    assert [(p.pid, p.name, p.ours, p.vram_bytes) for p in first.processes] == [(48213, "pid 48213", False, 6 * 2**30)]
    assert first.pids_hidden and first.owned_vram_bytes is None
    assert not idle.pids_hidden  # nothing listed there: nothing to say
    assert ("  lchat's pid hidden (container)", "dim") in gpu_lines(first)
    sample = StatsSample(0.0, 0.0, gpus=(first, idle))
    assert sample.model_power_w == 500  # no GPU known to be the model's: every GPU counts


def test_in_a_container_a_host_pid_equal_to_a_local_one_is_a_coincidence() -> None:
    """Host pid 1234 beside host pid 48213: the number 1234 here is another process, never the engine,
    and no local name is put on a host pid (4321 is an Ollama runner here, not there)."""
    nvml = FakeNvml(FakeGpu(processes=[(48213, 2**30), (1234, 3 * 2**30), (4321, None)]))
    (gpu,) = container_reader(nvml, owned_pids=lambda: {1234}).read().gpus
    assert not any(p.ours for p in gpu.processes) and gpu.pids_hidden
    assert {p.name for p in gpu.processes} == {"pid 48213", "pid 1234", "pid 4321"}
    lines = [text for text, _ in gpu_lines(gpu)]
    assert "◆" not in "".join(lines) and lines[-1] == "  lchat's pid hidden (container)"


def test_in_a_container_the_engines_own_vram_count_is_shown() -> None:
    """The hook for the VRAM the child says it allocated (per GPU), used only where its pid is hidden."""
    asked: list[int] = []

    def owned_vram(index: int) -> int | None:
        asked.append(index)
        return 5 * 2**30 if index == 0 else None

    nvml = FakeNvml(FakeGpu(processes=[(48213, 6 * 2**30)]))
    (gpu,) = container_reader(nvml, owned_pids=lambda: {1234}, owned_vram=owned_vram).read().gpus
    assert gpu.pids_hidden and gpu.owned_vram_bytes == 5 * 2**30 and asked == [0]
    assert gpu_lines(gpu)[-1] == ("◆ lchat 5.0 GiB (pid hidden)", "ours")
    assert all(len(text) <= 32 for text, _ in gpu_lines(gpu))
    # On the host the pid is found: the hook is not asked and no note is added.
    asked.clear()
    nvml = FakeNvml(FakeGpu(processes=[(1234, 6 * 2**30)]))
    (host,) = reader_for(nvml, owned_pids=lambda: {1234}, owned_vram=owned_vram).read().gpus
    assert host.processes[0].ours and not host.pids_hidden and host.owned_vram_bytes is None and asked == []


def test_in_a_container_with_no_engine_running_there_is_no_note() -> None:
    nvml = FakeNvml(FakeGpu(processes=[(48213, 2**30)]))
    (gpu,) = container_reader(nvml).read().gpus
    assert not gpu.pids_hidden and gpu.processes[0].name == "pid 48213"


def test_in_a_container_whose_pids_nvml_sees_the_engine_is_found() -> None:
    """A driver that reports this namespace's pids: every listed pid exists here, the normal case."""
    nvml = FakeNvml(FakeGpu(processes=[(1234, 6 * 2**30), (77, 2**20)]))
    (gpu,) = container_reader(nvml, owned_pids=lambda: {1234}).read().gpus
    assert [(p.pid, p.name, p.ours) for p in gpu.processes] == [(1234, "python3", True), (77, "Xorg", False)]
    assert not gpu.pids_hidden


def test_the_default_visibility_check_sees_this_process() -> None:
    from tui.stats import nvidia

    assert nvidia._pid_visible(os.getpid())
    beyond = 2**22 + 1  # above the kernel's largest pid_max: exists nowhere
    assert nvidia._pid_visible(beyond) == nvidia._pids_are_hosts()
