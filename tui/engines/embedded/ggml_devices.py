"""The devices the loaded ggml offers, asked of ggml itself through ctypes.

llama_print_system_info lists only the backend registries that export features (Vulkan's does
not, so a Vulkan build read "GPU"); ggml's device list names every one, with free and total
memory as the backend sees it (right under CUDA_VISIBLE_DEVICES and MIG, unlike NVML's
whole-card figures). Called in the engine's child, after the backends are loaded.
"""

from __future__ import annotations

import ctypes
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tui.engines.embedded.gpu_build import native_library

TYPES = ("CPU", "GPU", "IGPU", "ACCEL", "META")
"""enum ggml_backend_dev_type, in order."""


@dataclass(frozen=True)
class Device:
    """One ggml backend device."""

    name: str
    """ggml's name: "CPU", "CUDA0", "Vulkan0", "Metal"."""
    description: str
    """The hardware: "NVIDIA H100 80GB HBM3", the CPU's model name."""
    type: str
    """"CPU", "GPU", "IGPU" (shares the host's memory), "ACCEL" or "META"."""
    backend: str
    """Its backend registry's name: "CPU", "CUDA", "Vulkan", "Metal"."""
    free_bytes: int
    total_bytes: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _library(dirs: list[Path]) -> ctypes.CDLL | None:
    """The package's libggml (the registry; it links libggml-base, which has the device calls)."""
    found = native_library(dirs, "libggml")
    if found is None:
        return None
    lib = ctypes.CDLL(str(found))
    lib.ggml_backend_dev_count.restype = ctypes.c_size_t
    lib.ggml_backend_dev_get.argtypes = [ctypes.c_size_t]
    lib.ggml_backend_dev_get.restype = ctypes.c_void_p
    for name in ("ggml_backend_dev_name", "ggml_backend_dev_description"):
        getattr(lib, name).argtypes = [ctypes.c_void_p]
        getattr(lib, name).restype = ctypes.c_char_p
    lib.ggml_backend_dev_backend_reg.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_backend_reg.restype = ctypes.c_void_p
    lib.ggml_backend_reg_name.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_reg_name.restype = ctypes.c_char_p
    lib.ggml_backend_dev_type.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_dev_type.restype = ctypes.c_int
    size_p = ctypes.POINTER(ctypes.c_size_t)
    lib.ggml_backend_dev_memory.argtypes = [ctypes.c_void_p, size_p, size_p]
    lib.ggml_backend_dev_memory.restype = None
    return lib


def list_devices(dirs: list[Path]) -> list[Device]:
    """Every device ggml registered; [] when the library is not there."""
    lib = _library(dirs)
    if lib is None:
        return []
    devices = []
    for index in range(lib.ggml_backend_dev_count()):
        dev = lib.ggml_backend_dev_get(index)
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        lib.ggml_backend_dev_memory(dev, ctypes.byref(free), ctypes.byref(total))
        kind = lib.ggml_backend_dev_type(dev)
        devices.append(
            Device(
                name=_text(lib.ggml_backend_dev_name(dev)),
                description=_text(lib.ggml_backend_dev_description(dev)),
                type=TYPES[kind] if 0 <= kind < len(TYPES) else f"type {kind}",
                backend=_text(lib.ggml_backend_reg_name(lib.ggml_backend_dev_backend_reg(dev))),
                free_bytes=int(free.value),
                total_bytes=int(total.value),
            )
        )
    return devices


def gpu_names(devices: list[Device]) -> list[str]:
    """The backend names of the GPUs ("CUDA", "Vulkan"), in ggml's order, each once."""
    names: list[str] = []
    for device in devices:
        if device.type in ("GPU", "IGPU") and device.backend not in names:
            names.append(device.backend)
    return names


def _text(raw: bytes | None) -> str:
    return (raw or b"").decode("utf-8", "replace")[:200]
