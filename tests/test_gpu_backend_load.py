"""A GPU build whose backend cannot load names what it lacks: real shared libraries, built here with
the C compiler, loaded by the dynamic loader (a CUDA backend linked to a cuBLAS that is not there)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tui.engines.embedded.gpu_build import backend_problem, missing_backend_line

pytestmark = pytest.mark.skipif(shutil.which("cc") is None, reason="needs a C compiler")


def shared(folder: Path, soname: str, *needs: str) -> Path:
    """A shared library named `soname` that the loader will not open without each of `needs`."""
    source = folder / f"{soname}.c"
    source.write_text(f"int lchat_{abs(hash(soname))};\n")
    links = [arg for need in needs for arg in ("-L", str(folder), f"-l:{need}")]
    out = folder / soname
    subprocess.run(
        [
            "cc",
            "-shared",
            "-fPIC",
            f"-Wl,-soname,{soname}",
            "-Wl,--no-as-needed",
            "-Wl,-rpath,$ORIGIN",
            "-o",
            str(out),
            str(source),
            *links,
        ],
        check=True,
        timeout=60,
    )
    return out


def fresh_problem(flavour: str, folder: Path) -> str:
    """backend_problem in a process of its own: a library another test loaded (same soname) would
    otherwise be handed to this backend by the loader, and nothing would be missing."""
    code = "import sys\nfrom pathlib import Path\nfrom tui.engines.embedded.gpu_build import backend_problem\n"
    code += "print(backend_problem(sys.argv[1], [Path(sys.argv[2])]))"
    done = subprocess.run(
        [sys.executable, "-c", code, flavour, str(folder)], capture_output=True, text=True, check=True
    )
    return done.stdout.rstrip("\n")


def test_a_missing_cublas_is_named_not_taken_for_a_missing_driver(tmp_path: Path) -> None:
    whole, lib = tmp_path / "whole", tmp_path / "lib"
    for folder in (whole, lib):
        folder.mkdir()
        shared(folder, "libcublas.so.13")
        shared(folder, "libggml-cuda.so", "libcublas.so.13")
    (lib / "libcublas.so.13").unlink()
    problem = fresh_problem("cuda", lib)
    assert problem == "libcublas.so.13"
    # Where the backend finds its cuBLAS (beside it, through its rpath) it loads.
    assert fresh_problem("cuda", whole) == ""
    assert missing_backend_line("cuda", problem) == (
        "this is a CUDA build of llama.cpp, but its CUDA backend needs libcublas.so.13, which was not found "
        "(add the toolkit's library folder to LD_LIBRARY_PATH): running on the CPU"
    )


def test_a_missing_libcuda_is_the_missing_driver(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    shared(lib, "libcuda.so.1")
    shared(lib, "libggml-cuda.so", "libcuda.so.1")
    (lib / "libcuda.so.1").unlink()
    problem = fresh_problem("cuda", lib)
    assert problem == "libcuda.so.1"
    assert missing_backend_line("cuda", problem) == (
        "this is a CUDA build of llama.cpp, but no CUDA driver was found (libcuda.so.1 missing): running on the CPU"
    )


def test_a_backend_that_loads_leaves_the_device_as_the_reason(tmp_path: Path) -> None:
    assert backend_problem("cuda", [tmp_path]) == ""  # a CPU build: nothing to try
    assert missing_backend_line("vulkan", "") == (
        "this is a Vulkan build of llama.cpp, but no Vulkan driver or device was found: running on the CPU"
    )
    broken = tmp_path / "libggml-cuda.so"
    broken.write_bytes(b"not an ELF file")
    problem = backend_problem("cuda", [tmp_path])
    assert problem and "libggml-cuda.so" in problem
    assert missing_backend_line("cuda", problem).startswith(
        "this is a CUDA build of llama.cpp, but its CUDA backend did not load ("
    )
