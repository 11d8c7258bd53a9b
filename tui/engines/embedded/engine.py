"""The embedded engine: llama.cpp in a child process that keeps one GGUF model warm.

llama_cpp is imported only in the child (tui.engines.embedded.child), so a crash in native
code costs one answer, not the app, and llama.cpp's writes to fd 2 never reach the screen.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from tui.domain import ChatTurn, GenerationOptions, ModelInfo
from tui.engines.base import (
    BadRequest,
    ChatEvent,
    Engine,
    EngineCrashed,
    EngineError,
    Finished,
    ModelLoadError,
    ModelNotFound,
    ReasoningPiece,
    TextPiece,
    ToolCallRequest,
)
from tui.engines.embedded import child as embedded_child
from tui.engines.embedded.child_messages import FromChild, ToChild
from tui.engines.embedded.discovery import check_delete, discover_gguf_models
from tui.engines.embedded.gguf_info import read_gguf_info
from tui.engines.embedded.load_errors import MEMORY, classify
from tui.engines.embedded.lora import read_lora, saved_lora
from tui.engines.embedded.offload_plan import OffloadPlanner, cuda_index
from tui.engines.embedded.vision import find_projector
from tui.engines.embedded.vision_chat import vision_request
from tui.engines.manage import Details
from tui.engines.reasoning_split import Tally
from tui.engines.tool_parse import ToolCallScanner
from tui.engines.wire import template_messages
from tui.fit.estimate import Memory
from tui.fit.offload import Offload, offload_rows
from tui.guard.safe_text import one_line

MAX_LOGGED_ERRORS = 20
"""ERROR lines of one answer kept in the parent (the child sends them as llama.cpp logs them)."""
DRAIN_TIMEOUT_S = 5.0
"""How long a new request waits for a cancelled one to wind down before the child is replaced."""


def default_threads(leave_core_for_ui: bool = False) -> int:
    """Threads for generation when none are configured: every core this process may use, less
    one when the TUI runs beside the engine.

    Measured with SmolLM2-135M Q4_1 on a 2-core machine (`make bench`, row 1): headless, 2 threads
    give 84 tokens/s against 53 for 1. Under the TUI, which takes 10 to 30% of a core while it
    streams, 2 threads deliver 54 on an idle machine and 10 on a busy one, 1 thread 53 and 35:
    ggml's threads wait on each other, so one stalled thread stalls them all.
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # Not Linux.
        cores = os.cpu_count() or 1
    return max(1, cores - 1 if leave_core_for_ui else cores)


class _ChildDied(Exception):
    """The child process ended; args[0] says how."""


class _Child:
    """A running child process and the parent's end of its pipe."""

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.pending: int | None = None
        """A request whose final message has not been read yet (it was cancelled)."""
        self.loaded: tuple[str | None, int] | None = None
        """(path, n_ctx) of the model the child holds, once it said so."""
        self.offload: dict[str, Any] = {}
        """What that load put on the GPU: gpu_backend, gpu_layers, layers, vram_bytes, note, and
        as llama.cpp logged it buffers (MiB per device and kind), vram_by_device and devices."""
        self.asked: dict[str, Any] = {}
        """The offload options that load was asked for, kept while the model stays."""

    def send(self, msg: ToChild) -> None:
        try:
            self.conn.send(msg)
        except (OSError, ValueError):
            raise _ChildDied("lost the connection") from None

    def cancel(self, req: int) -> None:
        try:
            self.conn.send(("cancel", req))
        except (OSError, ValueError):
            pass  # The child is gone; the next request notices.

    async def recv(self) -> FromChild:
        """The next message, waiting without blocking the event loop."""
        while True:
            try:
                if self.conn.poll():
                    message: FromChild = self.conn.recv()
                    return message
            except (EOFError, OSError, ValueError):
                raise _ChildDied(await self.exit_reason()) from None
            await _readable(self.conn.fileno())

    async def exit_reason(self) -> str:
        """How the child ended, e.g. "SIGKILL" or "exit code 1"; kills a child that lingers."""
        for _ in range(100):
            if self.process.exitcode is not None:
                break
            await asyncio.sleep(0.02)
        else:
            self.kill()
            return "stopped answering"
        code = self.process.exitcode
        if code < 0:
            try:
                return signal.Signals(-code).name
            except ValueError:
                return f"signal {-code}"
        return f"exit code {code}"

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.conn.close()


def _stopped(pid: int | None) -> bool:
    """Whether process `pid` is stopped (Linux: its state in /proc; elsewhere never known)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] in ("T", "t")
    except (OSError, IndexError):
        return False


def _wake(future: asyncio.Future[None]) -> None:
    """Resolve `future` unless a previous call already did."""
    if not future.done():
        future.set_result(None)


async def _readable(fd: int) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    loop.add_reader(fd, _wake, ready)
    try:
        await ready
    finally:
        loop.remove_reader(fd)


class EmbeddedEngine(Engine):
    """Runs GGUF models with llama-cpp-python in a child process.

    Model names are the absolute paths of the GGUF files (ModelInfo.name); chat() also takes
    any absolute path, or the bare file name of a discovered model.
    """

    name = "embedded"

    def __init__(
        self,
        *,
        models_dir: Path,
        extra_dirs: Sequence[Path] = (),
        include_starter: bool = True,
        n_threads: int | None = None,
        n_ctx: int = 4096,
        log_path: Path | None = None,
        reused: Callable[[], Sequence[ModelInfo]] | None = None,
        lora_profiles: Mapping[str, str] | None = None,
        gpu_layers: int | None = None,
        kv_cache_type: str = "f16",
        flash_attention: bool | str = False,
        vram: Callable[[], Memory | None] | None = None,
        flavour: str | None = None,
        calibration: Path | None = None,
    ) -> None:
        """`n_ctx` is capped by each model's own context length; `log_path` receives the
        child's stdout and stderr (os.devnull by default); `reused` lists models found in other
        apps' stores (tui.engines.embedded.stores), offered after the folders' own; `lora_profiles` maps a
        model (name or file name) to the LoRA adapter it gets when a chat names none.

        `gpu_layers`: layers on the GPU, None for as many as fit in the free VRAM that `vram`
        reads (blocking; tui.fit.memory.read_vram); `flavour`: the llama.cpp build's GPU
        backend ("cuda", "cpu"...; default: read from the installed files); `flash_attention`: True,
        False or "auto"; `calibration`: the JSON file keeping each load's logged compute buffer
        for the next estimate (tui.fit.calibration)."""
        self._gpu_layers = gpu_layers
        self._planner = OffloadPlanner(gpu_layers, kv_cache_type, flash_attention, calibration)
        self._vram = vram
        self._flavour = flavour
        self._reused = reused
        self._lora_profiles = dict(lora_profiles or {})
        self._models_dir = models_dir
        self._extra_dirs = tuple(extra_dirs)
        self._include_starter = include_starter
        self._n_threads = n_threads or default_threads()
        self._n_ctx = n_ctx
        self._log_path = log_path
        self._child: _Child | None = None
        self._lock = asyncio.Lock()
        self._next_id = 0
        self._known: dict[str, ModelInfo] = {}
        self._infos: dict[tuple[str, int, int], ModelInfo] = {}

    can_describe = can_delete = supports_lora = reports_loaded = True
    full_swa_cache = True
    """llama-cpp-python keeps llama.cpp's default full-size SWA cache (swa_full), which lchat leaves on."""

    @property
    def local(self) -> bool:
        return True

    @property
    def loads_into(self) -> str:
        """llama.cpp runs here on the CPU."""
        return "RAM"

    @property
    def context_cap(self) -> int:
        """Most context a model is loaded with here, whatever it was trained for."""
        return self._n_ctx

    @property
    def child_pid(self) -> int | None:
        """The child's process id while one runs."""
        child = self._child
        return child.process.pid if child is not None and child.process.is_alive() else None

    def vram_on(self, gpu: int) -> int | None:
        """What the child's last load logged on CUDA device `gpu` (llama.cpp's "CUDA0 ... buffer size"
        lines); CUDA numbers the devices CUDA_VISIBLE_DEVICES lists, NVML every card, in bus order."""
        child = self._child
        if child is None or not child.loaded or not child.process.is_alive():
            return None
        by_device = child.offload.get("vram_by_device") or {}
        cuda = cuda_index(gpu)
        return by_device.get(f"CUDA{cuda}") if cuda is not None else None

    async def list_models(self) -> list[ModelInfo]:
        """The GGUF files in the models folder, the extra folders and the starter model."""
        models = await asyncio.to_thread(
            discover_gguf_models,
            self._models_dir,
            self._extra_dirs,
            self._include_starter,
        )
        if self._reused is not None:
            own = {Path(info.path or info.name) for info in models}
            models += [m for m in await asyncio.to_thread(self._reused) if Path(m.path or m.name) not in own]
        self._known = {}
        for info in models:
            self._known.setdefault(info.name, info)
            self._known.setdefault(Path(info.name).name, info)
        return [self._with_state(info) for info in models]

    def _with_state(self, info: ModelInfo) -> ModelInfo:
        """`info` marked running (as Ollama's loaded models are) if the child holds it now."""
        child = self._child
        loaded = child.loaded if child is not None and child.process.is_alive() else None
        if loaded is None or loaded[0] != info.path:
            return info
        assert child is not None
        running = {
            "size": info.size_bytes or 0,
            "size_vram": child.offload.get("vram_bytes") or 0,
            "context_length": loaded[1],
            **child.offload,
        }
        return replace(info, extra={**info.extra, "running": running})

    @property
    def build_flavour(self) -> str:
        """The llama.cpp build's GPU backend: "cuda", "vulkan", "metal" or "cpu"."""
        if self._flavour is None:
            from tui.engines.embedded.gpu_build import built_flavour

            self._flavour = built_flavour()
        return self._flavour

    def offload_plan(self, model: ModelInfo, n_ctx: int, vram: Memory | None) -> Offload | None:
        """What a load decides (OffloadPlanner.plan), without the projector file and the logged
        compute buffer, which a load reads but a list of models need not; None on a CPU build."""
        if self.build_flavour == "cpu":
            return None
        return self._planner.plan(model, n_ctx, vram, measured=False)

    def load_details(self, model: ModelInfo) -> Details:
        """What the model's load put on the GPU, and the [engine] options the next load takes."""
        planner = self._planner
        wanted = "auto" if planner.gpu_layers is None else planner.gpu_layers
        return offload_rows(model, planner.kv_types[0], planner.flash_attention, wanted)

    def _free_vram(self, child: _Child | None) -> Memory | None:
        """Free VRAM now, counting what our own child's model holds (a reload frees it first)."""
        memory = self._vram() if self._vram is not None else None
        held = child.offload.get("vram_bytes") or 0 if child is not None and child.loaded else 0
        if memory is None or not held:
            return memory
        return replace(memory, free=min(memory.free + held, memory.total))

    async def chat(
        self, model: str, messages: Sequence[ChatTurn], options: GenerationOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        """Streams one answer; requests run one at a time.

        Cancel the consuming task or aclose() the iterator to stop early: the child stops
        within a token and the next chat waits for it. An abandoned, unclosed iterator holds
        the engine until it is garbage-collected.
        """
        tally = Tally(time.monotonic())
        info = await self._resolve(model)
        n_ctx = min(self._n_ctx, info.context_length or self._n_ctx)
        turns = template_messages(messages)
        # With tools offered, what may be a tool call is held back: its JSON never shows as answer text.
        scanner = ToolCallScanner() if options.tools else None
        lora = await self._lora_for(model, info, options.lora)
        opts = asdict(options) | {"stop": list(options.stop), "lora": lora}
        seen = vision_request(info, messages)
        if seen is not None:
            turns, opts["vision"] = seen
        async with self._lock:
            child = await self._idle_child()
            before, offload = None, {**child.asked, "note": ""}
            if child.loaded != (info.path, n_ctx) or not child.asked:  # Else keep it: no reload.
                if self.build_flavour != "cpu" and self._gpu_layers != 0 and self._vram is not None:
                    before = await asyncio.to_thread(self._free_vram, child)
                offload = await asyncio.to_thread(self._planner.options_for, info, n_ctx, before, self.build_flavour)
            opts["offload"] = {k: v for k, v in offload.items() if k != "note"}
            self._next_id += 1
            req = self._next_id
            child.pending = req
            loaded, last, load_note = False, None, ""
            errors: list[str] = []
            try:
                child.send(("chat", req, info.path, n_ctx, turns, opts))
                while True:
                    kind, msg_req, *rest = await child.recv()
                    if msg_req != req:
                        continue  # Left over from a cancelled request.
                    if kind == "log":
                        if len(errors) < MAX_LOGGED_ERRORS:
                            errors.append(rest[0])
                    elif kind == "loaded":
                        loaded, child.loaded = True, (info.path, n_ctx)
                        if rest and rest[0].pop("fresh", True):
                            child.offload = await self._loaded(rest[0], offload["note"], before)
                            child.asked = opts["offload"]
                            load_note = child.offload["note"]
                            buffers = child.offload.get("buffers") or {}
                            await asyncio.to_thread(self._planner.remember, info, n_ctx, buffers)
                    elif kind in ("piece", "reasoning"):
                        last = time.monotonic()
                        if kind == "reasoning":
                            yield tally.note(ReasoningPiece(rest[0]))
                        else:
                            text = scanner.feed(rest[0]) if scanner else rest[0]
                            if text:
                                yield tally.note(TextPiece(text))
                    elif kind == "done":
                        child.pending = None
                        stats = rest[0]
                        if scanner:
                            end = scanner.finish()
                            if end.text:
                                yield tally.note(TextPiece(end.text))
                            for call in end.calls:
                                yield ToolCallRequest(call)
                        first = tally.first
                        yield Finished(
                            prompt_tokens=stats["prompt_tokens"],
                            completion_tokens=stats["completion_tokens"],
                            ttft_s=tally.ttft_s,
                            gen_s=last - first if first and last else 0.0,
                            stop_reason=stats.get("stop_reason", "stop"),
                            cached_tokens=stats["cached_tokens"],
                            prompt_s=stats.get("prompt_s"),
                            load_s=stats.get("load_s"),
                            reasoning_tokens=stats.get("reasoning_tokens") if tally.thought else None,
                            reasoning_ttft_s=tally.reasoning_ttft_s,
                            notice="; ".join(n for n in (stats.get("notice", ""), load_note) if n),
                        )
                        return
                    elif kind == "error":
                        child.pending = None
                        if not loaded:
                            child.loaded = None  # A failed load leaves nothing loaded.
                        raise self._child_error(info, *rest, lora=lora)
            except _ChildDied as died:
                self._drop(child)
                if not loaded:
                    raise ModelLoadError(f"{info.name} could not be loaded: the engine crashed ({died})") from None
                if errors and classify(errors).kind == MEMORY:
                    raise self._planner.out_of_memory(info, child.offload, child.asked, errors) from None
                raise EngineCrashed(f"engine crashed ({died})") from None
            finally:
                if child.pending == req:
                    child.cancel(req)  # Cancelled or closed early: the next chat drains it.
                    if not loaded:
                        child.loaded = None  # Stopped mid-load: which model it holds is unknown.

    async def _loaded(self, report: dict[str, Any], note: str, before: Memory | None) -> dict[str, Any]:
        """The child's load report with the VRAM it took (free VRAM before less after, else the
        device buffers llama.cpp logged) and every note joined; the notes also go to the engine log."""
        after = await asyncio.to_thread(self._vram) if before is not None and self._vram else None
        taken = max(0, before.free - after.free) if before and after and report.get("gpu_layers") else 0
        taken = taken or sum((report.get("vram_by_device") or {}).values())
        notes = "; ".join(n for n in (note, report.get("note", "")) if n)
        if notes and self._log_path:
            await asyncio.to_thread(_log_line, self._log_path, f"lchat: GPU offload: {notes}")
        return report | {"vram_bytes": taken, "note": notes}

    async def aclose(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        if child.pending is None:  # Idle: let it exit on its own, else kill it.
            try:
                child.conn.send(("quit",))
            except (OSError, ValueError):
                pass
            for _ in range(50):
                if child.process.exitcode is not None:
                    break
                await asyncio.sleep(0.02)
        child.kill()

    def supports_images(self, model: str) -> bool | None:
        """Whether the model's projector (mmproj) file is found (tui.engines.embedded.vision); None for a
        name not listed yet."""
        known = self._known.get(model)
        path = Path(model).expanduser() if known is None else Path(known.path or known.name)
        if not path.is_absolute():
            return None
        return find_projector(path) is not None

    async def details(self, model: str) -> Details:
        """Everything the GGUF file's header says."""
        from tui.engines.embedded.gguf_details import gguf_details

        known = await self._known_model(model)
        return await asyncio.to_thread(gguf_details, Path(known.path or known.name))

    def delete_note(self, model: ModelInfo) -> str:
        """Only lchat's own files, in its models folder, are deleted; reused ones are refused."""
        from tui.fit.units import gb

        path = check_delete(model, self._models_dir)
        size = f" ({gb(model.size_bytes)})" if model.size_bytes else ""
        return f"The file {path.name}{size} is removed."

    async def delete(self, model: str) -> None:
        path = check_delete(await self._known_model(model), self._models_dir)
        try:
            await asyncio.to_thread(path.unlink)
        except OSError as error:
            raise EngineError(f"could not delete {path.name}: {error.strerror or error}") from None

    async def _known_model(self, model: str) -> ModelInfo:
        """The listed model named `model` (listing again if it is new)."""
        if model not in self._known:
            await self.list_models()
        if model not in self._known:
            raise ModelNotFound(f"no GGUF model named {model!r}")
        return self._known[model]

    async def _resolve(self, model: str) -> ModelInfo:
        """The ModelInfo for a name or path, read (and validated) from the file's header."""
        path = Path(model).expanduser()
        if not path.is_absolute():
            known = await self._known_model(model)
            path = Path(known.path or known.name)
        return await asyncio.to_thread(self._read_info, path)

    def _read_info(self, path: Path) -> ModelInfo:
        try:
            stat = path.stat()
        except OSError as exc:
            raise ModelLoadError(f"{path} cannot be read: {exc.strerror or exc}") from None
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if key not in self._infos:
            self._infos[key] = read_gguf_info(path)
        return self._infos[key]

    async def _idle_child(self) -> _Child:
        """A live child with no request in flight, started or replaced as needed."""
        child = self._child
        if child is not None and child.pending is not None and _stopped(child.process.pid):
            self._drop(child)  # Stopped (SIGSTOP, a debugger): it would never wind down.
        child = self._child
        if child is not None and child.pending is not None:
            try:
                async with asyncio.timeout(DRAIN_TIMEOUT_S):
                    while child.pending is not None:
                        kind, req, *_ = await child.recv()
                        if req == child.pending and kind in ("done", "error"):
                            child.pending = None
            except (TimeoutError, _ChildDied):
                self._drop(child)
        child = self._child
        if child is not None and not child.process.is_alive():
            self._drop(child)
        if self._child is None:
            self._child = self._spawn()
        return self._child

    def _spawn(self) -> _Child:
        ctx = multiprocessing.get_context("spawn")
        ours, theirs = ctx.Pipe()
        log = str(self._log_path) if self._log_path else None
        process = ctx.Process(
            target=embedded_child.main,
            args=(theirs, log, self._n_threads),
            name="lchat-embedded",
            daemon=True,
        )
        with _real_stdio():
            process.start()
        theirs.close()  # Else the child's death would never read as EOF here.
        return _Child(process, ours)

    def _drop(self, child: _Child) -> None:
        child.kill()
        if self._child is child:
            self._child = None

    def _child_error(self, info: ModelInfo, kind: str, message: str, *, lora: str | None = None) -> EngineError:
        if kind == "load":
            hint = f"; see {self._log_path}" if self._log_path else ""
            adapter = f" with the LoRA adapter {Path(lora).name}" if lora else ""
            reason = f": {one_line(message, 160)}" if message else ""
            return ModelLoadError(f"{info.name}{adapter} could not be loaded by llama.cpp{reason}{hint}")
        return BadRequest(message)

    async def _lora_for(self, model: str, info: ModelInfo, wanted: str | None) -> str | None:
        """The checked path of the adapter to apply: the chat's own, else the model's saved one."""
        path = saved_lora(self._lora_profiles, info, model) if wanted is None else wanted
        if not path:
            return None
        return (await asyncio.to_thread(read_lora, path, for_architecture=info.architecture)).path


def _log_line(path: Path, line: str) -> None:
    """Append `line` to the engine log; a log that cannot be written is no reason to fail."""
    try:
        with path.open("a", encoding="utf-8") as log:
            print(line, file=log)
    except OSError:
        pass


@contextmanager
def _real_stdio() -> Iterator[None]:
    """Give multiprocessing the process's real stdio while it starts a child.

    A TUI replaces sys.stdout/sys.stderr with objects whose fileno() is not a real fd,
    and spawn (its resource tracker) passes sys.stderr's fd on to the new process.
    """
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = sys.__stdout__ or sys.stdout, sys.__stderr__ or sys.stderr
    try:
        yield
    finally:
        sys.stdout, sys.stderr = saved
