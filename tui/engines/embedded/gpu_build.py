"""Which GPU backend the installed llama-cpp-python was built with, read from its files.

The parent never imports llama_cpp (only the engine's child does), yet the fit estimate and the
offload choice must know whether layers can go to a GPU at all: a CUDA build ships
libggml-cuda, a Vulkan build libggml-vulkan, a Metal build libggml-metal.
"""

from __future__ import annotations

import ctypes
import importlib.util
import re
from collections.abc import Callable
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


_MISSING = re.compile(r"^(lib[\w.+-]+\.so[\w.]*): cannot open shared object file")
DRIVER_LIBRARIES = ("libcuda.so", "libvulkan.so")
"""What the driver, not the toolkit, provides: its absence means no driver."""


def backend_problem(flavour: str, dirs: list[Path], load: Callable[[str], object] = ctypes.CDLL) -> str:
    """Why the flavour's run-time backend (libggml-cuda.so...) does not load: the library it lacks
    ("libcublas.so.13") or the loader's words; "" when it loads (or is not there to try).

    llama.cpp skips a backend that fails to load, so without this a missing cuBLAS reads as no driver."""
    library = next((path for d in dirs for path in sorted(d.glob(f"libggml-{flavour}*.so*"))), None)
    if library is None:
        return ""
    try:
        load(str(library))
    except OSError as error:
        text = str(error)
        found = _MISSING.match(text)
        return found.group(1) if found else text
    return ""


def missing_backend_line(flavour: str, problem: str) -> str:
    """One line for a GPU build that found no GPU at run time, naming a missing library when one is."""
    name = NAMES[flavour]
    if not problem:
        return f"this is a {name} build of llama.cpp, but no {name} driver or device was found: running on the CPU"
    if problem.startswith(DRIVER_LIBRARIES):
        return f"this is a {name} build of llama.cpp, but no {name} driver was found ({problem} missing): running on the CPU"
    if problem.startswith("lib") and " " not in problem:
        return (
            f"this is a {name} build of llama.cpp, but its {name} backend needs {problem}, which was not found "
            "(add the toolkit's library folder to LD_LIBRARY_PATH): running on the CPU"
        )
    return f"this is a {name} build of llama.cpp, but its {name} backend did not load ({problem}): running on the CPU"


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
