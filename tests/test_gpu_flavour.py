"""The automatic CUDA build's inputs: the nvcc handed to CMake, the reason for a CPU build, and a
wheel cache per GPU architecture. Faked toolkits, drivers and libcuda in tmp folders, no GPU."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "gpu_flavour.py"
WHEELS = "/.cache/lchat/wheels/llama-cpp-python-0.3.36-noamx-mtmd"


@pytest.fixture
def tool(monkeypatch: pytest.MonkeyPatch):
    spec = importlib.util.spec_from_file_location("gpu_flavour_under_test", TOOL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "USUAL", ())  # this machine's /usr/local/cuda stays out of it
    return module


def toolkit(root: Path, *, cublas: bool, lib: str = "lib64") -> Path:
    (root / "bin").mkdir(parents=True)
    (root / lib).mkdir(parents=True)
    nvcc = root / "bin" / "nvcc"
    nvcc.write_text("#!/bin/sh\necho 'Cuda compilation tools, release 13.0'\n")
    nvcc.chmod(0o755)
    if cublas:
        (root / lib / "libcublas.so.13").write_bytes(b"")
    return root


def smi(folder: Path, caps: str | None = "9.0") -> Path:
    """A fake nvidia-smi listing a GPU; `caps` its compute capabilities (None: a driver too old to say)."""
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "nvidia-smi"
    query = f"printf '{caps}\\n'" if caps is not None else "echo 'Field \"compute_cap\" is not a valid field'; exit 2"
    script.write_text(
        "#!/bin/sh\n"
        'case "$1" in\n'
        "  -L) echo 'GPU 0: NVIDIA H200 (UUID: GPU-1)';;\n"
        f"  --query-gpu=compute_cap) {query};;\n"
        "  *) exit 1;;\n"
        "esac\n"
    )
    script.chmod(0o755)
    return folder


def test_nvcc_off_path_is_handed_to_cmake(tool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The toolkit in CUDA_HOME, nvcc not on PATH: CMake would not find it, so its path is given."""
    cuda = toolkit(tmp_path / "cuda-13.0", cublas=True)
    monkeypatch.setenv("PATH", f"{smi(tmp_path / 'bin')}:/usr/bin:/bin")
    monkeypatch.setattr(tool, "libcuda_loads", lambda: True)
    assert shutil.which("nvcc") is None or not shutil.which("nvcc").startswith(str(tmp_path))
    choice = tool.decide({"CUDA_HOME": str(cuda)})
    assert (choice.flavour, choice.nvcc, choice.arch, choice.why) == ("cuda", cuda / "bin" / "nvcc", "sm90", "")
    assert choice.make_line() == f"cuda {cuda / 'bin' / 'nvcc'} sm90"
    # The usual place, with no variable at all; a Debian-style lib folder counts for cuBLAS.
    usual = toolkit(tmp_path / "usr-local-cuda", cublas=True, lib="lib/x86_64-linux-gnu")
    monkeypatch.setattr(tool, "USUAL", (usual,))
    assert tool.decide({}).nvcc == usual / "bin" / "nvcc"


def test_missing_cublas_is_named(tool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = toolkit(tmp_path / "cuda", cublas=False)
    monkeypatch.setenv("PATH", f"{smi(tmp_path / 'bin')}:/usr/bin:/bin")
    monkeypatch.setattr(tool, "libcuda_loads", lambda: True)
    choice = tool.decide({"CUDA_HOME": str(cuda)})
    assert choice.flavour == "cpu" and choice.nvcc is None
    assert choice.why == f"building for the CPU: the CUDA toolkit at {cuda} has no cuBLAS (libcublas.so not found)"
    assert choice.make_line() == f"cpu - - {choice.why}"
    # A user's own CUDA build still gets the nvcc: CMake may find cuBLAS where this script does not.
    assert tool.decide({"CUDA_HOME": str(cuda)}, forced=True).nvcc == cuda / "bin" / "nvcc"


def test_each_missing_piece_is_the_reason(tool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = toolkit(tmp_path / "cuda", cublas=True)
    env = {"CUDA_HOME": str(cuda)}
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    if shutil.which("nvidia-smi") is None:  # this machine: nvcc, no driver
        assert tool.decide(env).why == "building for the CPU: no NVIDIA driver (nvidia-smi not found)"
    failing = tmp_path / "failing"
    failing.mkdir()
    (failing / "nvidia-smi").write_text("#!/bin/sh\necho 'NVIDIA-SMI has failed'\nexit 9\n")
    (failing / "nvidia-smi").chmod(0o755)
    monkeypatch.setenv("PATH", f"{failing}:/usr/bin:/bin")
    assert tool.decide(env).why == "building for the CPU: nvidia-smi lists no GPU (no driver or no device answers)"
    monkeypatch.setenv("PATH", f"{smi(tmp_path / 'bin')}:/usr/bin:/bin")
    monkeypatch.setattr(tool, "libcuda_loads", lambda: False)
    assert tool.decide(env).why == "building for the CPU: the NVIDIA driver's libcuda.so.1 does not load"
    monkeypatch.setattr(tool, "libcuda_loads", lambda: True)
    assert tool.decide({}).why == (
        "building for the CPU: no CUDA toolkit (nvcc not in CUDACXX, CUDA_HOME, CUDA_PATH, PATH or /usr/local/cuda)"
    )
    # CUDACXX set by the user is where CMake looks first, so its toolkit is taken first.
    other = toolkit(tmp_path / "other", cublas=True)
    assert tool.decide({"CUDACXX": str(other / "bin" / "nvcc"), **env}).nvcc == other / "bin" / "nvcc"


def test_no_driver_and_no_nvcc_says_nothing(tool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CI: nothing pointed at CUDA, so `make` prints no line about it."""
    monkeypatch.setenv("PATH", str(tmp_path))
    choice = tool.decide({})
    assert choice == tool.Choice("cpu") and choice.make_line() == "cpu - -"


def test_the_architectures_name_the_wheel(tool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    two = smi(tmp_path / "two", caps="9.0\\n8.6\\n9.0")  # printf's newlines: two H100s and an A6000
    monkeypatch.setenv("PATH", f"{two}:/usr/bin:/bin")
    assert tool.architectures() == "sm86-sm90"
    monkeypatch.setenv("PATH", f"{smi(tmp_path / 'old', caps=None)}:/usr/bin:/bin")
    assert tool.architectures() == "native-unknown"
    monkeypatch.setenv("PATH", str(tmp_path / "none"))
    assert tool.architectures() == "native-unknown"


def make_n(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        ["make", "-n", "-C", str(ROOT), "install", f"VENV={tmp_path}/venv", f"PYTHON={sys.executable}", *args],
        env={"HOME": str(tmp_path), **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout


def fake_libcuda(folder: Path) -> Path:
    """An empty libcuda.so.1 that loads: the driver's library, as far as a dlopen can tell."""
    folder.mkdir()
    (folder / "empty.c").write_text("int lchat_fake_libcuda;\n")
    subprocess.run(
        ["cc", "-shared", "-fPIC", "-o", str(folder / "libcuda.so.1"), str(folder / "empty.c")], check=True, timeout=60
    )
    return folder


needs_make_and_cc = pytest.mark.skipif(
    shutil.which("make") is None or shutil.which("cc") is None, reason="needs make and a C compiler"
)


@needs_make_and_cc
def test_make_exports_the_nvcc_and_names_the_wheel_by_architecture(tmp_path: Path) -> None:
    cuda = toolkit(tmp_path / "cuda-13.0", cublas=True)
    env = {
        "PATH": f"{smi(tmp_path / 'bin', caps='9.0')}:/usr/bin:/bin",
        "CUDA_HOME": str(cuda),
        "LD_LIBRARY_PATH": str(fake_libcuda(tmp_path / "driver")),
    }
    out = make_n(tmp_path, env)
    assert f'CUDACXX="{cuda}/bin/nvcc" CFLAGS=' in out and "-DGGML_CUDA=on" in out
    assert f"mkdir -p {tmp_path}{WHEELS}-cuda-sm90\n" in out and "lchat:" not in out
    # Architectures the user names key the cache instead; CUDACXX of the user's own is kept.
    mine = make_n(tmp_path, {**env, "CUDACXX": "/opt/my/nvcc"}, "CUDA_ARCHS=86;90")
    assert 'CUDACXX="/opt/my/nvcc"' in mine and f"{WHEELS}-cuda-sm86-sm90\n" in mine
    # The CPU build never sees CUDACXX, and its cache keeps the name CI's cached wheel has.
    cpu = make_n(tmp_path, env, "GPU=cpu")
    assert "CUDACXX" not in cpu and f"mkdir -p {tmp_path}{WHEELS}\n" in cpu


@needs_make_and_cc
def test_make_says_why_it_builds_for_the_cpu(tmp_path: Path) -> None:
    """A driver and libcuda, a toolkit without cuBLAS first in line: one line naming libcublas."""
    cuda = toolkit(tmp_path / "cuda", cublas=False)
    env = {
        "PATH": f"{smi(tmp_path / 'bin')}:/usr/bin:/bin",
        "CUDA_HOME": str(cuda),
        "LD_LIBRARY_PATH": str(fake_libcuda(tmp_path / "driver")),
    }
    out = make_n(tmp_path, env)
    if "-DGGML_CUDA=on" in out:
        pytest.skip("this machine's /usr/local/cuda has cuBLAS: the build rightly takes it")
    said = [line for line in out.splitlines() if line.startswith("lchat:")]
    assert said == [f"lchat: building for the CPU: the CUDA toolkit at {cuda} has no cuBLAS (libcublas.so not found)"]
    assert f"mkdir -p {tmp_path}{WHEELS}\n" in out and "CUDACXX" not in out and "GGML_CUDA" not in out
