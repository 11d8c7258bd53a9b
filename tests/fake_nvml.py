"""A double of the `pynvml` module: GPUs described as data, failures switched on per call.

Errors are pynvml's own NVMLError (its subclasses per code), so the reader sees what it
would see from the real library.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pynvml

NVMLError = pynvml.NVMLError
NOT_SUPPORTED = pynvml.NVML_ERROR_NOT_SUPPORTED
GPU_IS_LOST = pynvml.NVML_ERROR_GPU_IS_LOST
DRIVER_NOT_LOADED = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
LIBRARY_NOT_FOUND = pynvml.NVML_ERROR_LIBRARY_NOT_FOUND
UNKNOWN = pynvml.NVML_ERROR_UNKNOWN


@dataclass
class FakeGpu:
    """One card; a metric set to None answers NOT_SUPPORTED, like a fan on a datacenter card."""

    name: str | bytes = "NVIDIA GeForce RTX 4090"
    util: int = 40
    used: int = 8 * 2**30
    total: int = 24 * 2**30
    temp: int | None = 60
    slowdown: int | None = 87
    power_mw: int | None = 250_000
    limit_mw: int | None = 450_000
    fan: int | None = 35
    sm_mhz: int | None = 2520
    mem_mhz: int | None = 10501
    reasons: int = 0
    processes: list[tuple[int, int | None]] = field(default_factory=list)
    """(pid, used bytes) of compute processes."""
    lost: bool = False


class FakeNvml:
    """Stands in for `import pynvml`; `fail[function] = code` makes that function raise."""

    NVMLError = NVMLError

    def __init__(self, *gpus: FakeGpu, init_error: int | None = None) -> None:
        self.gpus = list(gpus)
        self.init_error = init_error
        self.fail: dict[str, int] = {}
        self.calls: Counter[str] = Counter()
        self.initialised = False
        self.driver_gone = False

    def _enter(self, function: str) -> None:
        self.calls[function] += 1
        if self.driver_gone:
            raise NVMLError(DRIVER_NOT_LOADED)
        if function in self.fail:
            raise NVMLError(self.fail[function])

    def _gpu(self, handle: int, function: str) -> FakeGpu:
        self._enter(function)
        gpu = self.gpus[handle]
        if gpu.lost:
            raise NVMLError(GPU_IS_LOST)
        return gpu

    @staticmethod
    def _supported(value: Any) -> Any:
        if value is None:
            raise NVMLError(NOT_SUPPORTED)
        return value

    def nvmlInit(self) -> None:
        self.calls["nvmlInit"] += 1
        if self.init_error is not None:
            raise NVMLError(self.init_error)
        self.initialised = True

    def nvmlShutdown(self) -> None:
        self.calls["nvmlShutdown"] += 1
        self.initialised = False

    def nvmlDeviceGetCount(self) -> int:
        self._enter("nvmlDeviceGetCount")
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:
        self._enter("nvmlDeviceGetHandleByIndex")
        if self.gpus[index].lost:
            raise NVMLError(GPU_IS_LOST)
        return index

    def nvmlDeviceGetName(self, handle: int) -> str | bytes:
        return self._gpu(handle, "nvmlDeviceGetName").name

    def nvmlDeviceGetUtilizationRates(self, handle: int) -> SimpleNamespace:
        return SimpleNamespace(gpu=self._gpu(handle, "nvmlDeviceGetUtilizationRates").util, memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> SimpleNamespace:
        gpu = self._gpu(handle, "nvmlDeviceGetMemoryInfo")
        return SimpleNamespace(used=gpu.used, total=gpu.total, free=gpu.total - gpu.used)

    def nvmlDeviceGetTemperature(self, handle: int, sensor: int) -> int:
        assert sensor == pynvml.NVML_TEMPERATURE_GPU
        return self._supported(self._gpu(handle, "nvmlDeviceGetTemperature").temp)

    def nvmlDeviceGetTemperatureThreshold(self, handle: int, threshold: int) -> int:
        assert threshold == pynvml.NVML_TEMPERATURE_THRESHOLD_SLOWDOWN
        return self._supported(self._gpu(handle, "nvmlDeviceGetTemperatureThreshold").slowdown)

    def nvmlDeviceGetPowerUsage(self, handle: int) -> int:
        return self._supported(self._gpu(handle, "nvmlDeviceGetPowerUsage").power_mw)

    def nvmlDeviceGetEnforcedPowerLimit(self, handle: int) -> int:
        return self._supported(self._gpu(handle, "nvmlDeviceGetEnforcedPowerLimit").limit_mw)

    def nvmlDeviceGetFanSpeed(self, handle: int) -> int:
        return self._supported(self._gpu(handle, "nvmlDeviceGetFanSpeed").fan)

    def nvmlDeviceGetClockInfo(self, handle: int, clock: int) -> int:
        gpu = self._gpu(handle, "nvmlDeviceGetClockInfo")
        return self._supported(gpu.sm_mhz if clock == pynvml.NVML_CLOCK_SM else gpu.mem_mhz)

    def nvmlDeviceGetCurrentClocksEventReasons(self, handle: int) -> int:
        return self._gpu(handle, "nvmlDeviceGetCurrentClocksEventReasons").reasons

    def nvmlDeviceGetComputeRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        gpu = self._gpu(handle, "nvmlDeviceGetComputeRunningProcesses")
        return [SimpleNamespace(pid=pid, usedGpuMemory=used) for pid, used in gpu.processes]

    def nvmlDeviceGetGraphicsRunningProcesses(self, handle: int) -> list[SimpleNamespace]:
        self._gpu(handle, "nvmlDeviceGetGraphicsRunningProcesses")
        return []
