"""What one look at the hardware found: plain dataclasses, shared by the pane and `lchat stats`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class GpuProcess:
    """A process holding memory on a GPU."""

    pid: int
    name: str
    vram_bytes: int | None = None
    ours: bool = False
    """The engine's own child process or an Ollama runner: the model lchat is talking to."""


@dataclass(frozen=True)
class GpuReading:
    """One GPU; None is a metric the card does not report (fans on datacenter cards...)."""

    index: int
    vendor: str
    """"nvidia" or "amd"."""
    name: str
    util_percent: float | None = None
    vram_used: int | None = None
    vram_total: int | None = None
    temp_c: float | None = None
    temp_slowdown_c: float | None = None
    """Where the card starts slowing itself down (NVIDIA), or its critical temperature (AMD)."""
    power_w: float | None = None
    power_limit_w: float | None = None
    fan_percent: float | None = None
    sm_clock_mhz: int | None = None
    mem_clock_mhz: int | None = None
    throttle: tuple[str, ...] = ()
    """Why clocks are held down now: "thermal", "power", "hardware"."""
    processes: tuple[GpuProcess, ...] = ()
    pids_hidden: bool = False
    """lchat's engine runs but NVML lists this GPU's processes by pids of another namespace (a
    container sees the host's): its process cannot be picked out, so none is marked as the model's."""
    owned_vram_bytes: int | None = None
    """VRAM the engine's child says it allocated on this GPU, shown when its pid is hidden."""
    error: str = ""
    """Set when the GPU stopped answering (e.g. "GPU is lost"); the figures are then empty."""

    @property
    def label(self) -> str:
        return f"GPU{self.index}"

    @property
    def vram_fraction(self) -> float | None:
        if self.vram_used is None or not self.vram_total:
            return None
        return self.vram_used / self.vram_total


@dataclass(frozen=True)
class CpuReading:
    """The CPU and memory; always present, though sensors may be missing."""

    util_percent: float | None = None
    ram_used: int | None = None
    ram_total: int | None = None
    swap_used: int | None = None
    swap_total: int | None = None
    swap_io_bytes_s: float | None = None
    """Bytes a second paged in and out since the previous sample: swap actually being used."""
    temp_c: float | None = None
    temp_high_c: float | None = None
    package_power_w: float | None = None
    """CPU package power from RAPL."""


@dataclass(frozen=True)
class StatsSample:
    """Everything read at one moment."""

    time: float
    """time.monotonic() when it was read; for rates and energy."""
    wall: float
    """time.time() when it was read; for people and scripts."""
    gpus: tuple[GpuReading, ...] = ()
    cpu: CpuReading = field(default_factory=CpuReading)
    missing: tuple[str, ...] = ()
    """One line for each thing that could not be read (no NVIDIA driver, no sensors)."""
    generating: bool = False
    """Whether an answer was being generated when it was read."""

    @property
    def power_w(self) -> float | None:
        """GPUs plus CPU package, from what is readable; None when no power is readable."""
        return _watts(self.gpus, self.cpu)

    @property
    def model_power_w(self) -> float | None:
        """The power an answer costs: the GPUs the model runs on plus the CPU package.

        The model's GPUs are those running one of its processes (the engine's child, Ollama);
        when no GPU shows one (none listed, or hidden from this container), every GPU counts."""
        running = tuple(gpu for gpu in self.gpus if any(p.ours for p in gpu.processes))
        return _watts(running or self.gpus, self.cpu)


def _watts(gpus: tuple[GpuReading, ...], cpu: CpuReading) -> float | None:
    parts = [gpu.power_w for gpu in gpus if gpu.power_w is not None]
    if cpu.package_power_w is not None:
        parts.append(cpu.package_power_w)
    return sum(parts) if parts else None


@dataclass(frozen=True)
class RemoteModel:
    """A model a remote server has loaded, as the server reports it."""

    name: str
    size_bytes: int | None = None
    vram_bytes: int | None = None
    expires_at: float | None = None
    """Epoch seconds when the server unloads it; None when it never does."""

    @property
    def vram_share(self) -> float | None:
        if self.vram_bytes is None or not self.size_bytes:
            return None
        return self.vram_bytes / self.size_bytes


@dataclass(frozen=True)
class RemoteStats:
    """What a remote backend (an Ollama server elsewhere) says about itself."""

    backend: str
    host: str
    models: tuple[RemoteModel, ...] = ()
    error: str = ""
    """Why the server's own figures could not be read, if they could not."""


@dataclass(frozen=True)
class Partial:
    """What one reader contributes to a sample."""

    gpus: tuple[GpuReading, ...] = ()
    cpu: CpuReading | None = None
    absent: tuple[str, ...] = ()
    """Hardware or drivers that are simply not there (dropped when another reader found a GPU)."""
    problems: tuple[str, ...] = ()
    """Things that are there but failed (permissions, a driver that went away): always shown."""
