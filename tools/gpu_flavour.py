#!/usr/bin/env python3
"""Which llama-cpp-python build `make` should choose when GPU= is not given: prints cuda or cpu.

CUDA only when all three are true: the NVIDIA driver answers (`nvidia-smi -L` lists a GPU), its
library libcuda loads, and a CUDA toolkit with cuBLAS is found. `nvcc` alone is not enough: a
machine with the toolkit but no driver (CI, these build boxes) would start a build it cannot use.
Standard library only: it runs before the virtual environment exists.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

SMI_TIMEOUT_S = 10.0


def driver_answers(which: Callable[[str], str | None] = shutil.which) -> bool:
    """`nvidia-smi -L` runs and names at least one GPU."""
    smi = which("nvidia-smi")
    if smi is None:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=SMI_TIMEOUT_S, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return False
    return "GPU" in out


def libcuda_loads(load: Callable[[str], object] = ctypes.CDLL) -> bool:
    """The driver's user-space library can be loaded (a container without it cannot run CUDA)."""
    try:
        load("libcuda.so.1")
    except OSError:
        return False
    return True


def toolkit_with_cublas(env: Mapping[str, str], which: Callable[[str], str | None] = shutil.which,
                        usual: tuple[Path, ...] = (Path("/usr/local/cuda"),)) -> Path | None:
    """The CUDA toolkit's root when it has nvcc and cuBLAS, else None."""
    roots = [Path(env[name]) for name in ("CUDA_HOME", "CUDA_PATH") if env.get(name)]
    nvcc = which("nvcc")
    if nvcc:
        roots.append(Path(nvcc).resolve().parent.parent)
    for root in [*roots, *usual]:
        if not (root / "bin" / "nvcc").exists():
            continue
        libs = [root / "lib64", root / "lib", *sorted((root / "targets").glob("*/lib"))]
        if any(any(lib.glob("libcublas.so*")) for lib in libs if lib.is_dir()):
            return root
    return None


def choose(env: Mapping[str, str] = os.environ) -> str:
    """"cuda" when the driver, libcuda and the toolkit with cuBLAS are all here, else "cpu"."""
    if driver_answers() and libcuda_loads() and toolkit_with_cublas(env) is not None:
        return "cuda"
    return "cpu"


if __name__ == "__main__":
    print(choose())
    sys.exit(0)
