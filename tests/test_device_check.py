"""The device check's CPU side (tests/gpu/device_check.sh, issue 22): its steps with the CPU build of
llama-cpp-python (the devices, the GGUF matrix with its estimate and logged buffers, the hidden GPU,
`lchat ask --json`), the verdict that refuses a CPU-only result, the pack tool's trimming on a small
fake sdist, and the script's syntax and its agreement with the pack tool."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.fake_nvml import FakeGpu, FakeNvml
from tests.gpu import device_steps
from tools.pack_llama_source import FA_KEPT, FA_QUANTS_OPTION, trim

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "gpu" / "device_check.sh"
TINY = {"small": {"n_embd": 256, "n_layer": 2, "n_ff": 512, "context_length": 4096}}
"""head_dim 64: a q8_0 K cache needs rows of whole 32-value blocks."""


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    written = device_steps.models(tmp_path_factory.mktemp("device") / "models", TINY)
    assert written["ok"], written
    return Path(written["models"]["small"]["path"])


def test_the_cpu_build_lists_the_cpu_through_one_libggml_and_the_verdict_refuses_it(model: Path) -> None:
    listed = device_steps.backends()
    assert listed["ok"] and listed["libggml_copies"] == 1, listed
    assert [d["type"] for d in listed["devices"]] == ["CPU"] and not listed["cuda_listed"]
    assert listed["devices"][0]["total_bytes"] > 0

    matrix = device_steps.matrix(model, contexts=(256, 2048))
    assert matrix["ok"], matrix
    rows = {(r["n_ctx"], r["kv"], r["flash_attention"]): r for r in matrix["rows"]}
    assert len(rows) == 8
    for row in rows.values():
        cpu = row["buffers"]["CPU"]
        assert row["gpu_backend"] == "CPU" and cpu["model_mib"] > 0 and cpu["kv_mib"] > 0, row
        assert row["estimate"]["gpu_bytes"] > 0 and row["logged_mib"]["CPU"] > 0
    # The K/V cache logged follows the type; without flash attention KQ grows with the context.
    assert (
        rows[(2048, "q8_0", True)]["buffers"]["CPU"]["kv_mib"] < rows[(2048, "f16", True)]["buffers"]["CPU"]["kv_mib"]
    )
    no_fa = rows[(2048, "f16", False)]["buffers"]["CPU"]["compute_mib"]
    assert no_fa > rows[(256, "f16", False)]["buffers"]["CPU"]["compute_mib"]
    assert no_fa > rows[(2048, "f16", True)]["buffers"]["CPU"]["compute_mib"]

    hidden = device_steps.hidden_gpu(model)
    assert hidden["ok"] and hidden["load"]["gpu_backend"] == "CPU" and hidden["reason"], hidden

    status, summary = device_steps.verdict({"backends": listed, "matrix": matrix, "hidden_gpu": hidden})
    assert status == 1 and not summary["cuda_listed"] and "CPU" in summary["why"]


def test_ask_json_reports_the_cpu_buffers_and_no_cuda0(model: Path, tmp_path: Path) -> None:
    asked = device_steps.ask_json(model, tmp_path / "home")
    assert asked["ok"], asked
    assert asked["gpu_backend"] == "CPU" and asked["buffers"]["CPU"]["model_mib"] > 0 and asked["cuda0_mib"] == 0


def test_the_verdict_passes_only_a_listed_cuda_device_with_cuda0_buffers() -> None:
    cuda = {"cuda_listed": True, "ok": True}
    on_gpu = {"ok": True, "cuda0_mib": 812.5}
    assert device_steps.verdict({"backends": cuda, "ask_json": on_gpu})[0] == 0
    # Listed, yet every buffer on the CPU: the silent fall back.
    status, summary = device_steps.verdict({"backends": cuda, "ask_json": {"ok": True, "cuda0_mib": 0}})
    assert status == 1 and "CUDA0" in summary["why"]
    row = {"buffers": {"CUDA0": {"model_mib": 60.0}, "CPU": {"model_mib": 1.0}}}
    assert device_steps.verdict({"backends": cuda, "matrix": {"rows": [row]}})[0] == 0
    assert device_steps.verdict({"matrix": {"rows": [row]}})[0] == 1


def test_a_step_that_fails_records_its_error_and_does_not_raise(model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device_steps, "_load_first", _no_runtime)
    result = device_steps.ballast(model)
    assert result["ok"] is False and "no CUDA runtime" in result["error"] and "seconds" in result


def _no_runtime(names: tuple[str, ...]) -> object:
    raise RuntimeError(f"no CUDA runtime library loads: {names[0]}: cannot open shared object file")


def test_the_cuda_libraries_are_found_in_the_pytorch_wheels_layout(tmp_path: Path) -> None:
    site = tmp_path / "site-packages"
    lib, include = site / "nvidia" / "cu13" / "lib", site / "nvidia" / "cu13" / "include"
    for path in (lib / "libcublas.so.13", lib / "libcublasLt.so.13", lib / "libcudart.so.13", include / "cublas_v2.h"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    found = device_steps.cuda_libs(search=[site])
    assert found["ok"] and found["ld_library_path"] == str(lib) and found["cublas_include"] == str(include)
    assert found["found"]["libcublas.so"] == str(lib / "libcublas.so.13")
    (lib / "libcudart.so.13").unlink()
    (include / "cublas_v2.h").unlink()
    missing = device_steps.cuda_libs(search=[site])
    assert not missing["ok"] and missing["missing"] == ["libcudart.so", "cublas_v2.h"]


def _fake_sdist(root: Path) -> Path:
    """The shape of llama_cpp_python-0.3.36.tar.gz, a few bytes a file."""
    files = [
        "pyproject.toml",
        "CMakeLists.txt",
        "README.md",
        "LICENSE.md",
        "llama_cpp/__init__.py",
        "tests/test_llama.py",
        "docs/index.md",
        "examples/chat.py",
        ".git/HEAD",
        "vendor/llama.cpp/CMakeLists.txt",
        "vendor/llama.cpp/LICENSE",
        "vendor/llama.cpp/pyproject.toml",
        "vendor/llama.cpp/cmake/common.cmake",
        "vendor/llama.cpp/src/llama.cpp",
        "vendor/llama.cpp/include/llama.h",
        "vendor/llama.cpp/common/common.cpp",
        "vendor/llama.cpp/vendor/nlohmann/json.hpp",
        "vendor/llama.cpp/models/ggml-vocab-llama.gguf",
        "vendor/llama.cpp/docs/build.md",
        "vendor/llama.cpp/tests/test-backend-ops.cpp",
        "vendor/llama.cpp/.github/workflows/build.yml",
        "vendor/llama.cpp/tools/mtmd/mtmd.cpp",
        "vendor/llama.cpp/tools/server/server.cpp",
        "vendor/llama.cpp/ggml/CMakeLists.txt",
        "vendor/llama.cpp/ggml/src/ggml.c",
        "vendor/llama.cpp/ggml/src/ggml-cpu/ggml-cpu.c",
        "vendor/llama.cpp/ggml/src/ggml-cuda/ggml-cuda.cu",
        "vendor/llama.cpp/ggml/src/ggml-cuda/template-instances/mmq-instance-q4_0.cu",
        "vendor/llama.cpp/ggml/src/ggml-cuda/template-instances/fattn-tile-instance-dkq64-dv64.cu",
        "vendor/llama.cpp/ggml/src/ggml-vulkan/ggml-vulkan.cpp",
        "vendor/llama.cpp/ggml/src/ggml-metal/ggml-metal.m",
    ]
    vec = [f"fattn-vec-instance-{k}-{v}.cu" for k in ("f16", "q8_0", "q4_0", "bf16") for v in ("f16", "q8_0", "q4_0")]
    files += [f"vendor/llama.cpp/ggml/src/ggml-cuda/template-instances/{name}" for name in vec]
    for name in files:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x" * 100)
    return root


def test_trimming_keeps_what_a_cuda_build_reads_and_drops_the_rest(tmp_path: Path) -> None:
    root = _fake_sdist(tmp_path / "llama_cpp_python-0.3.36")
    removed = trim(root)
    left = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    llama = "vendor/llama.cpp/"
    instances = llama + "ggml/src/ggml-cuda/template-instances/"
    assert left == sorted(
        ["pyproject.toml", "CMakeLists.txt", "README.md", "LICENSE.md", "llama_cpp/__init__.py"]
        + [llama + n for n in ("CMakeLists.txt", "LICENSE", "cmake/common.cmake", "src/llama.cpp", "include/llama.h")]
        + [llama + n for n in ("common/common.cpp", "vendor/nlohmann/json.hpp", "tools/mtmd/mtmd.cpp")]
        + [llama + n for n in ("ggml/CMakeLists.txt", "ggml/src/ggml.c", "ggml/src/ggml-cpu/ggml-cpu.c")]
        + [llama + "ggml/src/ggml-cuda/ggml-cuda.cu"]
        + [instances + n for n in ("mmq-instance-q4_0.cu", "fattn-tile-instance-dkq64-dv64.cu")]
        + [instances + f"fattn-vec-instance-{pair}.cu" for pair in FA_KEPT]
    )
    assert removed[llama + "models"] == 100 and removed[llama + "ggml/src/ggml-vulkan"] == 100
    assert removed["vendor/llama.cpp/ggml/src/ggml-cuda/fattn-vec instances"] == 100 * (12 - len(FA_KEPT))
    assert removed[".git"] == 100 and removed[llama + "tools/server"] == 100


def test_the_script_parses_and_builds_the_kernels_the_pack_tool_kept() -> None:
    if shutil.which("bash") is None:
        pytest.skip("no bash")
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    text = SCRIPT.read_text()
    assert re.search(rf"^FA_QUANTS={re.escape(FA_QUANTS_OPTION)}\b", text, re.M)
    assert {"f16-f16", *FA_QUANTS_OPTION.split(",")} == set(FA_KEPT)
    for step in re.search(r"for step in ([a-z_ ]+); do", text)[1].split():  # type: ignore[index]
        assert hasattr(device_steps, step), step


class _ChildOnTheGpu(FakeNvml):
    """NVML listing this process's children (the engine's child) as the GPU's compute processes,
    or, with `ours=False`, only a process that is not lchat's (pid 1)."""

    def __init__(self, *, ours: bool) -> None:
        super().__init__(FakeGpu(name="NVIDIA H100 80GB HBM3", power_mw=180_000, temp=41))
        self.ours = ours

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Any) -> Any:
        pids = [c.pid for c in psutil.Process().children(recursive=True)] if self.ours else [1]
        self.gpus[0].processes = [(pid, 300 << 20) for pid in pids]
        return super().nvmlDeviceGetComputeRunningProcesses(handle)


def test_the_stats_sample_attributes_the_childs_vram_or_fails(model: Path) -> None:
    sampled = device_steps.stats_sample(model, nvml=_ChildOnTheGpu(ours=True))
    assert sampled["ok"] and sampled["attributed"] and sampled["power_w"] == 180.0, sampled
    assert [p["vram_bytes"] for p in sampled["processes"] if p["ours"]] == [300 << 20]
    # Only someone else's process on the card: the child's VRAM is not attributed, the step fails.
    other = device_steps.stats_sample(model, nvml=_ChildOnTheGpu(ours=False))
    assert not other["attributed"] and other["ok"] is False and other["power_w"] == 180.0, other
