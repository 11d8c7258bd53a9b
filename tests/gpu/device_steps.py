"""The Python steps of tests/gpu/device_check.sh: each a function returning a JSON-ready dict, never
raising (a failed step records its error and the check goes on), run one per process:

    python tests/gpu/device_steps.py STEP --out DIR [--model PATH]

writes DIR/STEP.json. `verdict` reads them all and exits 1 unless a CUDA device was listed and a
load put non-zero buffers on CUDA0: a silent fall back to the CPU must not pass. The CPU-side
steps also run in CI (tests/test_device_check.py) with the CPU build of llama-cpp-python.
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CONTEXTS = (1024, 8192)
"""The two context sizes of the matrix."""
KV_TYPES = ("f16", "q8_0")
SMALL = {"n_embd": 512, "n_layer": 4, "n_ff": 1408, "context_length": 8192}
"""The matrix's model (~60 MB of f32): every load quick, the KV cache's share visible."""
BIG = {"n_embd": 2048, "n_layer": 16, "n_ff": 5632, "context_length": 8192}
"""The ballast's model (~3 GB of f32): big enough that half its layers is a clear figure."""
CUDA_LIBRARIES = ("libcublas.so", "libcublasLt.so", "libcudart.so")
PROMPT = "Tell me a long story about a lighthouse."


def step(function: Callable[..., dict[str, Any]]) -> Callable[..., dict[str, Any]]:
    """Run a step: its dict with the seconds it took, or its error (the check goes on)."""

    def run(*args: Any, **kwargs: Any) -> dict[str, Any]:
        started = time.monotonic()
        try:
            result = function(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - a step never stops the check
            if isinstance(error, KeyboardInterrupt):
                raise
            result = {"ok": False, "error": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()[-2000:]}
        result["seconds"] = round(time.monotonic() - started, 2)
        return result

    run.__name__ = function.__name__
    run.__doc__ = function.__doc__
    return run


# ---- the CUDA libraries of the image ----


@step
def cuda_libs(search: list[Path] | None = None) -> dict[str, Any]:
    """Folders holding cuBLAS and the CUDA runtime (the PyTorch wheels' nvidia/cu13/lib or
    nvidia/*/lib, /usr/local/cuda/lib64): the LD_LIBRARY_PATH the build and the loads need."""
    import site

    roots = search if search is not None else [Path(p) for p in {*site.getsitepackages(), site.getusersitepackages()}]
    if search is None:
        roots += [Path("/usr/local/cuda/lib64"), Path("/usr/local/cuda/targets/x86_64-linux/lib")]
    candidates: list[Path] = []
    for root in roots:
        candidates += [root] if root.is_dir() else []
        for pattern in ("nvidia/*/lib", "nvidia/cu*/lib"):
            candidates += sorted(root.glob(pattern)) if root.is_dir() else []
    found: dict[str, str] = {}
    dirs: list[str] = []
    for folder in candidates:
        for name in CUDA_LIBRARIES:
            hit = next(iter(sorted(folder.glob(f"{name}*"))), None)
            if hit is not None and name not in found:
                found[name] = str(hit)
                if str(folder) not in dirs:
                    dirs.append(str(folder))
    headers = next(
        (str(h.parent) for folder in candidates for h in sorted(folder.parent.glob("include/cublas_v2.h"))), ""
    )
    missing = [name for name in CUDA_LIBRARIES if name not in found] + ([] if headers else ["cublas_v2.h"])
    return {
        "ok": not missing,
        "found": found,
        "cublas_include": headers,
        "missing": missing,
        "ld_library_path": ":".join(dirs),
        "searched": [str(r) for r in roots],
    }


# ---- models ----


@step
def models(folder: Path, sizes: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    """The generated llama GGUFs the other steps load (tests/gguf_files.py)."""
    from tests.gguf_files import write_tiny_llama

    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, shape in (sizes or {"small": SMALL, "big": BIG}).items():
        path = folder / f"{name}.gguf"
        if not path.exists():
            write_tiny_llama(
                path,
                name=f"device check {name}",
                n_embd=shape["n_embd"],
                n_layer=shape["n_layer"],
                n_ff=shape["n_ff"],
                context_length=shape["context_length"],
            )
        written[name] = {"path": str(path), "bytes": path.stat().st_size, **shape}
    return {"ok": True, "models": written}


# ---- backends and devices, as the engine's child does it ----

BACKENDS_PROBE = textwrap.dedent("""
    import json, re
    from tui.engines.embedded.ggml_devices import list_devices
    from tui.engines.embedded.gpu_build import built_flavour, library_dirs
    from tui.engines.embedded.llama_log import LlamaLog
    from tui.engines.embedded.offload_child import load_backends

    dirs = library_dirs()
    heard = LlamaLog.install_in_ggml(dirs)
    load_backends()
    devices = list_devices(dirs)
    import llama_cpp
    maps = open("/proc/self/maps").read()
    paths = sorted(set(re.findall(r"\\S*/libggml[-a-z]*\\.so[.0-9]*", maps)))
    print(json.dumps({
        "flavour": built_flavour(),
        "log_installed": heard,
        "devices": [d.as_dict() for d in devices],
        "startup_errors": LlamaLog.startup.errors,
        "mapped": paths,
        "libggml_copies": len({p for p in paths if re.search(r"/libggml\\.so", p)}),
    }))
""")


@step
def backends() -> dict[str, Any]:
    """The backends loaded as the child loads them: exactly one libggml mapped, and ggml's devices
    with their free and total memory."""
    found = _python(BACKENDS_PROBE)
    devices = found["devices"]
    return {
        **found,
        "ok": found["libggml_copies"] == 1 and bool(devices),
        "cuda_listed": any(d["backend"] == "CUDA" and d["type"] == "GPU" for d in devices),
        "summary": [
            f"{d['name']} {d['description']}: {_gib(d['free_bytes'])} free of {_gib(d['total_bytes'])}" for d in devices
        ],
    }


# ---- loads: the matrix, the ballast, the decode out of memory, the hidden GPU ----


async def _load(
    model: Path,
    n_ctx: int,
    *,
    kv: str = "f16",
    flash: bool = False,
    gpu_layers: int | None = None,
    vram: bool = True,
    prompt: str = PROMPT,
    max_tokens: int = 8,
) -> dict[str, Any]:
    """One load and one short answer through the embedded engine: the child's report, the fit
    estimate and NVML's free VRAM before and after."""
    from tui.domain import ChatTurn, GenerationOptions, Role
    from tui.engines.embedded.engine import EmbeddedEngine
    from tui.engines.embedded.gguf_info import read_gguf_info
    from tui.fit.memory import read_vram
    from tui.fit.offload import plan

    info = read_gguf_info(model)
    before = read_vram()
    estimate = plan(info, n_ctx, before, wanted=gpu_layers, kv_cache_type=kv, flash_attention=flash)
    log = model.parent / "engine.log"
    engine = EmbeddedEngine(
        models_dir=model.parent,
        include_starter=False,
        n_ctx=n_ctx,
        gpu_layers=gpu_layers,
        kv_cache_type=kv,
        flash_attention=flash,
        vram=read_vram if vram else None,
        log_path=log,
        n_threads=min(8, os.cpu_count() or 1),
    )
    result: dict[str, Any] = {"n_ctx": n_ctx, "kv": kv, "flash_attention": flash}
    try:
        turn = [ChatTurn(Role.USER, prompt)]
        events = [event async for event in engine.chat(str(model), turn, GenerationOptions(max_tokens=max_tokens))]
        last = events[-1]  # The Finished event: the counts and the notice.
        result["completion_tokens"] = getattr(last, "completion_tokens", None)
        result["notice"] = getattr(last, "notice", "")
        after = read_vram()
        [listed] = [m for m in await engine.list_models() if m.path == str(model)]
        running = listed.extra.get("running") or {}
    finally:
        await engine.aclose()
    vram_logged = sum((running.get("vram_by_device") or {}).values())
    result |= {
        "gpu_backend": running.get("gpu_backend"),
        "gpu_layers": running.get("gpu_layers"),
        "layers": running.get("layers"),
        "note": running.get("note", ""),
        "buffers": running.get("buffers", {}),
        "vram_by_device": running.get("vram_by_device", {}),
        "estimate": estimate
        and {"layers": estimate.layers, "gpu_bytes": estimate.gpu_bytes, "verdict": estimate.verdict},
        "logged_vram_bytes": vram_logged,
        "logged_mib": {dev: round(sum(kinds.values()), 2) for dev, kinds in (running.get("buffers") or {}).items()},
        "nvml_taken_bytes": before.free - after.free if before and after else None,
    }
    if estimate and vram_logged:
        result["estimate_error"] = round((estimate.gpu_bytes - vram_logged) / vram_logged, 3)
    return result


@step
def matrix(model: Path, contexts: tuple[int, ...] = CONTEXTS) -> dict[str, Any]:
    """Two context sizes x f16 and q8_0 KV x flash attention off and on: the estimate beside the
    buffers llama.cpp logged beside what NVML saw go."""
    rows = []
    for n_ctx in contexts:
        for kv in KV_TYPES:
            for flash in (False, True):
                try:
                    rows.append(asyncio.run(_load(model, n_ctx, kv=kv, flash=flash)))
                except Exception as error:  # noqa: BLE001 - one failed load is a row, not the end
                    rows.append(
                        {
                            "n_ctx": n_ctx,
                            "kv": kv,
                            "flash_attention": flash,
                            "error": f"{type(error).__name__}: {error}",
                        }
                    )
    loaded = [r for r in rows if "error" not in r]
    return {"ok": len(loaded) == len(rows) and all(r["buffers"] for r in loaded), "rows": rows}


@step
def ballast(model: Path) -> dict[str, Any]:
    """Every layer asked for while most free VRAM is held by this process: the load must fall back
    to fewer layers, and say so."""
    from tui.engines.embedded.gguf_info import read_gguf_info
    from tui.fit.offload import plan

    cuda = _Cudart()
    free, total = cuda.mem_info()
    info = read_gguf_info(model)
    full = plan(info, CONTEXTS[0], None)
    assert full is not None, "the model's layers are unknown"
    # Leave room for the child's CUDA context (~0.5 GiB) and about a third of the model.
    leave = (768 << 20) + full.gpu_bytes // 3
    held = cuda.hold(max(0, free - leave))
    try:
        loaded = asyncio.run(_load(model, CONTEXTS[0], gpu_layers=full.total, vram=False))
    finally:
        cuda.release()
    fewer = loaded["gpu_layers"] is not None and loaded["gpu_layers"] < full.total
    return {
        "ok": fewer and bool(loaded["note"]),
        "free_before": free,
        "total": total,
        "held_bytes": held,
        "estimate_all_layers": full.gpu_bytes,
        "load": loaded,
    }


@step
def decode_oom(model: Path) -> dict[str, Any]:
    """A model loaded whole, then every free byte held here, then a long prompt: the decode runs
    out of memory; wanted: a message naming memory, no crash of the check."""
    from tui.domain import ChatTurn, GenerationOptions, Role
    from tui.engines.embedded.engine import EmbeddedEngine

    cuda = _Cudart()
    engine = EmbeddedEngine(
        models_dir=model.parent, include_starter=False, n_ctx=CONTEXTS[1], gpu_layers=None, vram=None
    )

    async def ask(prompt: str, max_tokens: int) -> str:
        async for _ in engine.chat(str(model), [ChatTurn(Role.USER, prompt)], GenerationOptions(max_tokens=max_tokens)):
            pass
        return "answered"

    async def run() -> dict[str, Any]:
        result: dict[str, Any] = {"first": await ask("hi", 2)}
        free, _ = cuda.mem_info()
        result["held_bytes"] = cuda.hold(max(0, free - (16 << 20)))
        try:
            result["long"] = await ask(PROMPT * 150, 16)  # ~6k tokens: batches the pool has not seen
        except Exception as error:  # noqa: BLE001 - the message is the result
            result["long"] = "error"
            result["error_type"] = type(error).__name__
            result["message"] = str(error)[:1000]
        finally:
            cuda.release()
        try:
            result["after"] = await ask("hi", 2)  # The engine answers again (a fresh child, if it died).
        except Exception as error:  # noqa: BLE001
            result["after"] = f"{type(error).__name__}: {error}"[:500]
        return result

    async def closing() -> dict[str, Any]:
        try:
            return await run()
        finally:
            await engine.aclose()

    result = asyncio.run(closing())
    words = result.get("message", "").lower()
    result["ok"] = result["long"] == "error" and "memory" in words
    return result


@step
def hidden_gpu(model: Path) -> dict[str, Any]:
    """CUDA_VISIBLE_DEVICES="": the load runs on the CPU and says why."""
    from tui.engines.embedded.gpu_build import built_flavour

    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    try:
        loaded = asyncio.run(_load(model, CONTEXTS[0], vram=False))
    finally:
        if saved is None:
            del os.environ["CUDA_VISIBLE_DEVICES"]
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = saved
    flavour = built_flavour()
    # A GPU build must say why it ran on the CPU; a CPU build is its own reason.
    reason = loaded["note"] or (f"a {flavour} build of llama.cpp" if flavour == "cpu" else "")
    return {
        "ok": loaded["gpu_backend"] == "CPU" and bool(reason) and not loaded["vram_by_device"],
        "flavour": flavour,
        "reason": reason,
        "load": loaded,
    }


@step
def ask_json(model: Path, home: Path) -> dict[str, Any]:
    """`lchat ask --json` on the model, in a home of its own: the offload figures it prints."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f"[engine]\ncontext_length = {CONTEXTS[0]}\nmodel_dirs = [{json.dumps(str(model.parent))}]\n\n"
        "[chat]\nmax_tokens = 16\n\n[ollama]\nenabled = false\n",
        encoding="utf-8",
    )
    env = os.environ | {"LCHAT_HOME": str(home), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "tui", "ask", "--json", "--no-stdin", "-m", model.name, "Say hi."]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        return {"ok": False, "rc": done.returncode, "stderr": done.stderr[-2000:], "stdout": done.stdout[-2000:]}
    answer = json.loads(done.stdout)
    kept = {
        k: answer.get(k)
        for k in ("gpu_backend", "gpu_layers", "layers", "buffers", "vram_by_device", "devices", "note")
    }
    cuda0 = sum((answer.get("buffers") or {}).get("CUDA0", {}).values())
    return {"ok": True, "cuda0_mib": round(cuda0, 2), **kept}


@step
def stats_sample(model: Path, nvml: Any = None) -> dict[str, Any]:
    """One NVML sample while the engine generates: the child's VRAM attributed to it (or, where a
    container hides its pid, the VRAM it allocated), power 50-700 W, a sane temperature.
    `nvml`: the pynvml module (default) or a double of it."""
    if nvml is None:
        import pynvml

        nvml = pynvml

    from tui.domain import ChatTurn, GenerationOptions, Role
    from tui.engines.embedded.engine import EmbeddedEngine
    from tui.stats.nvidia import NvidiaReader

    engine = EmbeddedEngine(
        models_dir=model.parent, include_starter=False, n_ctx=CONTEXTS[0], gpu_layers=None, vram=None
    )
    owned: dict[str, int] = {}
    reader = NvidiaReader(
        nvml,
        owned_pids=lambda: {pid} if (pid := engine.child_pid) else set(),
        owned_vram=lambda index: owned.get(f"CUDA{index}"),
    )

    async def run() -> Any:
        pieces = 0
        sample = None
        async for _ in engine.chat(str(model), [ChatTurn(Role.USER, PROMPT)], GenerationOptions(max_tokens=400)):
            pieces += 1
            if pieces == 40 and sample is None:
                [listed] = [m for m in await engine.list_models() if m.path == str(model)]
                owned.update((listed.extra.get("running") or {}).get("vram_by_device") or {})
                sample = await asyncio.to_thread(reader.read)
        return sample

    async def closing() -> Any:
        try:
            return await run()
        finally:
            await engine.aclose()

    try:
        partial = asyncio.run(closing())
    finally:
        reader.close()
    gpus = list(getattr(partial, "gpus", ()) or ())
    if not gpus:
        return {"ok": False, "error": "NVML gave no GPU", "partial": repr(partial)[:1000]}
    gpu = gpus[0]
    ours = [p for p in gpu.processes if p.ours]
    attributed = bool(ours and (ours[0].vram_bytes or 0) > 0) or bool(
        gpu.pids_hidden and (gpu.owned_vram_bytes or 0) > 0
    )
    power_ok = gpu.power_w is not None and 50 <= gpu.power_w <= 700
    temp_ok = gpu.temp_c is not None and 10 <= gpu.temp_c <= 95
    return {
        "ok": attributed and power_ok and temp_ok,
        "attributed": attributed,
        "power_w": gpu.power_w,
        "temp_c": gpu.temp_c,
        "util_percent": gpu.util_percent,
        "vram_used": gpu.vram_used,
        "pids_hidden": gpu.pids_hidden,
        "owned_vram_bytes": gpu.owned_vram_bytes,
        "processes": [
            {"pid": p.pid, "name": p.name, "vram_bytes": p.vram_bytes, "ours": p.ours} for p in gpu.processes
        ],
    }


# ---- the verdict ----


def verdict(results: dict[str, dict[str, Any]]) -> tuple[int, dict[str, Any]]:
    """(exit status, summary): 0 only when a CUDA device was listed and a load's CUDA0 buffers
    were non-zero; every step's ok is listed, and a failed step other than those two is a
    finding, not a failure of the check itself."""
    cuda_listed = bool(results.get("backends", {}).get("cuda_listed"))
    ask = results.get("ask_json", {})
    rows = results.get("matrix", {}).get("rows", [])
    cuda0 = (ask.get("cuda0_mib") or 0) > 0 or any(
        sum(r.get("buffers", {}).get("CUDA0", {}).values()) > 0 for r in rows
    )
    summary = {
        "cuda_listed": cuda_listed,
        "cuda0_buffers": cuda0,
        "steps": {name: bool(result.get("ok")) for name, result in sorted(results.items())},
    }
    if not cuda_listed:
        summary["why"] = "no CUDA device was listed: this ran on the CPU"
    elif not cuda0:
        summary["why"] = "a CUDA device was listed but no load put buffers on CUDA0"
    return (0 if cuda_listed and cuda0 else 1), summary


def read_results(out: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for path in sorted(out.glob("*.json")):
        if path.stem != "verdict":
            try:
                found[path.stem] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as error:
                found[path.stem] = {"ok": False, "error": f"unreadable: {error}"}
    return found


# ---- helpers ----


class _Cudart:
    """cudaMalloc through ctypes (the image's libcudart on LD_LIBRARY_PATH): ballast VRAM held by
    this process, so the engine's child finds the GPU nearly full."""

    def __init__(self) -> None:
        self.lib = _load_first(("libcudart.so", "libcudart.so.13", "libcudart.so.12"))
        self.held: list[ctypes.c_void_p] = []

    def mem_info(self) -> tuple[int, int]:
        free, total = ctypes.c_size_t(0), ctypes.c_size_t(0)
        self._check(self.lib.cudaMemGetInfo(ctypes.byref(free), ctypes.byref(total)), "cudaMemGetInfo")
        return free.value, total.value

    def hold(self, size: int) -> int:
        """Allocate about `size` bytes in 256 MiB pieces (one huge piece can fail where pieces fit)."""
        taken, piece = 0, 256 << 20
        while taken < size:
            chunk = min(piece, size - taken)
            pointer = ctypes.c_void_p()
            if self.lib.cudaMalloc(ctypes.byref(pointer), ctypes.c_size_t(chunk)) != 0:
                if chunk <= 16 << 20:
                    break
                piece = max(16 << 20, piece // 4)
                continue
            self.held.append(pointer)
            taken += chunk
        return taken

    def release(self) -> None:
        for pointer in self.held:
            self.lib.cudaFree(pointer)
        self.held.clear()

    @staticmethod
    def _check(code: int, what: str) -> None:
        if code != 0:
            raise RuntimeError(f"{what} failed with CUDA error {code}")


def _load_first(names: tuple[str, ...]) -> ctypes.CDLL:
    errors = []
    for name in names:
        try:
            return ctypes.CDLL(name)
        except OSError as error:
            errors.append(str(error))
    raise RuntimeError(f"no CUDA runtime library loads: {'; '.join(errors)}")


def _python(code: str) -> dict[str, Any]:
    """Run `code` in a fresh interpreter (this tree first on the path); its last line of JSON."""
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"exit {done.returncode}: {done.stderr[-1500:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _gib(size: int) -> str:
    return f"{size / (1 << 30):.2f} GiB"


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("step")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "gpu-results"))
    parser.add_argument("--model", type=Path)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.step == "verdict":
        status, summary = verdict(read_results(args.out))
        (args.out / "verdict.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
        print(json.dumps(summary, indent=2))
        return status
    models_dir = args.out / "models"
    model = args.model or models_dir / "small.gguf"
    big = models_dir / "big.gguf"
    calls: dict[str, Callable[[], dict[str, Any]]] = {
        "cuda_libs": lambda: cuda_libs(),
        "models": lambda: models(models_dir),
        "backends": backends,
        "matrix": lambda: matrix(model),
        "ballast": lambda: ballast(big),
        "decode_oom": lambda: decode_oom(big),
        "hidden_gpu": lambda: hidden_gpu(model),
        "ask_json": lambda: ask_json(model, Path(tempfile.mkdtemp(prefix="lchat-home-"))),
        "stats_sample": lambda: stats_sample(big),
    }
    if args.step not in calls:
        parser.error(f"unknown step {args.step}; one of {', '.join(calls)}, verdict")
    result = calls[args.step]()
    (args.out / f"{args.step}.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    if args.step == "cuda_libs":
        print(result.get("ld_library_path", ""))
    else:
        shown = {k: v for k, v in result.items() if k in ("ok", "error", "summary", "why", "seconds")}
        print(f"{args.step}: {json.dumps(shown, default=str)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
