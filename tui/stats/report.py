"""Samples as words: the lines the pane and `lchat stats` print, the one-line summary, and JSON."""

from __future__ import annotations

import dataclasses
from typing import Any

from tui.guard.safe_text import one_line
from tui.stats.alerts import Alert
from tui.stats.sample import CpuReading, GpuReading, StatsSample

Line = tuple[str, str]
"""A line of text and its kind: "title", "ours" (the model's own process), "dim" or ""."""


def gib(count: float) -> str:
    return f"{count / 2**30:.1f}"


def _join(*parts: str | None) -> str:
    return " · ".join(part for part in parts if part)


def gpu_lines(gpu: GpuReading) -> list[Line]:
    """A GPU in a few short lines (they fit a 32-column pane); unreported metrics are left out."""
    lines: list[Line] = [(f"{gpu.label} {one_line(gpu.name, 60)}", "title")]
    if gpu.error:
        return [*lines, (f"not answering: {one_line(gpu.error, 80)}", "")]
    vram = (
        f"VRAM {gib(gpu.vram_used)}/{gib(gpu.vram_total)} GiB" if gpu.vram_used is not None and gpu.vram_total else None
    )
    util = f"util {gpu.util_percent:.0f}%" if gpu.util_percent is not None else None
    temp = f"{gpu.temp_c:.0f}°C" if gpu.temp_c is not None else None
    slowdown = f"slowdown {gpu.temp_slowdown_c:.0f}°C" if temp and gpu.temp_slowdown_c else None
    power = None
    if gpu.power_w is not None:
        power = f"{gpu.power_w:.0f}/{gpu.power_limit_w:.0f} W" if gpu.power_limit_w else f"{gpu.power_w:.0f} W"
    fan = f"fan {gpu.fan_percent:.0f}%" if gpu.fan_percent is not None else None
    sm = f"SM {gpu.sm_clock_mhz}" if gpu.sm_clock_mhz is not None else None
    mem = f"mem {gpu.mem_clock_mhz} MHz" if gpu.mem_clock_mhz is not None else None
    for line in (_join(util, vram), _join(temp, slowdown), _join(power, fan), _join(sm, mem)):
        if line:
            lines.append((line, ""))
    if gpu.throttle:
        lines.append(("throttling: " + ", ".join(gpu.throttle), ""))
    for process in gpu.processes:
        used = f" {gib(process.vram_bytes)} GiB" if process.vram_bytes is not None else ""
        mark = "◆" if process.ours else " "
        lines.append((f"{mark} {process.pid} {one_line(process.name, 40)}{used}", "ours" if process.ours else "dim"))
    if gpu.pids_hidden:  # A container: NVML's pids are the host's, so lchat's own process is not among them.
        if gpu.owned_vram_bytes is not None:
            lines.append((f"◆ lchat {gib(gpu.owned_vram_bytes)} GiB (pid hidden)", "ours"))
        else:
            lines.append(("  lchat's pid hidden (container)", "dim"))
    return lines


def cpu_lines(cpu: CpuReading) -> list[Line]:
    """CPU, RAM and swap, in three short lines."""
    util = f"{cpu.util_percent:.0f}%" if cpu.util_percent is not None else None
    temp = f"{cpu.temp_c:.0f}°C" if cpu.temp_c is not None else None
    power = f"{cpu.package_power_w:.0f} W" if cpu.package_power_w is not None else None
    lines: list[Line] = [(f"CPU {_join(util, temp, power)}".rstrip(), "title")]
    if cpu.ram_total:
        lines.append((f"RAM  {gib(cpu.ram_used or 0)}/{gib(cpu.ram_total)} GiB", ""))
    if cpu.swap_total:
        moving = f"  {cpu.swap_io_bytes_s / 2**20:.1f} MiB/s" if cpu.swap_io_bytes_s else ""
        lines.append((f"swap {gib(cpu.swap_used or 0)}/{gib(cpu.swap_total)} GiB{moving}", ""))
    return lines


def summary(sample: StatsSample) -> str:
    """Everything in one line, for narrow terminals."""
    parts = []
    for gpu in sample.gpus:
        if gpu.error:
            parts.append(f"{gpu.label} lost")
            continue
        bits = [gpu.label]
        if gpu.util_percent is not None:
            bits.append(f"{gpu.util_percent:.0f}%")
        if gpu.temp_c is not None:
            bits.append(f"{gpu.temp_c:.0f}°C")
        if gpu.power_w is not None:
            bits.append(f"{gpu.power_w:.0f}W")
        if gpu.vram_used is not None and gpu.vram_total:
            bits.append(f"{gib(gpu.vram_used)}/{gib(gpu.vram_total)}G")
        parts.append(" ".join(bits))
    cpu = sample.cpu
    bits = ["CPU"]
    if cpu.util_percent is not None:
        bits.append(f"{cpu.util_percent:.0f}%")
    if cpu.temp_c is not None:
        bits.append(f"{cpu.temp_c:.0f}°C")
    parts.append(" ".join(bits))
    if cpu.ram_total:
        parts.append(f"RAM {gib(cpu.ram_used or 0)}/{gib(cpu.ram_total)}G")
    return " · ".join(parts)


def text_report(sample: StatsSample, alerts: list[Alert]) -> str:
    """The whole sample for a terminal: warnings, GPUs, CPU, then what could not be read."""
    lines = [("! " if alert.severe else "• ") + one_line(alert.text, 200) for alert in alerts]
    for gpu in sample.gpus:
        lines += [text for text, _ in gpu_lines(gpu)]
    lines += [text for text, _ in cpu_lines(sample.cpu)]
    lines += [f"({one_line(line, 200)})" for line in sample.missing]
    return "\n".join(lines)


def to_json(sample: StatsSample, alerts: list[Alert]) -> dict[str, Any]:
    """The sample as plain JSON types: units are in the key names (bytes, _c, _w, _mhz)."""
    data = dataclasses.asdict(sample)
    data["time"] = data.pop("wall")
    data["power_w"] = sample.power_w
    data["alerts"] = [dataclasses.asdict(alert) for alert in alerts]
    for gpu in data["gpus"]:
        gpu["throttle"] = list(gpu["throttle"])
    return data
