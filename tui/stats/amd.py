"""AMD GPUs from the amdgpu driver's sysfs files and their hwmon sensors (Linux)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tui.stats.sample import GpuReading, Partial
from tui.stats.sysfs import read_number, read_text

AMD_VENDOR = "0x1002"
_CARD = re.compile(r"card\d+$")


@dataclass(frozen=True)
class _Card:
    """Where one card's files are, found once: globbing every second would cost more than reading."""

    device: Path
    hwmon: Path | None
    sensor: str
    name: str


class AmdReader:
    """Reads every AMD card under `root`/sys/class/drm; `root` lets tests bring a fixture tree."""

    def __init__(self, root: Path | str = "/") -> None:
        self._drm = Path(root) / "sys" / "class" / "drm"
        self._cards: list[_Card] | None = None

    def read(self) -> Partial:
        if self._cards is None:
            self._cards = self._find_cards()
        if not self._cards:
            return Partial(absent=("no AMD GPU",))
        return Partial(gpus=tuple(self._read_card(index, card) for index, card in enumerate(self._cards)))

    def close(self) -> None:
        pass

    def _find_cards(self) -> list[_Card]:
        try:
            entries = sorted(self._drm.iterdir(), key=lambda p: int(p.name[4:]) if _CARD.match(p.name) else -1)
        except OSError:
            return []
        cards = []
        for entry in entries:
            device = entry / "device"
            if not _CARD.match(entry.name) or read_text(device / "vendor") != AMD_VENDOR:
                continue
            hwmon = next(iter(sorted(device.glob("hwmon/hwmon*"))), None)
            sensor = _temperature_sensor(hwmon) if hwmon else "temp1"
            name = read_text(device / "product_name") or f"AMD GPU ({entry.name})"
            cards.append(_Card(device, hwmon, sensor, name))
        return cards

    def _read_card(self, index: int, card: _Card) -> GpuReading:
        device, hwmon = card.device, card.hwmon
        if not device.exists():
            return GpuReading(index, "amd", card.name, error="no longer present")
        temp = crit = power = cap = None
        if hwmon is not None:
            temp = _scaled(hwmon / f"{card.sensor}_input", 1000)
            crit = _scaled(hwmon / f"{card.sensor}_crit", 1000)
            # Older kernels have power1_average, newer ones power1_input; both in microwatts.
            power = _scaled(hwmon / "power1_average", 1e6)
            if power is None:
                power = _scaled(hwmon / "power1_input", 1e6)
            cap = _scaled(hwmon / "power1_cap", 1e6)
        used, total = read_number(device / "mem_info_vram_used"), read_number(device / "mem_info_vram_total")
        return GpuReading(
            index=index,
            vendor="amd",
            name=card.name,
            util_percent=read_number(device / "gpu_busy_percent"),
            vram_used=int(used) if used is not None else None,
            vram_total=int(total) if total is not None else None,
            temp_c=temp,
            temp_slowdown_c=crit,
            power_w=power,
            power_limit_w=cap,
        )


def _temperature_sensor(hwmon: Path) -> str:
    """The "edge" sensor where labelled (what tools show by default), else temp1."""
    for label in sorted(hwmon.glob("temp*_label")):
        if read_text(label) == "edge":
            return label.name.removesuffix("_label")
    return "temp1"


def _scaled(path: Path, divisor: float) -> float | None:
    value = read_number(path)
    return value / divisor if value is not None else None
