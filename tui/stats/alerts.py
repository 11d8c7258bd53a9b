"""Warnings worth interrupting the user's eye for: heat, throttling, full VRAM, swapping."""

from __future__ import annotations

from dataclasses import dataclass

from tui.stats.sample import StatsSample


@dataclass(frozen=True)
class Limits:
    """Where warnings start; from the [stats] section of the config."""

    temp_margin_c: float = 5.0
    """Warn when a GPU (or the CPU) is this many degrees from its slowdown point."""
    vram_percent: float = 95.0
    """Warn when a GPU's memory is this full."""


@dataclass(frozen=True)
class Alert:
    """One warning line; `severe` ones are already hurting (throttling, past the limit)."""

    text: str
    severe: bool = False


def alerts_for(sample: StatsSample, limits: Limits = Limits()) -> list[Alert]:
    """Every warning that applies to `sample`, most severe first."""
    alerts: list[Alert] = []
    for gpu in sample.gpus:
        if gpu.error:
            alerts.append(Alert(f"{gpu.label} stopped answering: {gpu.error}", severe=True))
            continue
        if gpu.temp_c is not None and gpu.temp_slowdown_c:
            if gpu.temp_c >= gpu.temp_slowdown_c:
                alerts.append(
                    Alert(
                        f"{gpu.label} at {gpu.temp_c:.0f}°C: past its slowdown point ({gpu.temp_slowdown_c:.0f}°C)",
                        severe=True,
                    )
                )
            elif gpu.temp_c >= gpu.temp_slowdown_c - limits.temp_margin_c:
                alerts.append(Alert(f"{gpu.label} at {gpu.temp_c:.0f}°C, near slowdown at {gpu.temp_slowdown_c:.0f}°C"))
        for reason in ("thermal", "power"):
            if reason in gpu.throttle:
                alerts.append(Alert(f"{gpu.label} throttling ({reason})", severe=reason == "thermal"))
        fraction = gpu.vram_fraction
        if fraction is not None and fraction * 100 >= limits.vram_percent:
            alerts.append(Alert(f"{gpu.label} VRAM {fraction:.0%} full", severe=fraction >= 0.99))
    cpu = sample.cpu
    if cpu.temp_c is not None and cpu.temp_high_c and cpu.temp_c >= cpu.temp_high_c - limits.temp_margin_c:
        alerts.append(
            Alert(
                f"CPU at {cpu.temp_c:.0f}°C, near its limit ({cpu.temp_high_c:.0f}°C)",
                severe=cpu.temp_c >= cpu.temp_high_c,
            )
        )
    if sample.generating and cpu.swap_io_bytes_s:
        alerts.append(
            Alert(
                f"swapping while generating ({cpu.swap_io_bytes_s / 2**20:.1f} MiB/s): the model does not fit in RAM",
                severe=True,
            )
        )
    return sorted(alerts, key=lambda alert: not alert.severe)
