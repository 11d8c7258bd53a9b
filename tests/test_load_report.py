"""What a load allocated, from llama.cpp's own log (issue 22, item 1) and ggml's devices (item 2),
with real llama.cpp on the CPU: the per-device buffer lines parsed, carried by the engine's
report and `lchat ask --json`, and ggml's device list asked through ctypes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gguf_files import starter_model
from tui.domain import ModelInfo
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.embedded.llama_log import ERROR, INFO, WARN, LlamaLog, LoadRecord, device_of
from tui.fit.offload import buffers_line, offload_rows

ROOT = Path(__file__).resolve().parents[1]
STARTER = starter_model()
needs_starter = pytest.mark.skipif(STARTER is None, reason="starter model not installed")

CUDA_LOAD = [
    (INFO, "load_tensors: offloading 28 repeating layers to GPU"),
    (INFO, "load_tensors: offloading output layer to GPU"),
    (INFO, "load_tensors: offloaded 29/29 layers to GPU"),
    (INFO, "load_tensors:        CUDA0 model buffer size =  4168.09 MiB"),
    (INFO, "load_tensors:   CPU_Mapped model buffer size =   292.36 MiB"),
    (INFO, "llama_context:  CUDA_Host  output buffer size =     0.58 MiB"),
    (INFO, "llama_kv_cache:      CUDA0 KV buffer size =   448.00 MiB"),
    (INFO, "sched_reserve:      CUDA0 compute buffer size =   296.00 MiB"),
    (INFO, "sched_reserve:  CUDA_Host compute buffer size =    16.01 MiB"),
    (INFO, "llama_context: n_ctx                 = 4096"),
    (WARN, "llama_context: n_ctx_seq (4096) < n_ctx_train (32768)"),
    (ERROR, "ggml_backend_cuda_buffer_type_alloc_buffer: allocating 9.00 MiB on device 0: cudaMalloc failed"),
]


def test_buffer_lines_are_kept_per_device_with_the_layers_as_llama_cpp_capped_them() -> None:
    record = LoadRecord()
    kept = [line for level, line in CUDA_LOAD if record.take(level, line)]
    assert record.offloaded == (29, 29)
    assert record.buffers == {
        "CUDA0": {"model": 4168.09, "kv": 448.0, "compute": 296.0},
        "CPU": {"model": 292.36, "output": 0.58, "compute": 16.01},
    }
    assert record.device_bytes() == {"CUDA0": int((4168.09 + 448 + 296) * (1 << 20))}
    assert record.as_dict()["CUDA0"] == {"model_mib": 4168.09, "kv_mib": 448.0, "compute_mib": 296.0}
    assert record.errors == [CUDA_LOAD[-1][1]]
    assert "llama_context: n_ctx                 = 4096" not in kept and len(kept) == 9
    assert [device_of(n) for n in ("CPU_REPACK", "Vulkan_Host", "Vulkan0", "Metal_Mapped", "ROCm1")] == [
        "CPU",
        "CPU",
        "Vulkan0",
        "Metal",
        "ROCm1",
    ]
    running = {"gpu_backend": "CUDA", "gpu_layers": 29, "layers": 29, "buffers": record.as_dict()}
    rows = dict(offload_rows(ModelInfo("m", "embedded", extra={"running": running}), "f16", False, "auto"))
    assert rows["Buffers"] == buffers_line(record.as_dict())  # The models pane's details.
    assert buffers_line(record.as_dict()) == "CUDA0: model 4.4 GB, KV 469.8 MB, compute 310.4 MB; " + (
        "CPU: model 306.6 MB, output 608.2 KB, compute 16.8 MB"
    )


def test_the_callback_joins_pieces_of_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """llama.cpp logs a line in pieces (CONT continues the last level): the dots of a load."""
    record = LlamaLog.start()
    for level, text in ((INFO, b"load_tensors:   CPU_Mapped model buffer"), (5, b" size =    92.10 MiB\n")):
        LlamaLog._receive(level, text, None)
    LlamaLog._receive(INFO, b"load_tensors: loading", None)
    for _ in range(3):
        LlamaLog._receive(5, b".", None)
    LlamaLog._receive(5, b"\n", None)
    LlamaLog._receive(ERROR, b"llama_model_load: error loading model: x\n", None)
    assert record.buffers == {"CPU": {"model": 92.1}} and record.errors == ["llama_model_load: error loading model: x"]
    # Llama() silences stderr while it loads: the lines are written once the load is over.
    assert capsys.readouterr().err == ""
    LlamaLog.finish()
    LlamaLog._receive(WARN, b"decode: a warning between loads\n", None)
    assert capsys.readouterr().err.splitlines() == [
        "load_tensors:   CPU_Mapped model buffer size =    92.10 MiB",
        "llama_model_load: error loading model: x",
        "decode: a warning between loads",
    ]


@needs_starter
async def test_a_real_load_reports_its_cpu_buffers_and_ask_json_carries_them(open_services, tmp_path: Path) -> None:
    from tui.cli.ask_stream import ask

    engine = EmbeddedEngine(models_dir=tmp_path / "models", n_threads=1, n_ctx=512, log_path=tmp_path / "engine.log")
    out = io.StringIO()
    try:
        assert await ask(open_services(engine), "hi", model=str(STARTER), as_json=True, out=out) == 0
        [listed] = [m for m in await engine.list_models() if m.path == str(STARTER)]
    finally:
        await engine.aclose()
    result = json.loads(out.getvalue())
    cpu = result["buffers"]["CPU"]
    # SmolLM2-135M Q4_1: ~92 MiB of weights; 30 layers x 512 cells of f16 K and V; the compute graph.
    assert 50 < cpu["model_mib"] < 200 and 5 < cpu["kv_mib"] < 50 and 10 < cpu["compute_mib"] < 500
    assert result["vram_by_device"] == {} and result["gpu_backend"] == "CPU"
    assert [d["name"] for d in result["devices"]] == ["CPU"]
    assert listed.extra["running"]["buffers"] == result["buffers"]
    log = (tmp_path / "engine.log").read_text()
    assert "CPU_Mapped model buffer size" in log and "CPU KV buffer size" in log, log


DEVICES_SCRIPT = """
import json, re, sys
from tui.engines.embedded.ggml_devices import list_devices
from tui.engines.embedded.gpu_build import library_dirs
from tui.engines.embedded.llama_log import LlamaLog
from tui.engines.embedded.offload_child import load_backends

dirs = library_dirs()
assert LlamaLog.install_in_ggml(dirs)
load_backends()
devices = list_devices(dirs)
import llama_cpp
LlamaLog.install(llama_cpp)
record = LlamaLog.start()
llm = llama_cpp.Llama(model_path=sys.argv[1], n_ctx=256, n_threads=1, verbose=False)
maps = open("/proc/self/maps").read()
print(json.dumps({
    "devices": [d.as_dict() for d in devices],
    "again": [d.as_dict()["name"] for d in list_devices(dirs)],
    "buffers": record.as_dict(),
    "libraries": sorted(set(re.findall(r"/(libggml[-a-z]*)\\.so", maps))),
    "copies": {name: len(set(re.findall(rf"\\S*/{name}\\.so\\S*", maps))) for name in ("libggml", "libggml-base")},
}))
"""


@needs_starter
def test_ggml_lists_its_devices_through_the_one_libggml_in_the_process(tmp_path: Path) -> None:
    """As the child does it: the log callback set in libggml-base, the backends loaded, the
    devices listed, then llama_cpp imported and a model loaded, all on one copy of each library."""
    run = subprocess.run(
        [sys.executable, "-c", DEVICES_SCRIPT, str(STARTER)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    found = json.loads(run.stdout.splitlines()[-1])
    [cpu] = [d for d in found["devices"] if d["type"] == "CPU"]
    assert cpu["name"] == "CPU" and cpu["backend"] == "CPU" and cpu["description"]
    mem_total = next(int(line.split()[1]) * 1024 for line in open("/proc/meminfo") if line.startswith("MemTotal:"))
    assert 256 << 20 <= cpu["total_bytes"] <= mem_total and 0 < cpu["free_bytes"] <= cpu["total_bytes"]
    assert found["again"] == [d["name"] for d in found["devices"]]
    assert found["copies"] == {"libggml": 1, "libggml-base": 1}
    assert found["buffers"]["CPU"]["model_mib"] > 0  # Heard through the callback set before the import.
