#!/usr/bin/env python3
"""Which llama-cpp-python build `make` should choose when GPU= is not given: prints cuda or cpu.

CUDA only when all three are true: the NVIDIA driver answers (`nvidia-smi -L` lists a GPU), its
library libcuda loads, and a CUDA toolkit with cuBLAS is found. `nvcc` alone is not enough: a
machine with the toolkit but no driver (CI, these build boxes) would start a build it cannot use.

`--make` prints what the Makefile needs on one line: the flavour, the nvcc to hand CMake as
CUDACXX (CMake looks only in CUDACXX, PATH and CUDA_PATH/bin, not CUDA_HOME or /usr/local/cuda),
the GPU architectures the wheel is built for, and why it is cpu when CUDA looked possible.
`--make --cuda` does the same for a CUDA build the user chose. Standard library only: it runs
before the virtual environment exists.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import NamedTuple

SMI_TIMEOUT_S = 10.0
USUAL = (Path("/usr/local/cuda"),)
UNKNOWN_ARCH = "native-unknown"
"""The wheel's architecture tag when the GPUs' compute capability cannot be read."""


class Choice(NamedTuple):  # not a dataclass: the tests load this file without a module entry
    flavour: str
    why: str = ""
    """Why it is not cuda, in a few words; empty when nothing pointed at CUDA (no driver, no nvcc)."""
    nvcc: Path | None = None
    arch: str = ""
    """The architectures a `native` build targets ("sm90", "sm86-sm90"), or UNKNOWN_ARCH."""

    def make_line(self) -> str:
        return " ".join([self.flavour, str(self.nvcc or "-"), self.arch or "-", self.why]).strip()


def driver_answers(which: Callable[[str], str | None] = shutil.which) -> bool:
    """`nvidia-smi -L` runs and names at least one GPU."""
    return "GPU" in (_smi(["-L"], which) or "")


def _smi(args: list[str], which: Callable[[str], str | None] = shutil.which) -> str | None:
    smi = which("nvidia-smi")
    if smi is None:
        return None
    try:
        return subprocess.run([smi, *args], capture_output=True, text=True, timeout=SMI_TIMEOUT_S, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None


def architectures(which: Callable[[str], str | None] = shutil.which) -> str:
    """The visible GPUs' compute capabilities as a wheel tag ("sm90"), or UNKNOWN_ARCH.

    A default (`native`) CUDA build runs only on these: its wheel must not be reused for another GPU."""
    out = _smi(["--query-gpu=compute_cap", "--format=csv,noheader"], which) or ""
    caps = sorted({line.strip().replace(".", "") for line in out.splitlines() if line.strip()})
    if not caps or not all(cap.isdigit() for cap in caps):
        return UNKNOWN_ARCH
    return "-".join(f"sm{cap}" for cap in caps)


def libcuda_loads(load: Callable[[str], object] = ctypes.CDLL) -> bool:
    """The driver's user-space library can be loaded (a container without it cannot run CUDA)."""
    try:
        load("libcuda.so.1")
    except OSError:
        return False
    return True


def _roots(
    env: Mapping[str, str], which: Callable[[str], str | None] = shutil.which, usual: tuple[Path, ...] | None = None
) -> list[Path]:
    """Where a toolkit may be, in the order CMake would take its nvcc, then the usual places."""
    roots = [Path(env["CUDACXX"]).parent.parent] if env.get("CUDACXX") else []
    roots += [Path(env[name]) for name in ("CUDA_HOME", "CUDA_PATH") if env.get(name)]
    nvcc = which("nvcc")
    if nvcc:
        roots.append(Path(nvcc).resolve().parent.parent)
    return list(dict.fromkeys([*roots, *(USUAL if usual is None else usual)]))


def _has_cublas(root: Path) -> bool:
    libs = [root / "lib64", root / "lib", *sorted((root / "lib").glob("*-linux-gnu"))]
    libs += sorted((root / "targets").glob("*/lib"))
    return any(any(lib.glob("libcublas.so*")) for lib in libs if lib.is_dir())


def find_toolkit(
    env: Mapping[str, str], which: Callable[[str], str | None] = shutil.which, usual: tuple[Path, ...] | None = None
) -> tuple[Path | None, str]:
    """(the toolkit's root with nvcc and cuBLAS, "") or (None, what is missing)."""
    with_nvcc = [root for root in _roots(env, which, usual) if (root / "bin" / "nvcc").exists()]
    root = next((root for root in with_nvcc if _has_cublas(root)), None)
    if root is not None:
        return root, ""
    if with_nvcc:
        return None, f"the CUDA toolkit at {with_nvcc[0]} has no cuBLAS (libcublas.so not found)"
    return None, "no CUDA toolkit (nvcc not in CUDACXX, CUDA_HOME, CUDA_PATH, PATH or /usr/local/cuda)"


def toolkit_with_cublas(
    env: Mapping[str, str], which: Callable[[str], str | None] = shutil.which, usual: tuple[Path, ...] | None = None
) -> Path | None:
    """The CUDA toolkit's root when it has nvcc and cuBLAS, else None."""
    return find_toolkit(env, which, usual)[0]


def decide(env: Mapping[str, str] = os.environ, *, forced: bool = False) -> Choice:
    """The automatic choice (or, `forced`, the user's CUDA build) with its nvcc and architectures."""
    root = toolkit_with_cublas(env)
    nvcc = root / "bin" / "nvcc" if root is not None else None
    if forced:  # cuBLAS may be where CMake finds it and this script does not (CUDAToolkit_ROOT)
        with_nvcc = [r / "bin" / "nvcc" for r in _roots(env) if (r / "bin" / "nvcc").exists()]
        return Choice("cuda", "", nvcc or next(iter(with_nvcc), None), architectures())
    hinted = shutil.which("nvidia-smi") is not None or any((r / "bin" / "nvcc").exists() for r in _roots(env))
    if shutil.which("nvidia-smi") is None:
        why = "no NVIDIA driver (nvidia-smi not found)"
    elif not driver_answers():
        why = "nvidia-smi lists no GPU (no driver or no device answers)"
    elif not libcuda_loads():
        why = "the NVIDIA driver's libcuda.so.1 does not load"
    elif nvcc is None:
        why = find_toolkit(env)[1]
    elif any(c.isspace() for c in str(nvcc)):
        why = f"the path of nvcc ({nvcc}) has a space, which make cannot pass on"
    else:
        return Choice("cuda", "", nvcc, architectures())
    return Choice("cpu", f"building for the CPU: {why}" if hinted else "")


def choose(env: Mapping[str, str] = os.environ) -> str:
    """ "cuda" when the driver, libcuda and the toolkit with cuBLAS are all here, else "cpu"."""
    return decide(env).flavour


if __name__ == "__main__":
    if "--make" in sys.argv[1:]:
        print(decide(forced="--cuda" in sys.argv[1:]).make_line())
    else:
        print(choose())
    sys.exit(0)
