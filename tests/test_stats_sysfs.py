"""AMD and CPU readers against fixture sysfs trees (drm, hwmon, powercap) and a psutil double."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from tui.stats.amd import AmdReader
from tui.stats.cpu import CpuReader


def write(root: Path, files: dict[str, str | int]) -> None:
    for name, value in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"{value}\n")


class FakePsutil:
    """What CpuReader asks psutil for, as plain data a test can change."""

    def __init__(self) -> None:
        self.cpu = 25.0
        self.memory = SimpleNamespace(total=16 * 2**30, available=10 * 2**30)
        self.swap = SimpleNamespace(total=4 * 2**30, used=2**30, sin=0, sout=0)
        self.temperatures: dict[str, list] = {}

    def cpu_percent(self, interval=None) -> float:
        return self.cpu

    def virtual_memory(self):
        return self.memory

    def swap_memory(self):
        return self.swap

    def sensors_temperatures(self):
        return self.temperatures


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# AMD


def amd_card(root: Path, card: str, *, vendor: str = "0x1002", power_file: str = "power1_average", **extra) -> None:
    device = f"sys/class/drm/{card}/device"
    hwmon = f"{device}/hwmon/hwmon3"
    write(
        root,
        {
            f"{device}/vendor": vendor,
            f"{device}/gpu_busy_percent": 87,
            f"{device}/mem_info_vram_used": 6 * 2**30,
            f"{device}/mem_info_vram_total": 16 * 2**30,
            f"{hwmon}/name": "amdgpu",
            f"{hwmon}/temp1_label": "edge",
            f"{hwmon}/temp1_input": 71000,
            f"{hwmon}/temp1_crit": 100000,
            f"{hwmon}/temp2_label": "junction",
            f"{hwmon}/temp2_input": 88000,
            f"{hwmon}/{power_file}": 187_000_000,
            f"{hwmon}/power1_cap": 250_000_000,
            **{f"{device}/{name}": value for name, value in extra.items()},
        },
    )


def test_amd_cards_from_sysfs(tmp_path: Path) -> None:
    amd_card(tmp_path, "card0", product_name="Radeon RX 7900 XTX")
    amd_card(tmp_path, "card1", power_file="power1_input")  # newer kernels
    amd_card(tmp_path, "card2", vendor="0x8086")  # an Intel iGPU: not ours to read
    write(tmp_path, {"sys/class/drm/card0-DP-1/status": "connected"})
    part = AmdReader(tmp_path).read()
    first, second = part.gpus
    assert (first.vendor, first.name, first.util_percent) == ("amd", "Radeon RX 7900 XTX", 87)
    assert (first.vram_used, first.vram_total) == (6 * 2**30, 16 * 2**30)
    assert first.temp_c == 71 and first.temp_slowdown_c == 100  # the "edge" sensor
    assert first.power_w == 187 and first.power_limit_w == 250
    assert second.name == "AMD GPU (card1)" and second.power_w == 187
    assert part.absent == ()


def test_amd_card_without_hwmon_reports_what_it_has(tmp_path: Path) -> None:
    write(tmp_path, {"sys/class/drm/card0/device/vendor": "0x1002", "sys/class/drm/card0/device/gpu_busy_percent": 3})
    (gpu,) = AmdReader(tmp_path).read().gpus
    assert gpu.util_percent == 3 and gpu.temp_c is None and gpu.power_w is None and gpu.vram_used is None


def test_no_amd_card(tmp_path: Path) -> None:
    assert AmdReader(tmp_path).read().absent == ("no AMD GPU",)


def test_amd_card_that_goes_away(tmp_path: Path) -> None:
    amd_card(tmp_path, "card0")
    reader = AmdReader(tmp_path)
    reader.read()
    import shutil

    shutil.rmtree(tmp_path / "sys/class/drm/card0")
    (gpu,) = reader.read().gpus
    assert gpu.error == "no longer present"


# CPU


def cpu_tree(root: Path, *, rapl: bool = True, sensor: str = "coretemp") -> None:
    files: dict[str, str | int] = {
        "sys/class/hwmon/hwmon0/name": "nvme",
        "sys/class/hwmon/hwmon0/temp1_input": 40000,
        "sys/class/hwmon/hwmon1/name": sensor,
    }
    if sensor == "coretemp":
        files |= {
            "sys/class/hwmon/hwmon1/temp2_label": "Core 0",
            "sys/class/hwmon/hwmon1/temp2_input": 50000,
            "sys/class/hwmon/hwmon1/temp1_label": "Package id 0",
            "sys/class/hwmon/hwmon1/temp1_input": 64000,
            "sys/class/hwmon/hwmon1/temp1_max": 100000,
            "sys/class/hwmon/hwmon1/temp1_crit": 105000,
        }
    else:  # k10temp: Tctl
        files |= {"sys/class/hwmon/hwmon1/temp1_label": "Tctl", "sys/class/hwmon/hwmon1/temp1_input": 71500}
    if rapl:
        files |= {
            "sys/class/powercap/intel-rapl:0/name": "package-0",
            "sys/class/powercap/intel-rapl:0/energy_uj": 1_000_000,
            "sys/class/powercap/intel-rapl:0/max_energy_range_uj": 262_143_328_850,
            "sys/class/powercap/intel-rapl:0:0/name": "core",  # a subzone: not added again
            "sys/class/powercap/intel-rapl:0:0/energy_uj": 5,
            "sys/class/powercap/intel-rapl:1/name": "package-1",
            "sys/class/powercap/intel-rapl:1/energy_uj": 3_000_000,
            "sys/class/powercap/intel-rapl:1/max_energy_range_uj": 262_143_328_850,
            "sys/class/powercap/intel-rapl:2/name": "psys",  # the platform: not the package
            "sys/class/powercap/intel-rapl:2/energy_uj": 0,
        }
    write(root, files)


def test_cpu_temperature_power_memory_and_swap(tmp_path: Path) -> None:
    cpu_tree(tmp_path)
    clock, ps = Clock(), FakePsutil()
    reader = CpuReader(tmp_path, psutil=ps, clock=clock)
    first = reader.read()
    assert first.cpu.package_power_w is None  # a rate: needs a second reading
    assert first.cpu.temp_c == 64 and first.cpu.temp_high_c == 100  # the package sensor, not a core or the disk
    assert (first.cpu.ram_used, first.cpu.ram_total) == (6 * 2**30, 16 * 2**30)
    assert (first.cpu.swap_used, first.cpu.swap_total) == (2**30, 4 * 2**30)
    assert first.absent == () and first.problems == ()
    clock.now += 2
    write(
        tmp_path,
        {
            "sys/class/powercap/intel-rapl:0/energy_uj": 61_000_000,  # +60 J
            "sys/class/powercap/intel-rapl:1/energy_uj": 43_000_000,
        },
    )  # +40 J
    ps.swap = SimpleNamespace(total=4 * 2**30, used=2**30, sin=3 * 2**20, sout=2**20)
    second = reader.read()
    assert second.cpu.package_power_w == pytest.approx(50.0)  # 100 J over 2 s, both packages
    assert second.cpu.swap_io_bytes_s == pytest.approx(2 * 2**20)
    assert second.cpu.util_percent == 25


def test_rapl_counter_wrapping_around(tmp_path: Path) -> None:
    cpu_tree(tmp_path)
    write(
        tmp_path,
        {
            "sys/class/powercap/intel-rapl:0/max_energy_range_uj": 10_000_000,
            "sys/class/powercap/intel-rapl:0/energy_uj": 9_000_000,
        },
    )
    clock = Clock()
    reader = CpuReader(tmp_path, psutil=FakePsutil(), clock=clock)
    reader.read()
    clock.now += 1
    write(
        tmp_path,
        {
            "sys/class/powercap/intel-rapl:0/energy_uj": 2_000_000,  # wrapped: +3 J
            "sys/class/powercap/intel-rapl:1/energy_uj": 3_000_000,
        },
    )  # unchanged
    assert reader.read().cpu.package_power_w == pytest.approx(3.0)


def test_amd_cpu_temperature_from_k10temp(tmp_path: Path) -> None:
    cpu_tree(tmp_path, sensor="k10temp", rapl=False)
    part = CpuReader(tmp_path, psutil=FakePsutil()).read()
    assert part.cpu.temp_c == 71.5 and part.cpu.temp_high_c is None
    assert part.absent == ("no CPU package power meter (RAPL)",)


def test_rapl_readable_only_by_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cpu_tree(tmp_path)
    real_read_text = Path.read_text

    def read_text(self: Path, *args, **kwargs) -> str:
        if self.name == "energy_uj":  # mode 0400 since 5.10; root would read it, so refuse here
            raise PermissionError(13, "Permission denied", str(self))
        return real_read_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)
    reader = CpuReader(tmp_path, psutil=FakePsutil())
    for _ in range(2):
        part = reader.read()
        assert part.cpu.package_power_w is None
        assert part.problems == ("CPU package power: RAPL needs root (energy_uj is not readable)",)


def test_machine_without_sensors(tmp_path: Path) -> None:
    (tmp_path / "sys/class/hwmon").mkdir(parents=True)
    part = CpuReader(tmp_path, psutil=FakePsutil()).read()
    assert part.cpu.temp_c is None and part.cpu.package_power_w is None and part.cpu.util_percent == 25
    assert part.absent == ("no CPU temperature sensor", "no CPU package power meter (RAPL)")


def test_without_sysfs_psutil_sensors_are_used(tmp_path: Path) -> None:
    ps = FakePsutil()
    ps.temperatures = {"coretemp": [SimpleNamespace(label="Package id 0", current=58.0, high=90.0, critical=100.0)]}
    part = CpuReader(tmp_path, psutil=ps).read()
    assert part.cpu.temp_c == 58 and part.cpu.temp_high_c == 90
