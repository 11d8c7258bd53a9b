"""NVIDIA GPUs through NVML (the `pynvml` module of nvidia-ml-py), tolerant of every failure."""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from tui.stats.sample import GpuProcess, GpuReading, Partial

logger = logging.getLogger(__name__)

# NVML's codes, copied so a fake module need not define them.
NOT_SUPPORTED, NO_PERMISSION, FUNCTION_NOT_FOUND = 3, 4, 13
UNINITIALIZED, DRIVER_NOT_LOADED, LIBRARY_NOT_FOUND, RM_VERSION_MISMATCH = 1, 9, 12, 18
GPU_IS_LOST, RESET_REQUIRED = 15, 16
UNAVAILABLE = {NOT_SUPPORTED, NO_PERMISSION, FUNCTION_NOT_FOUND}
"""A metric this card or this user will never get: asked once, then left out quietly."""
DRIVER_GONE = {UNINITIALIZED, DRIVER_NOT_LOADED, LIBRARY_NOT_FOUND, RM_VERSION_MISMATCH}
CARD_GONE = {GPU_IS_LOST, RESET_REQUIRED}

TEMPERATURE_GPU, THRESHOLD_SLOWDOWN, CLOCK_SM, CLOCK_MEM = 0, 1, 1, 2
THROTTLE_BITS = {
    "power": 0x04 | 0x80,  # software power cap, hardware power brake
    "thermal": 0x20 | 0x40,  # software and hardware thermal slowdown
    "hardware": 0x08,  # hardware slowdown (external signal)
}
RETRY_S = 30.0
"""After the driver went away, how long to wait before asking NVML again."""


class DriverGone(Exception):
    """NVML as a whole stopped answering."""


class CardGone(Exception):
    """One GPU fell off the bus or needs a reset."""


class NvidiaReader:
    """Reads every NVIDIA GPU; `nvml` is the pynvml module or a double of it."""

    def __init__(
        self,
        nvml: ModuleType | Any | None = None,
        *,
        owned_pids: Callable[[], set[int]] = set,
        process_name: Callable[[int], str] | None = None,
        pid_visible: Callable[[int], bool] | None = None,
        owned_vram: Callable[[int], int | None] | None = None,
        model_processes: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.monotonic,
        retry_s: float = RETRY_S,
    ) -> None:
        self._nvml = nvml
        self._owned_pids = owned_pids
        self._model_processes = model_processes
        """Name fragments of processes that run a model though lchat did not start them (Engine.model_processes)."""
        self._process_name = process_name or _process_name
        self._pid_visible = pid_visible or _pid_visible
        self.owned_vram = owned_vram
        """The VRAM the engine's child allocated on GPU n, by its own count (None: not known);
        shown where a container hides its pid from NVML."""
        self._clock = clock
        self._retry_s = retry_s
        self._ready = False
        self._why = ""
        self._absent = False
        self._retry_at = 0.0
        self._unavailable: set[tuple[int, str]] = set()
        self._static: dict[int, tuple[str, float | None]] = {}
        self._names: dict[int, str] = {}

    def read(self) -> Partial:
        if not self._ready and not self._start():
            return Partial(absent=(self._why,)) if self._absent else Partial(problems=(self._why,))
        try:
            count = self._call(-1, "count", "nvmlDeviceGetCount", required=True)
            return Partial(gpus=tuple(self._read_gpu(index) for index in range(count or 0)))
        except DriverGone as gone:
            self._stop(f"NVIDIA driver stopped answering ({gone}); retrying every {self._retry_s:.0f} s")
            return Partial(problems=(self._why,))

    def close(self) -> None:
        if self._ready:
            self._stop("closed")

    def _start(self) -> bool:
        if self._clock() < self._retry_at:
            return False
        nvml = self._nvml
        if nvml is None:
            try:
                import pynvml as installed
            except ImportError:
                self._absent, self._why = True, "no NVIDIA stats: nvidia-ml-py is not installed"
                self._retry_at = float("inf")
                return False
            self._nvml = nvml = installed
        try:
            nvml.nvmlInit()
        except Exception as error:  # noqa: BLE001 - any NVML failure means "no NVIDIA here"
            code = getattr(error, "value", None)
            self._absent = code in (LIBRARY_NOT_FOUND, DRIVER_NOT_LOADED) or code is None
            self._why = f"no NVIDIA driver ({error})" if self._absent else f"NVIDIA driver: {error}"
            self._retry_at = self._clock() + self._retry_s
            return False
        self._ready = True
        return True

    def _stop(self, why: str) -> None:
        self._ready, self._absent, self._why = False, False, why
        self._retry_at = self._clock() + self._retry_s
        self._unavailable.clear()
        self._static.clear()
        try:
            if self._nvml is not None:
                self._nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - it is going away either way
            pass

    def _call(self, index: int, metric: str, function: str, *args: Any, required: bool = False) -> Any:
        """One NVML call; None when unavailable. Raises DriverGone, or CardGone for a lost card."""
        if (index, metric) in self._unavailable:
            return None
        try:
            return getattr(self._nvml, function)(*args)
        except AttributeError:
            self._unavailable.add((index, metric))  # an older pynvml without this function
            return None
        except Exception as error:  # noqa: BLE001 - NVMLError, sorted by its code below
            code = getattr(error, "value", None)
            if code in DRIVER_GONE:
                raise DriverGone(str(error)) from None
            if code in CARD_GONE and not required:
                raise CardGone(str(error)) from None
            if code in UNAVAILABLE:
                self._unavailable.add((index, metric))
            elif required:
                raise DriverGone(str(error)) from None
            else:
                logger.debug("NVML %s on GPU %s failed: %s", function, index, error)
            return None

    def _read_gpu(self, index: int) -> GpuReading:
        try:
            handle = self._call(index, "handle", "nvmlDeviceGetHandleByIndex", index)
            if handle is None:
                return GpuReading(index, "nvidia", "NVIDIA GPU", error="not readable")
            return self._read_handle(index, handle)
        except CardGone as lost:
            name = self._static.get(index, ("NVIDIA GPU", None))[0]
            return GpuReading(index, "nvidia", name, error=str(lost))

    def _read_handle(self, index: int, handle: Any) -> GpuReading:
        call = self._call
        if index in self._static:
            name, slowdown = self._static[index]
        else:  # read once: they never change while the driver runs
            raw = call(index, "name", "nvmlDeviceGetName", handle)
            name = raw.decode(errors="replace") if isinstance(raw, bytes) else str(raw or "NVIDIA GPU")
            slowdown = call(index, "slowdown", "nvmlDeviceGetTemperatureThreshold", handle, THRESHOLD_SLOWDOWN)
            if raw is not None:
                self._static[index] = (name, slowdown)
        util = call(index, "util", "nvmlDeviceGetUtilizationRates", handle)
        memory = call(index, "memory", "nvmlDeviceGetMemoryInfo", handle)
        power = call(index, "power", "nvmlDeviceGetPowerUsage", handle)
        limit = call(index, "limit", "nvmlDeviceGetEnforcedPowerLimit", handle)
        reasons = call(index, "reasons", "nvmlDeviceGetCurrentClocksEventReasons", handle)
        if reasons is None:
            reasons = call(index, "old_reasons", "nvmlDeviceGetCurrentClocksThrottleReasons", handle)
        return GpuReading(
            index=index,
            vendor="nvidia",
            name=name,
            util_percent=float(util.gpu) if util is not None else None,
            vram_used=int(memory.used) if memory is not None else None,
            vram_total=int(memory.total) if memory is not None else None,
            temp_c=_float(call(index, "temp", "nvmlDeviceGetTemperature", handle, TEMPERATURE_GPU)),
            temp_slowdown_c=_float(slowdown),
            power_w=power / 1000 if power is not None else None,
            power_limit_w=limit / 1000 if limit is not None else None,
            fan_percent=_float(call(index, "fan", "nvmlDeviceGetFanSpeed", handle)),
            sm_clock_mhz=call(index, "sm_clock", "nvmlDeviceGetClockInfo", handle, CLOCK_SM),
            mem_clock_mhz=call(index, "mem_clock", "nvmlDeviceGetClockInfo", handle, CLOCK_MEM),
            throttle=tuple(word for word, bits in THROTTLE_BITS.items() if reasons and reasons & bits),
            **self._processes(index, handle),
        )

    def _processes(self, index: int, handle: Any) -> dict[str, Any]:
        """The GPU's processes, the model's marked; in a container, a note instead of a guess."""
        found: dict[int, Any] = {}
        for metric, function in (
            ("compute", "nvmlDeviceGetComputeRunningProcesses"),
            ("graphics", "nvmlDeviceGetGraphicsRunningProcesses"),
        ):
            for process in self._call(index, metric, function, handle) or ():
                found.setdefault(int(process.pid), process)
        # A pid this namespace does not have means NVML counts in the host's pids (a container):
        # then every number it lists is a host pid, and one equal to a local pid is a coincidence.
        foreign = any(not self._pid_visible(pid) for pid in found)
        owned = self._owned_pids() if found else set()
        processes = []
        for pid, process in found.items():
            name = f"pid {pid}" if foreign else self._name(pid)
            used = getattr(process, "usedGpuMemory", None)
            ours = not foreign and (pid in owned or any(part in name.lower() for part in self._model_processes))
            processes.append(GpuProcess(pid, name, int(used) if used is not None else None, ours))
        hidden = foreign and bool(owned)
        return {
            "processes": tuple(sorted(processes, key=lambda p: (not p.ours, -(p.vram_bytes or 0)))),
            "pids_hidden": hidden,
            "owned_vram_bytes": self.owned_vram(index) if hidden and self.owned_vram is not None else None,
        }

    def _name(self, pid: int) -> str:
        if pid not in self._names:
            if len(self._names) > 256:
                self._names.clear()
            self._names[pid] = self._process_name(pid)
        return self._names[pid]


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


HOST_PID_NAMESPACE = "pid:[4026531836]"
"""The initial pid namespace's fixed id (the kernel's PROC_PID_INIT_INO): NVML's pids are ours there."""


@functools.cache
def _pids_are_hosts() -> bool:
    """This process sees the host's pids: the initial pid namespace, or no /proc to tell (not Linux)."""
    try:
        return os.readlink("/proc/self/ns/pid") == HOST_PID_NAMESPACE
    except OSError:
        return not os.path.isdir("/proc")


def _pid_visible(pid: int) -> bool:
    """Whether a pid NVML lists exists here; always on the host, so a process that just ended
    cannot make a host look like a container."""
    return _pids_are_hosts() or os.path.exists(f"/proc/{pid}")


def _process_name(pid: int) -> str:
    """A process's name, or "pid N" when it is not visible from here (another container)."""
    try:
        import psutil

        return psutil.Process(pid).name()
    except Exception:  # noqa: BLE001 - gone, hidden, or not ours to see
        return f"pid {pid}"
