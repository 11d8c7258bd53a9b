"""Samples in words (pane lines, one-line summary, JSON) and a remote server's own figures."""

from __future__ import annotations

import json

import pytest

from tui.domain import ModelInfo
from tui.engines.ollama.engine import OllamaEngine
from tui.stats.alerts import alerts_for
from tui.stats.remote import from_model_list, remote_lines
from tui.stats.report import cpu_lines, gpu_lines, summary, text_report, to_json
from tui.stats.sample import CpuReading, GpuProcess, GpuReading, RemoteModel, RemoteStats, StatsSample

FULL = GpuReading(
    0,
    "nvidia",
    "RTX 4090",
    util_percent=45,
    vram_used=20 * 2**30,
    vram_total=24 * 2**30,
    temp_c=67,
    temp_slowdown_c=87,
    power_w=215,
    power_limit_w=450,
    fan_percent=30,
    sm_clock_mhz=2520,
    mem_clock_mhz=10501,
    throttle=("power",),
    processes=(GpuProcess(42, "python3", 18 * 2**30, ours=True), GpuProcess(7, "Xorg", None)),
)


def test_gpu_lines_fit_a_narrow_pane() -> None:
    lines = gpu_lines(FULL)
    assert [text for text, _ in lines] == [
        "GPU0 RTX 4090",
        "util 45% · VRAM 20.0/24.0 GiB",
        "67°C · slowdown 87°C",
        "215/450 W · fan 30%",
        "SM 2520 · mem 10501 MHz",
        "throttling: power",
        "◆ 42 python3 18.0 GiB",
        "  7 Xorg",
    ]
    assert [kind for _, kind in lines][-2:] == ["ours", "dim"]
    assert all(len(text) <= 32 for text, _ in lines)


def test_unreported_metrics_leave_no_empty_words() -> None:
    bare = GpuReading(1, "amd", "Radeon", util_percent=3)
    assert [text for text, _ in gpu_lines(bare)] == ["GPU1 Radeon", "util 3%"]
    assert [text for text, _ in gpu_lines(GpuReading(0, "nvidia", "x", error="GPU is lost"))][
        -1
    ] == "not answering: GPU is lost"


def test_untrusted_names_cannot_steer_the_terminal() -> None:
    evil = GpuReading(0, "nvidia", "GPU\x1b[2J", processes=(GpuProcess(1, "x\x1b]0;pwned\x07", None),))
    assert all("\x1b" not in text for text, _ in gpu_lines(evil))


def test_cpu_lines_and_summary() -> None:
    cpu = CpuReading(
        util_percent=12,
        ram_used=12 * 2**30,
        ram_total=64 * 2**30,
        swap_used=0,
        swap_total=8 * 2**30,
        temp_c=55,
        package_power_w=35,
    )
    assert [text for text, _ in cpu_lines(cpu)] == ["CPU 12% · 55°C · 35 W", "RAM  12.0/64.0 GiB", "swap 0.0/8.0 GiB"]
    taken = StatsSample(time=0, wall=0, gpus=(FULL,), cpu=cpu)
    assert summary(taken) == "GPU0 45% 67°C 215W 20.0/24.0G · CPU 12% 55°C · RAM 12.0/64.0G"


def test_text_report_and_json() -> None:
    taken = StatsSample(
        time=5,
        wall=1_700_000_000.0,
        gpus=(FULL,),
        cpu=CpuReading(util_percent=1),
        missing=("no CPU temperature sensor",),
    )
    alerts = alerts_for(taken)
    report = text_report(taken, alerts)
    assert report.splitlines()[0] == "• GPU0 throttling (power)"
    assert report.splitlines()[-1] == "(no CPU temperature sensor)"
    data = json.loads(json.dumps(to_json(taken, alerts)))
    assert data["time"] == 1_700_000_000.0 and "wall" not in data
    assert data["gpus"][0]["processes"][0] == {"pid": 42, "name": "python3", "vram_bytes": 18 * 2**30, "ours": True}
    assert data["gpus"][0]["throttle"] == ["power"] and data["power_w"] == 215


NOW = 1717537111.0  # 2024-06-04T14:38:31-07:00
OLLAMA_LIST = [  # as OllamaEngine lists them: /api/ps folded into extra["running"]
    ModelInfo(
        name="llama3:8b",
        backend="ollama",
        extra={"running": {"size": 6_000_000_000, "size_vram": 4_500_000_000, "expires_at": NOW + 300.84}},
    ),
    ModelInfo(
        name="nomic-embed-text:latest",
        backend="ollama",
        extra={"running": {"size": 500_000_000, "size_vram": 500_000_000, "expires_at": 10_906_502_400.0}},
    ),  # year 2315
    ModelInfo(name="qwen2.5:7b", backend="ollama"),  # listed, not loaded
    ModelInfo(name="other", backend="lmstudio"),
]


def test_the_servers_loaded_models_are_read_from_its_list() -> None:
    remote = from_model_list(
        OLLAMA_LIST,
        backend="ollama",
        url="http://bob:pw@gpu-box:11434",
        reports_loaded=OllamaEngine.reports_loaded,
        now=NOW,
    )
    assert remote.host == "gpu-box:11434"  # no user or password
    first, second = remote.models
    assert (first.name, first.vram_share) == ("llama3:8b", 0.75)
    assert first.expires_at - NOW == pytest.approx(300.84, abs=0.01)
    assert second.expires_at is None  # keep_alive = -1: never unloads
    assert (
        from_model_list(
            OLLAMA_LIST[2:3], backend="ollama", url="h", reports_loaded=OllamaEngine.reports_loaded, now=NOW
        ).models
        == ()
    )
    assert from_model_list(OLLAMA_LIST, backend="lmstudio", url="h").error == "this server does not report them"
    offline = from_model_list([], backend="ollama", url="h", offline="connection refused")
    assert offline.error == "connection refused"


def test_remote_lines_say_whose_figures_these_are() -> None:
    lines = remote_lines(from_model_list(OLLAMA_LIST, backend="ollama", url="http://gpu-box:11434", now=NOW), now=NOW)
    assert lines[0] == "ollama runs on gpu-box:11434: the figures below are this machine's, not the server's."
    assert lines[1] == "llama3:8b: 75% in VRAM (4.2 GiB), unloads in 5 min"
    assert lines[2].endswith("100% in VRAM (0.5 GiB), no expiry")
    assert remote_lines(RemoteStats("ollama", "h"))[1] == "server: no model loaded"
    assert remote_lines(RemoteStats("ollama", "h", error="timed out"))[1] == "server figures unavailable: timed out"
    assert remote_lines(RemoteStats("ollama", "h", (RemoteModel("m"),)))[1] == "m: VRAM unknown, no expiry"
