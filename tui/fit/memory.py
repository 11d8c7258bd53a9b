"""How much memory is free for a model: available RAM, and free VRAM where nvidia-smi answers."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.fit.estimate import Memory

NVIDIA_SMI_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class MemorySnapshot:
    """Free memory at one moment; `gpu` is None on machines without a readable GPU."""

    ram: Memory | None
    gpu: Memory | None


def probe_memory() -> MemorySnapshot:
    """Read free RAM and free VRAM now (blocking: call it from a thread)."""
    return MemorySnapshot(ram=read_ram(), gpu=read_vram() or read_nvidia())


def read_vram(nvml: Any = None) -> Memory | None:
    """Free and total VRAM summed over the NVIDIA GPUs, through NVML as the stats pane reads it,
    with each card's free memory where there are several (`nvml`: the pynvml module, or a double);
    None without a readable GPU."""
    from tui.stats.nvidia import NvidiaReader

    reader = NvidiaReader(nvml)
    try:
        cards = [
            (g.vram_total, g.vram_used)
            for g in reader.read().gpus
            if not g.error and g.vram_total and g.vram_used is not None
        ]
    finally:
        reader.close()
    if not cards:
        return None
    free = tuple(total - (used or 0) for total, used in cards)
    return Memory("VRAM", sum(free), sum(total for total, _ in cards), free if len(free) > 1 else ())


def from_sample(sample: Any) -> MemorySnapshot:
    """The same figures from a stats sample (tui.stats.sample.StatsSample), which already has them."""
    cpu = sample.cpu
    ram = (
        Memory("RAM", cpu.ram_total - cpu.ram_used, cpu.ram_total)
        if cpu and cpu.ram_total and cpu.ram_used is not None
        else None
    )
    cards = [g for g in sample.gpus if not g.error and g.vram_total and g.vram_used is not None]
    free = tuple(g.vram_total - g.vram_used for g in cards)
    gpu = Memory("VRAM", sum(free), sum(g.vram_total for g in cards), free if len(free) > 1 else ()) if cards else None
    return MemorySnapshot(ram=ram, gpu=gpu)


def read_ram(meminfo: Path = Path("/proc/meminfo")) -> Memory | None:
    """MemAvailable and MemTotal (Linux), else what sysconf says is free."""
    try:
        fields = {}
        for line in meminfo.read_text().splitlines():
            key, _, rest = line.partition(":")
            fields[key] = int(rest.split()[0]) * 1024
        return Memory("RAM", fields["MemAvailable"], fields["MemTotal"])
    except (OSError, KeyError, ValueError, IndexError):
        pass
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        return Memory("RAM", os.sysconf("SC_AVPHYS_PAGES") * page, os.sysconf("SC_PHYS_PAGES") * page)
    except (ValueError, OSError, AttributeError):
        return None


def read_nvidia(command: str = "nvidia-smi") -> Memory | None:
    """Free and total VRAM summed over every NVIDIA GPU (Ollama spreads a model across them)."""
    exe = shutil.which(command)
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=memory.free,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=NVIDIA_SMI_TIMEOUT_S,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_nvidia(out)


def parse_nvidia(out: str) -> Memory | None:
    """nvidia-smi's "free, total" lines, in MiB, summed."""
    free = total = 0
    for line in out.strip().splitlines():
        try:
            f, t = (int(part.strip()) for part in line.split(","))
        except ValueError:
            continue
        free, total = free + f * 1024**2, total + t * 1024**2
    return Memory("VRAM", free, total) if total else None
