"""Which GPU backend the installed llama-cpp-python was built with, read from its files.

The parent never imports llama_cpp (only the engine's child does), yet the fit estimate and the
offload choice must know whether layers can go to a GPU at all: a CUDA build ships
libggml-cuda, a Vulkan build libggml-vulkan, a Metal build libggml-metal.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

FLAVOURS = ("cuda", "vulkan", "metal")
NAMES = {"cuda": "CUDA", "vulkan": "Vulkan", "metal": "Metal", "cpu": "CPU"}
"""How llama.cpp names each backend (its registry names), for people."""


def library_dirs() -> list[Path]:
    """Where the llama_cpp package keeps its native libraries (and a wheel's bin/ backends)."""
    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        return []
    package = Path(next(iter(spec.submodule_search_locations)))
    return [d for d in (package / "lib", package.parent / "bin") if d.is_dir()]


def flavour_in(dirs: list[Path]) -> str:
    """ "cuda", "vulkan" or "metal" when a backend library of that kind is there, else "cpu"."""
    for flavour in FLAVOURS:
        if any(any(d.glob(f"libggml-{flavour}*")) for d in dirs):
            return flavour
    return "cpu"


@cache
def built_flavour() -> str:
    """The installed build's flavour (read once per process)."""
    return flavour_in(library_dirs())


def loadable_backends(dirs: list[Path]) -> Path | None:
    """The folder of run-time loaded backends (a GGML_BACKEND_DL build), else None."""
    return next((d for d in dirs if any(d.glob("libggml-cpu*"))), None)


def native_library(dirs: list[Path], stem: str) -> Path | None:
    """The file of one of the package's libraries ("libggml", "libggml-base") to open with ctypes.

    A wheel carries copies, not links (libggml.so, .so.0...): the one named by the soname
    (.so.0) is the copy libllama's own dependencies load, so opening it never maps a second
    ggml (with its own device registry and log callback) into the process.
    """
    for name in (f"{stem}.so.0", f"{stem}.so"):
        found = next((d / name for d in dirs if (d / name).exists()), None)
        if found is not None:
            return found
    return None
