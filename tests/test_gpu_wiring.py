"""The GPU load report reaches its readers: a backend that cannot load names the library it lacks
in the report's note, and the VRAM the engine's child logged feeds the NVIDIA reader's count for a
container that hides the child's pid (services wire one to the other)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.fake_nvml import FakeGpu, FakeNvml
from tests.test_gpu_backend_load import shared
from tui.config import Config
from tui.engines.embedded.engine import EmbeddedEngine, _Child
from tui.services import Services

HOST_PID = 48213
"""The engine's child as NVML, counting in the host's pids, lists it."""


def test_a_cuda_build_without_its_cublas_says_so_in_the_load_report(tmp_path: Path, monkeypatch) -> None:
    """A real backend library linked to a cuBLAS that is not there (built with the C compiler): the
    report of a load that ended on the CPU names libcublas, not a missing driver."""
    if shutil.which("cc") is None:
        pytest.skip("needs a C compiler")
    shared(tmp_path, "libcublas.so.13")
    shared(tmp_path, "libggml-cuda.so", "libcublas.so.13")
    (tmp_path / "libcublas.so.13").unlink()
    # In a process of its own: a libcublas.so.13 another test loaded would be handed to this backend.
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from types import SimpleNamespace\n"
        "from tui.engines.embedded import offload_child\n"
        "from tui.engines.embedded.llama_log import LlamaLog, LoadRecord\n"
        "offload_child.built_flavour = lambda: 'cuda'\n"
        "offload_child.library_dirs = lambda: [Path(sys.argv[1])]\n"
        "LlamaLog.startup = LoadRecord()\n"
        "llama_cpp = SimpleNamespace(llama_model_n_layer=lambda model: 30, llama_supports_gpu_offload=lambda: False)\n"
        "report = offload_child.report(llama_cpp, SimpleNamespace(model=None), -1, '', LoadRecord(), [])\n"
        "print(json.dumps({k: report[k] for k in ('gpu_backend', 'gpu_layers', 'note')}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True)
    report = json.loads(done.stdout)
    assert report["gpu_backend"] == "CPU" and report["gpu_layers"] == 0
    assert report["note"] == (
        "this is a CUDA build of llama.cpp, but its CUDA backend needs libcublas.so.13, which was not found "
        "(add the toolkit's library folder to LD_LIBRARY_PATH): running on the CPU"
    )


async def test_the_childs_own_vram_count_reaches_the_nvidia_reader_in_a_container(
    paths, monkeypatch, tmp_path: Path
) -> None:
    """Services build the real monitor (monitor_for) over a double of pynvml: NVML lists the child
    under a host pid this namespace lacks, so the reader shows the VRAM the child's load report
    logged on CUDA0 (5 GiB), and nothing for a card the child put nothing on."""
    monkeypatch.setitem(sys.modules, "pynvml", FakeNvml(FakeGpu(processes=[(HOST_PID, 6 * 2**30)]), FakeGpu()))
    monkeypatch.setattr("tui.stats.nvidia._pid_visible", lambda pid: pid != HOST_PID)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    engine = EmbeddedEngine(models_dir=tmp_path, include_starter=False, flavour="cuda")
    child = _Child(SimpleNamespace(pid=os.getpid(), is_alive=lambda: True, exitcode=None), conn=None)  # type: ignore[arg-type]
    logged = {"gpu_backend": "CUDA", "gpu_layers": 33, "layers": 33, "note": "", "vram_by_device": {"CUDA0": 5 * 2**30}}
    child.offload, child.loaded = await engine._loaded(logged, "", None), ("/m.gguf", 4096)
    engine._child = child
    services = Services.open(paths, Config(), engines=lambda c, p: {"embedded": engine})
    try:
        assert services.stats is not None
        first, second = services.stats.sample_now().gpus
        assert first.pids_hidden and first.owned_vram_bytes == 5 * 2**30
        assert second.owned_vram_bytes is None
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")  # CUDA0 is now the second card
        assert engine.vram_on(1) == 5 * 2**30 and engine.vram_on(0) is None
    finally:
        engine._child = None
        if services.stats is not None:
            services.stats.close()
        services.store.close()
