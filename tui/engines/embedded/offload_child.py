"""GPU offload inside the engine's child: loading the backends, retrying with fewer layers, and
saying what happened. Imported only by tui.engines.embedded.child; llama_cpp is passed in."""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from tui.engines.embedded.ggml_devices import Device, gpu_names
from tui.engines.embedded.gpu_build import (
    backend_problem,
    built_flavour,
    library_dirs,
    loadable_backends,
    missing_backend_line,
    native_library,
)
from tui.engines.embedded.llama_log import LlamaLog, LoadRecord
from tui.engines.embedded.load_errors import LoadFailure

if TYPE_CHECKING:
    from types import ModuleType

    from tui.engines.embedded.llama_compat import Llama

Model = TypeVar("Model")
"""What `make` loads: a llama_cpp.Llama (a stand-in in the tests)."""

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
    ggml = ctypes.CDLL(str(native_library(library_dirs(), "libggml") or folder / "libggml.so"))
    ggml.ggml_backend_load_all_from_path.argtypes = [ctypes.c_char_p]
    ggml.ggml_backend_load_all_from_path(str(folder).encode())


def gpu_backend(llama_cpp: ModuleType) -> str | None:
    """The GPU backend llama.cpp found at run time ("CUDA", "Vulkan"...), or None."""
    if not llama_cpp.llama_supports_gpu_offload():
        return None
    info = (llama_cpp.llama_print_system_info() or b"").decode("utf-8", "replace")
    names = [part.split(" : ")[0].strip() for part in info.split(" | ") if " : " in part]
    return next((n for n in names if n in GPU_REGISTRY_NAMES), "GPU")


class LoadFailed(Exception):
    """A load that failed for good: `failure` says which kind, `tried` the GPU layers tried."""

    def __init__(self, failure: LoadFailure, tried: list[int]) -> None:
        self.failure, self.tried = failure, tried
        super().__init__(self.message())

    def message(self) -> str:
        if len(self.tried) < 2:
            return self.failure.message()
        return f"{self.failure.message()} (tried {_counts(self.tried)} layers on the GPU)"


def load_with_fallback(
    make: Callable[[int], Model], layers: int, total: int, failure_of: Callable[[Exception], LoadFailure]
) -> tuple[Model, int, str]:
    """`make(n_gpu_layers)`, retried with half the layers, then none, while it fails for want
    of memory (`failure_of` tells an exception's kind from llama.cpp's log).

    Returns (the model, the layers it got, a note when that is fewer than asked). `layers` -1
    asks for every layer (the output layer too). Any other failure, or one with no layers on
    the GPU, raises LoadFailed at once: a bad file fails the same with fewer layers.
    """
    tried: list[int] = []
    first: LoadFailure | None = None
    while True:
        attempt = layers if not tried else _half(tried[-1], total)
        tried.append(attempt)
        try:
            model = make(attempt)
        except Exception as exc:
            failure = failure_of(exc)
            if attempt == 0 or not failure.retry_with_fewer_layers:
                raise LoadFailed(failure, tried) from None
            first = first or failure
            continue
        return model, attempt, "" if first is None else _fewer(layers, attempt, total, first)


def _half(layers: int, total: int) -> int:
    shown = total if layers < 0 else layers
    return shown // 2 if shown > 1 else 0


def _counts(tried: list[int]) -> str:
    shown = ["all" if n < 0 else str(n) for n in tried]
    return ", ".join(shown[:-1]) + f" and {shown[-1]}"


def _fewer(asked: int, got: int, total: int, why: LoadFailure) -> str:
    asked_n = "all" if asked < 0 and not total else str(total if asked < 0 else asked)
    return f"{asked_n} layers did not load on the GPU ({why.message()}): {got} did"


def report(
    llama_cpp: ModuleType, llm: Llama, layers: int, note: str, record: LoadRecord, devices: list[Device]
) -> dict[str, Any]:
    """What the load did, as llama.cpp logged it: the backend, the layers it offloaded (capped
    at n_layer + 1, the output layer counted) of the model's, each device's buffers, the
    devices ggml saw, and a note."""
    total = int(llama_cpp.llama_model_n_layer(llm.model))
    backends = gpu_names(devices) if devices else [b for b in [gpu_backend(llama_cpp)] if b]
    flavour = built_flavour()
    logged = {
        "buffers": record.as_dict(),
        "vram_by_device": record.device_bytes(),
        "devices": [d.as_dict() for d in devices],
        "flash_attn": record.flash_attn,
    }
    if not backends:
        if flavour != "cpu":
            # Name what the backend lacks (a cuBLAS off the library path is no missing driver).
            missing = missing_backend_line(flavour, backend_problem(flavour, library_dirs()))
            note = "; ".join(n for n in (missing, _startup_reason()) if n)
        return {"gpu_backend": "CPU", "gpu_layers": 0, "layers": total, "note": note, **logged}
    if record.offloaded is not None:
        on_gpu, total = record.offloaded
    else:  # No "offloaded" line (an older llama.cpp): the request, capped.
        on_gpu = total if layers < 0 else min(layers, total)
    return {"gpu_backend": "+".join(backends), "gpu_layers": on_gpu, "layers": total, "note": note, **logged}


def _startup_reason() -> str:
    """The first error logged while the backends loaded (a missing libcuda, say), if any."""
    return next(iter(LlamaLog.startup.errors), "")
