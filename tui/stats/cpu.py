"""CPU and memory: utilisation, RAM and swap (psutil), package temperature (hwmon) and power (RAPL)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from tui.stats.sample import CpuReading, Partial
from tui.stats.sysfs import read_number, read_text

CPU_SENSORS = ("coretemp", "k10temp", "zenpower", "cpu_thermal", "soc_thermal")
"""hwmon drivers that measure the CPU package, best first."""
PACKAGE_LABELS = ("package id", "tctl", "tdie", "cpu")


class CpuReader:
    """Reads this machine's CPU; `root` and `psutil` let tests bring a fixture tree and a double."""

    def __init__(
        self,
        root: Path | str = "/",
        *,
        psutil: ModuleType | Any | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if psutil is None:
            import psutil as installed

            psutil = installed
        self._psutil = psutil
        self._root = Path(root)
        self._clock = clock
        self._temp_files: tuple[Path, Path | None] | None = None
        self._temp_searched = False
        self._has_hwmon = False
        self._psutil_has_sensors = True
        self._rapl: list[tuple[Path, float]] | None = None
        self._rapl_why = ""
        self._rapl_denied = False
        self._last_energy: tuple[float, list[float]] | None = None
        self._last_swap: tuple[float, int] | None = None
        self._psutil.cpu_percent(interval=None)  # the first call only sets the baseline

    def read(self) -> Partial:
        ps, now = self._psutil, self._clock()
        memory, swap = ps.virtual_memory(), ps.swap_memory()
        absent: list[str] = []
        problems: list[str] = []
        temp, high = self._temperature()
        if temp is None:
            absent.append("no CPU temperature sensor")
        power = self._package_power(now)
        if self._rapl_why:
            (problems if self._rapl_denied else absent).append(self._rapl_why)
        moved = int(getattr(swap, "sin", 0) + getattr(swap, "sout", 0))
        rate = None
        if self._last_swap is not None and now > self._last_swap[0]:
            rate = max(0, moved - self._last_swap[1]) / (now - self._last_swap[0])
        self._last_swap = (now, moved)
        reading = CpuReading(
            util_percent=float(ps.cpu_percent(interval=None)),
            ram_used=int(memory.total - memory.available),
            ram_total=int(memory.total),
            swap_used=int(swap.used),
            swap_total=int(swap.total),
            swap_io_bytes_s=rate,
            temp_c=temp,
            temp_high_c=high,
            package_power_w=power,
        )
        return Partial(cpu=reading, absent=tuple(absent), problems=tuple(problems))

    def close(self) -> None:
        pass

    # Temperature

    def _temperature(self) -> tuple[float | None, float | None]:
        if not self._temp_searched:
            self._temp_files, self._temp_searched = self._find_temperature(), True
        if self._temp_files is None:
            if self._has_hwmon or not self._psutil_has_sensors:
                return None, None
            found = self._psutil_temperature()
            self._psutil_has_sensors = found[0] is not None  # nothing now: nothing later (it globs a lot)
            return found
        current, limit = self._temp_files
        value = read_number(current)
        if value is None:
            self._temp_searched = False  # the sensor moved (module reloaded): look again next time
            return None, None
        high = read_number(limit) if limit else None
        return value / 1000, high / 1000 if high else None

    def _find_temperature(self) -> tuple[Path, Path | None] | None:
        """The package sensor's input file and its limit file, found once (reading is cheap, searching not)."""
        hwmon_dir = self._root / "sys" / "class" / "hwmon"
        self._has_hwmon = hwmon_dir.is_dir()
        found: dict[str, Path] = {}
        for candidate in sorted(hwmon_dir.iterdir()) if self._has_hwmon else ():
            name = read_text(candidate / "name")
            if name in CPU_SENSORS and name not in found:
                found[name] = candidate
        for name in CPU_SENSORS:
            hwmon = found.get(name)
            if hwmon is None:
                continue
            inputs = sorted(hwmon.glob("temp*_input"))
            chosen = next(
                (i for i in inputs if read_text(_sibling(i, "label")).lower().startswith(PACKAGE_LABELS)),
                inputs[0] if inputs else None,
            )
            if chosen is not None:
                limit = next((p for p in (_sibling(chosen, "max"), _sibling(chosen, "crit")) if p.exists()), None)
                return chosen, limit
        return None

    def _psutil_temperature(self) -> tuple[float | None, float | None]:
        reader = getattr(self._psutil, "sensors_temperatures", None)
        if reader is None:
            return None, None
        try:
            sensors = reader()
        except Exception:  # noqa: BLE001 - sensors are optional everywhere
            return None, None
        for name in CPU_SENSORS:
            for entry in sensors.get(name, ()):
                if not entry.label or entry.label.lower().startswith(PACKAGE_LABELS):
                    return entry.current, entry.high or entry.critical
        return None, None

    # Power

    def _package_power(self, now: float) -> float | None:
        if self._rapl is None:
            self._rapl = self._find_rapl()
        if not self._rapl:
            return None
        try:
            energies = [float((zone / "energy_uj").read_text()) for zone, _ in self._rapl]
        except PermissionError:
            self._rapl, self._rapl_denied = [], True
            self._rapl_why = "CPU package power: RAPL needs root (energy_uj is not readable)"
            return None
        except (OSError, ValueError):
            return None
        last, self._last_energy = self._last_energy, (now, energies)
        if last is None or now <= last[0]:
            return None
        joules = 0.0
        for (_, wrap), before, after in zip(self._rapl, last[1], energies):
            joules += (after - before if after >= before else after + wrap - before) / 1e6
        return joules / (now - last[0])

    def _find_rapl(self) -> list[tuple[Path, float]]:
        """Each CPU package's RAPL zone and the value its counter wraps at."""
        powercap = self._root / "sys" / "class" / "powercap"
        zones = sorted(powercap.glob("intel-rapl:*")) if powercap.is_dir() else []
        packages = [
            zone for zone in zones if zone.name.count(":") == 1 and read_text(zone / "name").startswith("package")
        ]
        if not packages:
            self._rapl_why = "no CPU package power meter (RAPL)"
            return []
        return [(zone, read_number(zone / "max_energy_range_uj") or 2.0**32) for zone in packages]


def _sibling(path: Path, suffix: str) -> Path:
    return path.with_name(path.name.rsplit("_", 1)[0] + "_" + suffix)
