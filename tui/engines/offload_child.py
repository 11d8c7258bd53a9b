"""GPU offload inside the engine's child: loading the backends, retrying with fewer layers, and
saying what happened. Imported only by tui.engines.embedded_child; llama_cpp is passed in."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

from tui.engines.gpu_build import NAMES, built_flavour, library_dirs, loadable_backends

KV_TYPE_IDS = {"f16": 1, "q4_0": 2, "q8_0": 8}
"""ggml_type values of the KV cache types lchat offers (GGML_TYPE_F16, _Q4_0, _Q8_0)."""
GPU_REGISTRY_NAMES = ("CUDA", "Vulkan", "Metal", "ROCm", "HIP", "SYCL", "MUSA", "OpenCL")


def load_backends() -> None:
    """In a GGML_BACKEND_DL build (lchat's CUDA and Vulkan flavours), load every backend from
    the package's own folder.

    llama.cpp looks beside the executable and in the current folder (python's, not the
    package's); a backend whose driver is missing (no libcuda) is skipped, the CPU stays.
    """
    if built_flavour() not in ("cuda", "vulkan"):
        return  # The CPU and Metal builds link their backends in: nothing to load.
    folder = loadable_backends(library_dirs())
    if folder is None:
        return
    ggml = ctypes.CDLL(
        str(next((d / "libggml.so" for d in library_dirs() if (d / "libggml.so").exists()), folder / "libggml.so"))
    )
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path(str(folder).encode())


def gpu_backend(llama_cpp: Any) -> str | None:
    """The GPU backend llama.cpp found at run time ("CUDA", "Vulkan"...), or None."""
    if not llama_cpp.llama_supports_gpu_offload():
        return None
    info = (llama_cpp.llama_print_system_info() or b"").decode("utf-8", "replace")
    names = [part.split(" : ")[0].strip() for part in info.split(" | ") if " : " in part]
    return next((n for n in names if n in GPU_REGISTRY_NAMES), "GPU")


def missing_driver_line(flavour: str) -> str:
    """One line for a GPU build that found no GPU at run time."""
    return f"this is a {NAMES[flavour]} build of llama.cpp, but no {NAMES[flavour]} driver or device was found: running on the CPU"


def load_with_fallback(make: Callable[[int], Any], layers: int, total: int) -> tuple[Any, int, str]:
    """`make(n_gpu_layers)`, retried with half the layers, then none, while it fails on a GPU.

    Returns (the model, the layers it got, a note when that is fewer than asked). `layers` -1
    asks for every layer (the output layer too). A failure with no layers on the GPU is raised.
    """
    tried = layers
    while True:
        try:
            return make(tried), tried, "" if tried == layers else _fewer(layers, tried, total)
        except Exception:
            if tried == 0:
                raise
            shown = total if tried < 0 else tried
            tried = shown // 2 if shown > 1 else 0


def _fewer(asked: int, got: int, total: int) -> str:
    asked_n = total if asked < 0 else asked
    return f"{asked_n} layers did not load on the GPU (out of memory?): {got} did"


def report(llama_cpp: Any, llm: Any, layers: int, note: str) -> dict[str, Any]:
    """What the load did: the backend, layers on the GPU of the model's, and a note."""
    total = int(llama_cpp.llama_model_n_layer(llm.model))
    backend = gpu_backend(llama_cpp)
    flavour = built_flavour()
    if backend is None:
        if flavour != "cpu":
            note = missing_driver_line(flavour)
        return {"gpu_backend": "CPU", "gpu_layers": 0, "layers": total, "note": note}
    on_gpu = total if layers < 0 else min(layers, total)
    return {"gpu_backend": backend, "gpu_layers": on_gpu, "layers": total, "note": note}
