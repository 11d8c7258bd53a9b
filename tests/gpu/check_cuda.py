"""On a machine with an NVIDIA GPU: build (or reuse) the CUDA flavour, load a generated model with
full offload, and print what was offloaded, the VRAM it took beside the fit estimate, and tokens/s
against the CPU build. Not a pytest file: CI has no GPU. Run from the repository root:

    python tests/gpu/check_cuda.py [--wheelhouse DIR] [--cpu-python PATH] [--layers 16] [--embd 2048]

--wheelhouse: a folder holding a CUDA llama-cpp-python wheel to install instead of building one.
Without it, the wheel is built for this GPU's architecture only (CMAKE_CUDA_ARCHITECTURES from
nvidia-smi's compute capability) into a fresh venv under --work. --cpu-python: a python with the
CPU build (the lead's .venv) for the tokens/s comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VERSION = "0.3.36"


def run(*cmd: str, env: dict[str, str] | None = None, timeout: float | None = None) -> str:
    print("$", " ".join(cmd), flush=True)
    return subprocess.run(cmd, check=True, text=True, capture_output=True, env=env, timeout=timeout).stdout


def gpu_facts() -> tuple[str, str]:
    """(name, architecture such as "90") of GPU 0."""
    out = run("nvidia-smi", "--query-gpu=name,compute_cap", "--format=csv,noheader").splitlines()[0]
    name, cap = (part.strip() for part in out.split(","))
    return name, cap.replace(".", "")


def cuda_python(work: Path, wheelhouse: Path | None, arch: str) -> Path:
    """A venv with the CUDA build of llama-cpp-python and lchat's own dependencies."""
    venv = work / "venv-cuda"
    python = venv / "bin" / "python"
    if not python.exists():
        run(sys.executable, "-m", "venv", "--system-site-packages", str(venv))
    if wheelhouse is None:
        wheelhouse = work / f"wheels-cuda-sm{arch}"
        if not any(wheelhouse.glob("llama_cpp_python-*.whl")):
            wheelhouse.mkdir(parents=True, exist_ok=True)
            args = (
                f"-DGGML_CUDA=on -DGGML_BACKEND_DL=on -DCMAKE_INSTALL_BINDIR=llama_cpp/lib "
                f"-DCMAKE_CUDA_ARCHITECTURES={arch} -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF "
                f"-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAVA_BUILD=OFF -DLLAMA_CURL=OFF"
            )
            no_amx = "-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
            env = os.environ | {
                "CMAKE_ARGS": args,
                "CFLAGS": no_amx,
                "CXXFLAGS": no_amx,
                "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2),
            }
            started = time.monotonic()
            run(
                str(python),
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-binary",
                "llama-cpp-python",
                "-w",
                str(wheelhouse),
                f"llama-cpp-python=={VERSION}",
                env=env,
            )
            print(f"built the CUDA wheel in {time.monotonic() - started:.0f} s", flush=True)
    run(
        str(python),
        "-m",
        "pip",
        "install",
        "--force-reinstall",
        "--no-deps",
        "--no-index",
        "--find-links",
        str(wheelhouse),
        f"llama-cpp-python=={VERSION}",
    )
    return python


PROBE = textwrap.dedent("""
    import asyncio, json, sys, time
    from pathlib import Path
    from tui.domain import ChatTurn, GenerationOptions, Role
    from tui.engines.embedded import EmbeddedEngine
    from tui.engines.gguf_info import read_gguf_info
    from tui.models.memory import read_vram
    from tui.models.offload import plan

    async def main(model, layers):
        info = read_gguf_info(model)
        before = read_vram()
        estimate = plan(info, 2048, before, wanted=layers)
        engine = EmbeddedEngine(models_dir=Path(model).parent, include_starter=False, n_ctx=2048,
                                gpu_layers=layers, vram=read_vram, log_path=Path(model).parent / "engine.log")
        opts = GenerationOptions(temperature=0.0, max_tokens=200)
        turn = [ChatTurn(Role.USER, "Tell me a long story.")]
        try:
            rates = []
            for _ in range(3):
                async for event in engine.chat(model, turn, opts):
                    pass
                rates.append(event.completion_tokens / event.gen_s if event.gen_s else 0.0)
            running = [m for m in await engine.list_models() if m.path == model][0].extra["running"]
        finally:
            await engine.aclose()
        print(json.dumps({"running": running, "tokens_per_s": max(rates),
                          "estimate": estimate and {"layers": estimate.layers, "total": estimate.total,
                                                    "gpu_bytes": estimate.gpu_bytes, "verdict": estimate.verdict},
                          "free_vram_before": before and before.free}))

    asyncio.run(main(sys.argv[1], None if sys.argv[2] == "auto" else int(sys.argv[2])))
""")


def probe(python: Path, model: Path, layers: str) -> dict:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    out = run(str(python), "-c", PROBE, str(model), layers, env=env, timeout=600)
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path("/tmp/lchat-gpu-check"))
    parser.add_argument("--wheelhouse", type=Path)
    parser.add_argument("--cpu-python", type=Path)
    parser.add_argument("--layers", type=int, default=16)
    parser.add_argument("--embd", type=int, default=2048)
    args = parser.parse_args()
    if shutil.which("nvidia-smi") is None:
        sys.exit("no nvidia-smi: this check needs an NVIDIA GPU")
    name, arch = gpu_facts()
    print(f"GPU: {name}, sm_{arch}; nvcc: {shutil.which('nvcc')}", flush=True)
    args.work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT))
    from tests.gguf_files import write_tiny_llama

    model = args.work / "models" / f"gen-{args.layers}x{args.embd}.gguf"
    if not model.exists():
        model.parent.mkdir(parents=True, exist_ok=True)
        write_tiny_llama(model, n_embd=args.embd, n_layer=args.layers, n_ff=args.embd * 11 // 4)
    print(f"model: {model.name}, {model.stat().st_size / 1e9:.2f} GB, {args.layers} layers", flush=True)
    cuda = probe(cuda_python(args.work, args.wheelhouse, arch), model, "auto")
    running, estimate = cuda["running"], cuda["estimate"]
    print(f"backend: {running.get('gpu_backend')}; layers on GPU: {running.get('gpu_layers')}/{running.get('layers')}")
    print(
        f"VRAM taken: {running.get('size_vram', 0) / 1e9:.2f} GB; estimate: {estimate['gpu_bytes'] / 1e9:.2f} GB "
        f"({estimate['verdict']}); error {_error(running.get('size_vram'), estimate['gpu_bytes'])}"
    )
    if running.get("note"):
        print(f"note: {running['note']}")
    print(f"tokens/s on the GPU: {cuda['tokens_per_s']:.1f}")
    if args.cpu_python:
        cpu = probe(args.cpu_python, model, "0")
        print(f"tokens/s on the CPU build: {cpu['tokens_per_s']:.1f}")


def _error(measured: int | None, estimated: int) -> str:
    return f"{(estimated - measured) / measured:+.0%}" if measured else "n/a (no VRAM figure)"


if __name__ == "__main__":
    main()
