"""Pack what the device check (tests/gpu/device_check.sh) carries to an air-gapped GPU box: the
llama-cpp-python sdist trimmed to what a CUDA build needs, and the wheels lchat's check installs.

    python tools/pack_llama_source.py [--out gpu-bundle] [--budget-mib 64] [--wheels minimal|full|none]

Run it where the package index is reachable. It downloads the sdist (pip download --no-binary),
removes what a CUDA build of llama-cpp-python never reads (tests, examples, docs, the vocab
models, other backends' sources, all but three flash-attention vector kernels) and writes
gpu-bundle/llama-src.tar.xz; then the cp312 manylinux wheels into gpu-bundle/wheels. It prints
each size and exits 1 when the bundle plus the repository would pass the budget.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VERSION = "0.3.36"
SOURCE_BUDGET_MIB = 40
"""The trimmed source's own limit: the rest of the 64 MiB is for wheels and the repository."""
FA_KEPT = ("f16-f16", "q8_0-q8_0", "q4_0-q4_0")
"""Flash-attention vector kernels kept (K type-V type): lchat's KV cache types, each with itself.
The build must ask for the same set: -DGGML_CUDA_FA_QUANTS=q8_0-q8_0,q4_0-q4_0 (f16 is implicit)."""
FA_QUANTS_OPTION = "q8_0-q8_0,q4_0-q4_0"

TOP_KEPT = {"CMakeLists.txt", "pyproject.toml", "llama_cpp", "vendor", "README.md", "LICENSE.md", "PKG-INFO"}
"""The sdist's own top level: scikit-build-core reads the README and the licence for the metadata."""
LLAMA_KEPT = {"CMakeLists.txt", "cmake", "common", "ggml", "include", "src", "vendor", "tools", "LICENSE", "licenses"}
"""vendor/llama.cpp's top level that the build reads (common: LLAMA_BUILD_COMMON is forced on)."""
TOOLS_KEPT = {"mtmd"}
"""llama-cpp-python builds libmtmd (vision) from tools/mtmd; no other tool."""
GGML_BACKENDS_KEPT = {"ggml-cpu", "ggml-cuda"}
"""ggml/src/ggml-*/ folders kept; the others are only added when their GGML_<NAME> option is on."""

WHEELS_MINIMAL = [
    # llama-cpp-python's build backend (pip wheel --no-build-isolation) and run-time dependencies.
    "scikit-build-core>=0.9.2",
    "numpy",
    "jinja2",
    "diskcache",
    "typing-extensions",
    # What tui.engines, tui.models, tui.stats.nvidia and `lchat ask` import, and the GGUF writer.
    "gguf>=0.17",
    "nvidia-ml-py>=12",
    "psutil>=5.9",
    "platformdirs>=4",
    "tomli-w>=1.0",
]
WHEELS_FULL = WHEELS_MINIMAL + [
    "textual>=8.2,<9",
    "ollama>=0.6,<1",
    "openai>=3.57,<4",
    "huggingface_hub>=2.4,<3",
    "Pillow>=10",
    "mcp>=2.3,<3",
]
PLATFORM = [
    "--only-binary=:all:",
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
    *("--abi", "cp312", "--abi", "abi3", "--abi", "none"),
    *("--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64"),
    *("--platform", "manylinux_2_28_x86_64", "--platform", "any"),
]


def trim(root: Path) -> dict[str, int]:
    """Remove from an unpacked sdist (`root` holds pyproject.toml and vendor/llama.cpp) what a CUDA
    build does not read; returns the bytes removed per top-level part ("vendor/llama.cpp/models"...)."""
    removed: dict[str, int] = {}
    llama = root / "vendor" / "llama.cpp"
    _keep_only(root, root, TOP_KEPT, removed)
    _keep_only(root, root / "vendor", {"llama.cpp"}, removed)
    _keep_only(root, llama, LLAMA_KEPT, removed)
    _keep_only(root, llama / "tools", TOOLS_KEPT, removed)
    src = llama / "ggml" / "src"
    for backend in sorted(src.glob("ggml-*/")):
        if backend.is_dir() and backend.name not in GGML_BACKENDS_KEPT:
            _remove(backend, root, removed)
    instances = src / "ggml-cuda" / "template-instances"
    kept_vec = {f"fattn-vec-instance-{pair}.cu" for pair in FA_KEPT}
    for kernel in sorted(instances.glob("fattn-vec-instance-*.cu")):
        if kernel.name not in kept_vec:
            _remove(kernel, root, removed, part="vendor/llama.cpp/ggml/src/ggml-cuda/fattn-vec instances")
    for junk in sorted(root.rglob(".git*")):
        _remove(junk, root, removed, part=".git*")
    return removed


def _keep_only(root: Path, folder: Path, kept: set[str], removed: dict[str, int]) -> None:
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        if entry.name not in kept:
            _remove(entry, root, removed)


def _remove(path: Path, root: Path, removed: dict[str, int], part: str | None = None) -> None:
    if not path.exists() and not path.is_symlink():
        return
    size = _size(path)
    name = part or str(path.relative_to(root))
    removed[name] = removed.get(name, 0) + size
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


def _size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def pack(root: Path, tarball: Path) -> int:
    """Write `root` as tarball (xz; its top folder keeps the sdist's name); returns its size."""
    with tarfile.open(tarball, "w:xz", preset=9) as tar:
        tar.add(root, arcname=root.name)
    return tarball.stat().st_size


def download_sdist(into: Path) -> Path:
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "-d", str(into)]
    subprocess.run([*pip, f"llama-cpp-python=={VERSION}"], check=True)
    return next(into.glob("llama_cpp_python-*.tar.gz"))


def download_wheels(packages: list[str], into: Path) -> int:
    into.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", *PLATFORM, "-d", str(into), *packages], check=True)
    return sum(p.stat().st_size for p in into.glob("*.whl"))


def repo_size(root: Path) -> int:
    """The bytes of the repository's tracked files (what the device machine gets besides the bundle)."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    return sum((root / name).stat().st_size for name in listed.decode().split("\0") if name and (root / name).is_file())


def mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("gpu-bundle"))
    parser.add_argument("--sdist", type=Path, help="an already downloaded llama_cpp_python-0.3.36.tar.gz")
    parser.add_argument("--budget-mib", type=float, default=64.0, help="all that may be copied to the box")
    parser.add_argument("--wheels", choices=("minimal", "full", "none"), default="minimal")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        sdist = args.sdist or download_sdist(Path(tmp) / "sdist")
        print(f"sdist: {sdist.name}, {mib(sdist.stat().st_size)}")
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp, filter="data")
        root = next(Path(tmp).glob("llama_cpp_python-*/"))
        removed = trim(root)
        for part, size in sorted(removed.items(), key=lambda kv: -kv[1])[:25]:
            print(f"  trimmed {part}: {mib(size)}")
        print(f"trimmed {mib(sum(removed.values()))} in all; {mib(_size(root))} left unpacked")
        source = pack(root, args.out / "llama-src.tar.xz")
    print(f"llama-src.tar.xz: {mib(source)} (source budget {SOURCE_BUDGET_MIB} MiB)")
    wheels = 0
    if args.wheels != "none":
        shutil.rmtree(args.out / "wheels", ignore_errors=True)
        wheels = download_wheels(WHEELS_FULL if args.wheels == "full" else WHEELS_MINIMAL, args.out / "wheels")
        print(f"wheels ({args.wheels}): {mib(wheels)}")
    repo = repo_size(Path(__file__).resolve().parents[1])
    total = source + wheels + repo
    print(f"repository: {mib(repo)}; total to copy: {mib(total)} of {args.budget_mib:g} MiB")
    if source > SOURCE_BUDGET_MIB << 20 or total > args.budget_mib * (1 << 20):
        print("over budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
