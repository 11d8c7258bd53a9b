"""GPU offload on a CPU machine: the build's choice (with a faked PATH), the layers chosen from a
faked VRAM figure (NVML faked at the binding), the fallback, the report, and fit before download."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.fake_nvml import DRIVER_NOT_LOADED, FakeGpu, FakeNvml
from tests.gguf_files import write_tiny_llama
from tui.config import ConfigError
from tui.config.read import load_config
from tui.domain import ChatTurn, GenerationOptions, ModelInfo, Role
from tui.engines.base import Engine, EngineError, Finished
from tui.engines.embedded import load_errors, offload_child
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.embedded.ggml_devices import Device
from tui.engines.embedded.gguf_info import read_gguf_info
from tui.engines.embedded.gpu_build import flavour_in, loadable_backends
from tui.engines.embedded.llama_log import INFO, LlamaLog, LoadRecord
from tui.engines.embedded.load_errors import LoadFailure
from tui.engines.manage import Progress
from tui.fit.estimate import GIB, MIB, Memory
from tui.fit.memory import MemorySnapshot, read_vram
from tui.fit.offload import (
    KV_CACHE_TYPES,
    LayerSizes,
    cache_types,
    offload_rows,
    plan,
    reserve,
)
from tui.models.catalog import Catalog, state_text
from tui.models.download_fit import best_first, size_fit, with_fit
from tui.stats.sample import CpuReading, GpuProcess, GpuReading, StatsSample

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "gpu_flavour.py"


def _tool():
    spec = importlib.util.spec_from_file_location("gpu_flavour", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_toolkit(root: Path, *, cublas: bool) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "lib64").mkdir()
    nvcc = root / "bin" / "nvcc"
    nvcc.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 13.0'\n")
    nvcc.chmod(0o755)
    if cublas:
        (root / "lib64" / "libcublas.so.13").write_bytes(b"")
    return root


def fake_smi(folder: Path, output: str = "GPU 0: NVIDIA H200 (UUID: GPU-1)", code: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    smi = folder / "nvidia-smi"
    smi.write_text(f"#!/bin/sh\necho '{output}'\nexit {code}\n")
    smi.chmod(0o755)


def run_tool(path: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, str(TOOL)], env={"PATH": path, **env}, capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()


# Which build `make` chooses


def test_nvcc_without_a_driver_keeps_the_cpu_build(tmp_path: Path) -> None:
    """These machines and CI: nvcc (with cuBLAS even) on PATH, no nvidia-smi, no libcuda."""
    toolkit = fake_toolkit(tmp_path / "cuda", cublas=True)
    assert run_tool(f"{toolkit / 'bin'}:/usr/bin:/bin", {"CUDA_HOME": str(toolkit)}) == "cpu"


def test_a_driver_that_answers_is_not_enough_without_libcuda(tmp_path: Path) -> None:
    toolkit = fake_toolkit(tmp_path / "cuda", cublas=True)
    fake_smi(tmp_path / "bin")
    tool = _tool()
    loads = tool.libcuda_loads()  # This machine has no libcuda: the script must say cpu.
    out = run_tool(f"{tmp_path / 'bin'}:{toolkit / 'bin'}:/usr/bin:/bin", {"CUDA_HOME": str(toolkit)})
    assert out == ("cuda" if loads else "cpu")


def test_cuda_only_with_driver_libcuda_and_cublas(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tool = _tool()
    with_cublas = fake_toolkit(tmp_path / "full", cublas=True)
    without = fake_toolkit(tmp_path / "bare", cublas=False)
    fake_smi(tmp_path / "bin")
    failing = tmp_path / "failing"
    fake_smi(failing, output="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver", code=9)
    monkeypatch.setattr(tool, "libcuda_loads", lambda: True)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    assert tool.choose({"CUDA_HOME": str(with_cublas)}) == "cuda"
    assert tool.toolkit_with_cublas({"CUDA_HOME": str(without)}, which=lambda _: None, usual=()) is None
    monkeypatch.setattr(tool, "toolkit_with_cublas", lambda env: None)
    assert tool.choose({}) == "cpu"
    monkeypatch.undo()
    monkeypatch.setattr(tool, "libcuda_loads", lambda: True)
    monkeypatch.setenv("PATH", f"{failing}:/usr/bin:/bin")
    assert tool.choose({"CUDA_HOME": str(with_cublas)}) == "cpu"
    # nvcc found on PATH (a wrapper's folder) leads to its toolkit too.
    assert tool.toolkit_with_cublas({}, which=lambda _: str(with_cublas / "bin" / "nvcc"), usual=()) == with_cublas
    assert _tool().libcuda_loads(load=lambda name: (_ for _ in ()).throw(OSError(name))) is False


def make_n(tmp_path: Path, *args: str, path: str = "/usr/bin:/bin") -> str:
    env = {"PATH": path, "HOME": str(tmp_path)}
    return subprocess.run(
        ["make", "-n", "-C", str(ROOT), "install", f"VENV={tmp_path}/venv", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


@pytest.mark.skipif(not any((Path(d) / "make").exists() for d in ("/usr/bin", "/bin")), reason="no make")
def test_make_builds_each_flavour_into_its_own_cache(tmp_path: Path) -> None:
    toolkit = fake_toolkit(tmp_path / "cuda", cublas=True)
    cpu = make_n(tmp_path, path=f"{toolkit / 'bin'}:/usr/bin:/bin")
    assert f"{tmp_path}/.cache/lchat/wheels/llama-cpp-python-0.3.36-noamx-mtmd " in cpu + " "
    assert "GGML_CUDA" not in cpu and "-mno-amx-tile" in cpu and "touch " + f"{tmp_path}/venv/.flavour-cpu" in cpu
    cuda = make_n(tmp_path, "GPU=cuda", "CUDA_ARCHS=90")
    assert "-DGGML_CUDA=on -DGGML_BACKEND_DL=on -DGGML_NATIVE=off" in cuda and "-DCMAKE_CUDA_ARCHITECTURES=90" in cuda
    # llama.cpp refuses GGML_NATIVE beside GGML_BACKEND_DL; the CPU backend names its features instead.
    assert "-DGGML_AVX2=on" in cuda and "AMX" not in cuda.replace("-mno-amx", "")
    assert "wheels/llama-cpp-python-0.3.36-noamx-mtmd-cuda-sm90" in cuda and "-mno-amx-tile" in cuda
    assert "--force-reinstall" in cuda
    vulkan = make_n(tmp_path, "GPU=vulkan")
    assert "-DGGML_VULKAN=on" in vulkan and "noamx-mtmd-vulkan" in vulkan
    assert "-DGGML_NATIVE=off" in vulkan
    wrong = subprocess.run(
        ["make", "-n", "-C", str(ROOT), "install", "GPU=rocm"], capture_output=True, text=True, check=False
    )
    assert wrong.returncode != 0 and "choose cuda, vulkan, metal or cpu" in wrong.stderr


def test_the_installed_flavour_is_read_from_its_files(tmp_path: Path) -> None:
    lib, bin_ = tmp_path / "lib", tmp_path / "bin"
    lib.mkdir()
    bin_.mkdir()
    (lib / "libggml-base.so").write_bytes(b"")
    assert flavour_in([lib, bin_]) == "cpu" and loadable_backends([lib, bin_]) is None
    (bin_ / "libggml-cuda.so").write_bytes(b"")
    (bin_ / "libggml-cpu.so").write_bytes(b"")
    assert flavour_in([lib, bin_]) == "cuda" and loadable_backends([lib, bin_]) == bin_


# The fit estimate in layers


def big_model(layers: int = 29, layer_mb: int = 150, ctx_kv_heads: int = 8) -> ModelInfo:
    kv = {"layers": layers, "kv_heads": ctx_kv_heads, "key_length": 128, "value_length": 128}
    offload = {"layer_bytes": layer_mb * 10**6, "output_bytes": 400 * 10**6}
    size = layers * layer_mb * 10**6 + 800 * 10**6
    return ModelInfo(
        "/m/big.gguf", "embedded", path="/m/big.gguf", size_bytes=size, extra={"kv": kv, "offload": offload}
    )


def test_auto_takes_every_layer_that_fits_leaving_the_reserve() -> None:
    model = big_model()
    sizes = LayerSizes.of(model)
    assert sizes is not None
    kv_layer = sizes.kv_layer_bytes(4096)
    assert kv_layer == 4096 * 8 * 256 * 2
    full = sizes.gpu_bytes(29, kv_layer)
    roomy = Memory("VRAM", full + reserve(Memory("VRAM", 0, 24 * GIB)), 24 * GIB)
    fits = plan(model, 4096, roomy)
    assert fits and (fits.layers, fits.total, fits.verdict) == (29, 29, "fits on GPU")
    assert fits.gpu_bytes == full
    short = plan(model, 4096, Memory("VRAM", full + reserve(roomy) - 1, 24 * GIB))
    assert short and short.verdict == "partly on GPU (28/29 layers)"  # The output layer comes with the last.
    half = plan(model, 4096, Memory("VRAM", 3 * GIB, 8 * GIB))
    assert half and 0 < half.layers < 29 and sizes.gpu_bytes(half.layers, kv_layer) <= 3 * GIB - 819 * MIB - 1
    assert sizes.gpu_bytes(half.layers + 1, kv_layer) > 3 * GIB - reserve(Memory("VRAM", 0, 8 * GIB))
    none = plan(model, 4096, Memory("VRAM", 600 * MIB, 8 * GIB))
    assert none and none.verdict == "CPU only" and none.gpu_bytes == 0
    assert reserve(Memory("VRAM", 0, 80 * GIB)) == 8 * GIB and reserve(Memory("VRAM", 0, 2 * GIB)) == 512 * MIB


def test_a_chosen_number_falls_back_to_what_fits_with_a_note() -> None:
    model = big_model()
    asked = plan(model, 4096, Memory("VRAM", 40 * GIB, 48 * GIB), wanted=10)
    assert asked and asked.layers == 10 and not asked.note
    capped = plan(model, 4096, Memory("VRAM", 40 * GIB, 48 * GIB), wanted=99)
    assert capped and capped.layers == 29
    squeezed = plan(model, 4096, Memory("VRAM", 2 * GIB, 8 * GIB), wanted=29)
    assert squeezed and squeezed.layers < 29 and f": {squeezed.layers} go to the GPU" in squeezed.note
    unknown = plan(model, 4096, None, wanted=12)
    assert unknown and unknown.layers == 12 and unknown.vram is None
    assert plan(ModelInfo("x", "embedded", size_bytes=10), 4096, None) is None  # No layers known.


def test_kv_cache_type_and_flash_attention_change_the_estimate() -> None:
    sizes = LayerSizes.of(big_model())
    assert sizes is not None
    f16 = sizes.kv_layer_bytes(8192)
    assert sizes.kv_layer_bytes(8192, "q8_0", True) == int(f16 * KV_CACHE_TYPES["q8_0"] / 2)
    # Without flash attention only K is quantised: V stays f16.
    assert sizes.kv_layer_bytes(8192, "q4_0", False) == int(8192 * 8 * 128 * (18 / 32 + 2))
    assert cache_types("q4_0", False) == ("q4_0", "f16") and cache_types("q4_0", True) == ("q4_0", "q4_0")
    tight = Memory("VRAM", 6 * GIB, 8 * GIB)
    plain, small = (
        plan(big_model(), 32768, tight),
        plan(big_model(), 32768, tight, kv_cache_type="q4_0", flash_attention=True),
    )
    assert plain and small and small.layers > plain.layers


def test_gguf_header_gives_the_weights_per_layer(tmp_path: Path) -> None:
    info = read_gguf_info(write_tiny_llama(tmp_path / "t.gguf"))
    blocks = 2 * 4 * (64 + 64 * 64 * 2 + 64 * 32 * 2 + 128 * 64 * 3 + 64)
    assert info.extra["offload"] == {"layer_bytes": blocks // 2, "output_bytes": 4 * 64 * 356}
    assert info.extra["kv"]["layers"] == 2


def test_catalog_reasons_in_layers_on_a_gpu_build_only(tmp_path: Path) -> None:
    from tui.config import Config

    model = big_model()
    memory = MemorySnapshot(ram=Memory("RAM", 64 * GIB, 64 * GIB), gpu=Memory("VRAM", 3 * GIB, 8 * GIB))

    def engines(config: Config, flavour: str) -> dict[str, Engine]:
        gpu_layers = None if config.engine.gpu_layers == "auto" else int(config.engine.gpu_layers)
        return {"embedded": EmbeddedEngine(models_dir=tmp_path, flavour=flavour, gpu_layers=gpu_layers)}

    on_gpu = Catalog(Config(), memory=memory, engines=engines(Config(), "cuda"))
    fit = on_gpu.fit(model)
    assert fit is not None and fit.verdict.startswith("partly on GPU (") and fit.verdict.endswith("/29 layers)")
    assert "layers on the GPU" in fit.explain() and "free VRAM" in fit.explain()
    config = Config()
    config.engine.gpu_layers = 0
    assert Catalog(config, memory=memory, engines=engines(config, "cuda")).fit(model).verdict == "CPU only"  # type: ignore[union-attr]
    cpu_build = Catalog(Config(), memory=memory, engines=engines(Config(), "cpu"), loads_into={"embedded": "RAM"}).fit(
        model
    )
    assert cpu_build is not None and cpu_build.verdict == "fits" and "free RAM" in cpu_build.explain()
    # What the engine reported about its load is the models pane's loaded line.
    running = {"size_vram": 5_100_000_000, "gpu_layers": 29, "layers": 29, "gpu_backend": "CUDA"}
    loaded = ModelInfo("m", "embedded", extra={"running": running})
    assert state_text(loaded) == "loaded · GPU 29/29 layers · 5.1 GB"
    on_cpu = ModelInfo("m", "embedded", extra={"running": {"gpu_layers": 0, "layers": 2, "gpu_backend": "CPU"}})
    assert state_text(on_cpu) == "loaded · CPU"
    rows = dict(offload_rows(loaded, "q8_0", False, "auto"))
    assert rows["GPU offload"] == "CUDA: 29/29 layers on the GPU, 5.1 GB of VRAM"
    assert "K q8_0, V f16" in rows["Load options"] and "next load" in rows["Load options"]


def test_free_vram_comes_from_nvml() -> None:
    two = FakeNvml(FakeGpu(used=6 * GIB, total=24 * GIB), FakeGpu(used=GIB, total=16 * GIB))
    assert read_vram(two) == Memory("VRAM", 33 * GIB, 40 * GIB, (18 * GIB, 15 * GIB))  # each card's free too
    assert read_vram(FakeNvml(init_error=DRIVER_NOT_LOADED)) is None


# The child's side, with llama_cpp faked where a GPU would be needed


def test_a_failed_load_retries_with_fewer_layers_only_for_want_of_memory() -> None:
    tried: list[int] = []
    memory = LoadFailure(load_errors.MEMORY, "unable to allocate CUDA0 buffer")

    def make(layers: int) -> str:
        tried.append(layers)
        if layers < 0 or layers > 7:
            raise ValueError("Failed to load model from file")
        return f"model with {layers}"

    assert offload_child.load_with_fallback(make, -1, 29, lambda exc: memory) == (
        "model with 7",
        7,
        "29 layers did not load on the GPU (out of memory: unable to allocate CUDA0 buffer): 7 did",
    )
    assert tried == [-1, 14, 7]
    assert offload_child.load_with_fallback(make, 5, 29, lambda exc: memory) == ("model with 5", 5, "")

    def never(layers: int) -> None:
        tried.append(layers)
        raise ValueError("Failed to load model from file")

    tried.clear()
    with pytest.raises(
        offload_child.LoadFailed, match=r"^out of memory: unable .* \(tried 4, 2, 1 and 0 layers on the GPU\)$"
    ):
        offload_child.load_with_fallback(never, 4, 29, lambda exc: memory)
    assert tried == [4, 2, 1, 0]
    tried.clear()
    bad_file = LoadFailure(load_errors.CONFIGURATION, "unknown model architecture: 'futurenet'")
    with pytest.raises(
        offload_child.LoadFailed, match=r"^configuration error: unknown model architecture: 'futurenet'$"
    ):
        offload_child.load_with_fallback(never, -1, 29, lambda exc: bad_file)
    assert tried == [-1]  # Loaded once: fewer layers would fail the same.


def cpu_and(*gpus: tuple[str, str]) -> list[Device]:
    cpu = Device("CPU", "a CPU", "CPU", "CPU", 8 * GIB, 16 * GIB)
    return [cpu, *(Device(name, "a GPU", "GPU", backend, 20 * GIB, 24 * GIB) for name, backend in gpus)]


def test_the_report_says_what_llama_cpp_did_and_names_each_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    llm = SimpleNamespace(model=object())
    # No ggml "features" for Vulkan in the system info: the device list names it all the same.
    vulkan = fake_llama_cpp(True, b"CPU : SSE3 = 1 | AVX = 1 | ")
    record = LoadRecord()
    for line in (
        "load_tensors: offloaded 29/30 layers to GPU",
        "load_tensors: Vulkan0 model buffer size = 1024.00 MiB",
    ):
        record.take(INFO, line)
    report = offload_child.report(vulkan, llm, -1, "", record, cpu_and(("Vulkan0", "Vulkan")))
    assert {k: report[k] for k in ("gpu_backend", "gpu_layers", "layers", "note")} == {
        "gpu_backend": "Vulkan",
        "gpu_layers": 29,  # As llama.cpp capped it, of n_layer + 1 (the output layer counts).
        "layers": 30,
        "note": "",
    }
    assert report["buffers"] == {"Vulkan0": {"model_mib": 1024.0}} and report["vram_by_device"] == {"Vulkan0": GIB}
    assert [d["name"] for d in report["devices"]] == ["CPU", "Vulkan0"]
    cuda = fake_llama_cpp(True, b"CUDA : ARCHS = 900 | CPU : SSE3 = 1 | ")
    assert offload_child.report(cuda, llm, 12, "n", LoadRecord(), cpu_and(("CUDA0", "CUDA")))["gpu_layers"] == 12
    assert offload_child.report(cuda, llm, -1, "", LoadRecord(), [])["gpu_backend"] == "CUDA"  # No device list.
    no_gpu = fake_llama_cpp(False, b"CPU : SSE3 = 1 | ")
    monkeypatch.setattr(offload_child, "built_flavour", lambda: "cuda")
    missing = offload_child.report(no_gpu, llm, -1, "", LoadRecord(), cpu_and())
    assert missing["gpu_backend"] == "CPU" and missing["gpu_layers"] == 0
    assert missing["note"] == (
        "this is a CUDA build of llama.cpp, but no CUDA driver or device was found: running on the CPU"
    )
    # The log callback is set before the backends load: the reason a backend failed is heard.
    failed = "ggml_backend_load_best: failed to load libggml-cuda.so: libcuda.so.1: cannot open shared object file"
    monkeypatch.setattr(LlamaLog, "startup", LoadRecord(errors=[failed]))
    assert offload_child.report(no_gpu, llm, -1, "", LoadRecord(), cpu_and())["note"].endswith(f"on the CPU; {failed}")
    monkeypatch.setattr(offload_child, "built_flavour", lambda: "cpu")
    assert offload_child.report(no_gpu, llm, 0, "", LoadRecord(), cpu_and())["note"] == ""


def fake_llama_cpp(offload: bool, info: bytes) -> SimpleNamespace:
    return SimpleNamespace(
        llama_supports_gpu_offload=lambda: offload,
        llama_print_system_info=lambda: info,
        llama_model_n_layer=lambda model: 29,
    )


# The engine end to end on the CPU build, with VRAM from a faked NVML


@pytest.fixture
def tiny(tmp_path: Path) -> str:
    (tmp_path / "models").mkdir()
    return str(write_tiny_llama(tmp_path / "models" / "tiny.gguf"))


async def answer(engine: EmbeddedEngine, model: str) -> list:
    opts = GenerationOptions(temperature=0.0, max_tokens=4)
    return [e async for e in engine.chat(model, [ChatTurn(Role.USER, "hi")], opts)]


@pytest.mark.parametrize("layers", [None, 2, 0])
async def test_the_engine_asks_for_layers_and_reports_what_ran(tmp_path: Path, tiny: str, layers: int | None) -> None:
    nvml = FakeNvml(FakeGpu(used=2 * GIB, total=24 * GIB))
    reads: list[Memory | None] = []

    def vram() -> Memory | None:
        reads.append(read_vram(nvml))
        return reads[-1]

    engine = EmbeddedEngine(
        models_dir=tmp_path / "models",
        n_threads=1,
        n_ctx=512,
        gpu_layers=layers,
        vram=vram,
        flavour="cuda",
        log_path=tmp_path / "engine.log",
    )
    try:
        assert isinstance((await answer(engine, tiny))[-1], Finished)
        [listed] = [m for m in await engine.list_models() if m.path == tiny]
        running = listed.extra["running"]
        # This llama-cpp-python is the CPU build: whatever was asked, nothing ran on a GPU.
        assert (running["gpu_backend"], running["gpu_layers"], running["size_vram"]) == ("CPU", 0, 0)
        assert len(reads) == (2 if layers != 0 else 0)  # Free VRAM before and after the load.
        assert isinstance((await answer(engine, tiny))[-1], Finished)
        assert len(reads) == (2 if layers != 0 else 0)  # The model stays: no new decision, no reload.
    finally:
        await engine.aclose()


async def test_too_little_vram_for_the_chosen_layers_is_a_note_not_a_crash(tmp_path: Path, tiny: str) -> None:
    nvml = FakeNvml(FakeGpu(used=900 * MIB, total=GIB))
    engine = EmbeddedEngine(
        models_dir=tmp_path / "models",
        n_threads=1,
        n_ctx=512,
        gpu_layers=2,
        vram=lambda: read_vram(nvml),
        flavour="cuda",
        log_path=tmp_path / "engine.log",
    )
    try:
        finished = (await answer(engine, tiny))[-1]
        assert isinstance(finished, Finished) and finished.notice.endswith(
            ": 0 go to the GPU"
        )  # Said once, with the answer.
        [listed] = [m for m in await engine.list_models() if m.path == tiny]
        assert listed.extra["running"]["note"].endswith(": 0 go to the GPU")
        assert (await answer(engine, tiny))[-1].notice == ""
        assert "GPU offload: 2 layers need" in (tmp_path / "engine.log").read_text()
    finally:
        await engine.aclose()


async def test_cpu_build_never_reads_vram(tmp_path: Path, tiny: str) -> None:
    def vram() -> Memory:
        raise AssertionError("the CPU build has no use for VRAM figures")

    engine = EmbeddedEngine(models_dir=tmp_path / "models", n_threads=1, n_ctx=512, vram=vram, flavour="cpu")
    try:
        assert isinstance((await answer(engine, tiny))[-1], Finished)
    finally:
        await engine.aclose()


# Config


def test_config_takes_auto_a_number_or_zero_and_the_cache_types(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    for value, expected in (('"auto"', "auto"), ("20", 20), ("0", 0)):
        path.write_text(f'[engine]\ngpu_layers = {value}\nkv_cache_type = "q8_0"\nflash_attention = true\n')
        engine = load_config(path).config.engine
        assert (engine.gpu_layers, engine.kv_cache_type, engine.flash_attention) == (expected, "q8_0", True)
    for bad, words in (
        ('gpu_layers = "max"', 'engine.gpu_layers must be "auto" or a number'),
        ("gpu_layers = -1", "engine.gpu_layers must be"),
        ("gpu_layers = true", "engine.gpu_layers must be"),
        ('kv_cache_type = "q2"', 'engine.kv_cache_type must be "f16", "q8_0" or "q4_0"'),
    ):
        path.write_text(f"[engine]\n{bad}\n")
        with pytest.raises(ConfigError, match=words):
            load_config(path)


# Fit before download


def test_each_quantization_gets_its_fit_best_fitting_quality_first() -> None:
    memory = MemorySnapshot(ram=Memory("RAM", 16 * GIB, 32 * GIB), gpu=Memory("VRAM", 8 * GIB, 12 * GIB))
    sizes = {"Q2_K": 3 * GIB, "Q4_K_M": 5 * GIB, "Q8_0": 9 * GIB, "F16": 17 * GIB, "?": None}
    ranked = best_first(list(sizes), sizes.get, memory, gpu=True)
    assert [(name, fit.verdict if fit else None) for name, fit in ranked] == [
        ("Q4_K_M", "fits on GPU"),
        ("Q2_K", "fits on GPU"),
        ("Q8_0", "partly on GPU (~69% of layers)"),
        ("F16", "partly on GPU (~37% of layers)"),
        ("?", None),
    ]
    on_cpu = best_first(list(sizes), sizes.get, memory, gpu=False)
    assert [(name, fit.verdict if fit else None) for name, fit in on_cpu] == [
        ("Q8_0", "fits in RAM"),
        ("Q4_K_M", "fits in RAM"),
        ("Q2_K", "fits in RAM"),
        ("F16", "won't fit"),
        ("?", None),
    ]
    assert not size_fit(17 * GIB, memory, gpu=False).fits  # type: ignore[union-attr]
    assert size_fit(GIB, None, gpu=True) is None


async def test_a_pull_shows_the_fit_once_its_size_is_known_and_asks_before_what_will_not_fit() -> None:
    memory = MemorySnapshot(ram=Memory("RAM", 8 * GIB, 16 * GIB), gpu=None)

    async def pull(total: int):
        yield Progress("pulling manifest")
        for done in (0, total // 2, total):
            yield Progress("pulling 1a2b", done, total)
        yield Progress("success")

    asked: list[str] = []

    async def go_on(answer: bool):
        async def ask(fit) -> bool:
            asked.append(fit.verdict)
            return answer

        return ask

    small = [
        s.status async for s in with_fit(pull(2 * GIB), lambda n: size_fit(n, memory, gpu=True), await go_on(True))
    ]
    assert small == ["pulling manifest", *["fits in RAM"] * 3, "success"]
    assert asked == []
    kept = [s async for s in with_fit(pull(40 * GIB), lambda n: size_fit(n, memory, gpu=True), await go_on(True))]
    assert len(kept) == 5 and asked == ["won't fit"]
    with pytest.raises(EngineError, match="stopped: 42.9 GB will not fit \\(8.6 GB free RAM\\)"):
        async for _ in with_fit(pull(40 * GIB), lambda n: size_fit(n, memory, gpu=True), await go_on(False)):
            pass


# Energy counts the GPU the model ran on


def test_energy_counts_the_gpus_the_model_runs_on() -> None:
    ours = GpuProcess(4242, "python3", 5 * GIB, True)
    busy = GpuReading(0, "nvidia", "H200", power_w=400.0, processes=(ours,))
    idle = GpuReading(1, "nvidia", "H200", power_w=80.0)
    cpu = CpuReading(package_power_w=50.0)
    sample = StatsSample(time=0.0, wall=0.0, gpus=(busy, idle), cpu=cpu)
    assert sample.model_power_w == 450.0 and sample.power_w == 530.0
    hidden = StatsSample(time=0.0, wall=0.0, gpus=(GpuReading(0, "nvidia", "H200", power_w=400.0), idle), cpu=cpu)
    assert hidden.model_power_w == 530.0  # No process visible: every GPU counts.


def test_detection_script_runs_without_the_venv() -> None:
    """make runs it with the system python, before any package is installed."""
    out = subprocess.run(
        ["python3", "-S", str(TOOL)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        check=False,
    )
    assert out.returncode == 0 and out.stdout.strip() in ("cpu", "cuda")


# Fit before download, in the app


async def test_the_hf_chooser_shows_each_fit_and_asks_before_what_will_not_fit(open_services, paths, tmp_path) -> None:
    from tests.fake_hub import HubState, start_hub
    from tests.test_model_files_app import answer as fill
    from tests.test_model_files_app import notes, press_keys
    from tests.test_models_pane import SIZE, settle
    from tui.config import Config
    from tui.ui.app import LchatApp
    from tui.ui.screens.confirm import ConfirmScreen
    from tui.ui.screens.prompts import ChoiceQuestion

    tiny = write_tiny_llama(tmp_path / "tiny.gguf").read_bytes()
    big = tiny + bytes(20 * 10**6)
    hub = start_hub(HubState(repos={"org/Tiny-GGUF": {"tiny-Q4_0.gguf": tiny, "tiny-Q8_0.gguf": big}}))
    try:
        config = Config()
        config.models.hf_endpoint = hub.url
        engine = EmbeddedEngine(models_dir=paths.models_dir, include_starter=False, n_threads=1)
        app = LchatApp(open_services(engine, config=config))
        async with app.run_test(size=SIZE) as pilot:
            await settle(app, pilot)
            # 270 MiB of RAM free: the small file is tight, the big one will not fit (no GPU here).
            app.screen.manager.memory_now = lambda: MemorySnapshot(ram=Memory("RAM", 270 * MIB, GIB), gpu=None)
            await press_keys(pilot, "h")
            await fill(pilot, "org/Tiny-GGUF")
            for _ in range(100):
                await pilot.pause()
                if isinstance(app.screen, ChoiceQuestion):
                    break
                await asyncio.sleep(0.02)
            assert isinstance(app.screen, ChoiceQuestion)
            labels = [label for _, label in app.screen.choices]
            assert labels[0].startswith("Q4_0") and labels[0].endswith("tight in RAM")
            assert labels[1].startswith("Q8_0") and labels[1].endswith("won't fit")
            await pilot.press("down", "enter")
            for _ in range(100):
                await pilot.pause()
                if isinstance(app.screen, ConfirmScreen):
                    break
            assert isinstance(app.screen, ConfirmScreen)
            assert "tiny-Q8_0.gguf (20.5 MB) will not fit: 283.1 MB free RAM" in app.screen.question
            await pilot.press("n")
            await app.workers.wait_for_complete()
            assert not (paths.models_dir / "tiny-Q8_0.gguf").exists() and "Downloaded" not in notes(app)
    finally:
        hub.stop()


async def test_ask_json_says_where_the_model_ran(open_services, tmp_path: Path, tiny: str) -> None:
    import io
    import json

    from tui.cli.ask_stream import ask

    nvml = FakeNvml(FakeGpu(used=2 * GIB, total=24 * GIB))
    engine = EmbeddedEngine(
        models_dir=tmp_path / "models",
        include_starter=False,
        n_threads=1,
        n_ctx=512,
        vram=lambda: read_vram(nvml),
        flavour="cuda",
    )
    out = io.StringIO()
    try:
        assert await ask(open_services(engine), "hi", model="tiny.gguf", as_json=True, out=out) == 0
    finally:
        await engine.aclose()
    result = json.loads(out.getvalue())
    assert (result["gpu_backend"], result["gpu_layers"]) == ("CPU", 0)  # Asked for all; this build has no GPU.
    assert result["flash_attn"] == "disabled" and result["gpu_note"] is None  # As llama.cpp logged it.
