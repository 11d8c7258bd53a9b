"""llama.cpp's log, caught in the engine's child: what each load allocated, and why one failed.

With verbose=False llama-cpp-python sends llama.cpp's log nowhere, yet its lines are the only
place the truth is: the buffers each device got ("CUDA0 model buffer size = X MiB"), the layers
llama.cpp really offloaded (capped at n_layer + 1) and the reason a load failed. Imported only
in the child (tui.engines.embedded.child); it never imports llama_cpp itself.
"""

from __future__ import annotations

import ctypes
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from tui.engines.embedded.gpu_build import native_library

if TYPE_CHECKING:
    from _ctypes import CFuncPtr

DEBUG, INFO, WARN, ERROR, CONT = 1, 2, 3, 4, 5
"""ggml's enum ggml_log_level today; llama-cpp-python's _logger still maps an older order."""
MAX_ERRORS = 20
MAX_LINES = 200
MAX_LINE = 500
"""A line longer than this is cut: every kept line is bounded."""

CALLBACK = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)
"""ggml_log_callback: void (*)(enum ggml_log_level level, const char * text, void * user_data)."""

_BUFFER = re.compile(r"^\w+:\s+(\S+)\s+(model|KV|RS|compute|output) buffer size\s*=\s*([0-9.]+) MiB")
_OFFLOADED = re.compile(r"offloaded (\d+)/(\d+) layers to GPU")
_FLASH = re.compile(r"^llama_context: flash_attn\s*=\s*(\w+)")
_HOST_SUFFIXES = ("_Host",)
_SAME_DEVICE_SUFFIXES = ("_Mapped", "_REPACK")


def device_of(buffer: str) -> str:
    """The device a llama.cpp buffer type's memory is on: "CPU_Mapped", "CPU_REPACK" and the
    pinned "CUDA_Host" are the CPU's RAM; "CUDA0" and "Metal_Mapped" are that device's."""
    if buffer.startswith("CPU") or buffer.endswith(_HOST_SUFFIXES):
        return "CPU"
    for suffix in _SAME_DEVICE_SUFFIXES:
        if buffer.endswith(suffix):
            return buffer[: -len(suffix)]
    return buffer


@dataclass
class LoadRecord:
    """What llama.cpp logged during one load."""

    buffers: dict[str, dict[str, float]] = field(default_factory=dict)
    """MiB per device ("CPU", "CUDA0"...) and kind: model, kv, rs (recurrent states), compute, output."""
    offloaded: tuple[int, int] | None = None
    """(layers offloaded, layers offloadable) as llama.cpp capped them; None with no GPU device."""
    errors: list[str] = field(default_factory=list)
    """llama.cpp's ERROR lines, the first MAX_ERRORS."""
    flash_attn: str | None = None
    """Flash attention as the context got it ("enabled", "disabled"; "auto" resolved), if logged."""
    lines: list[str] = field(default_factory=list)
    """Every line kept (warnings, errors, buffers), the first MAX_LINES, for the engine log."""

    def take(self, level: int, line: str) -> bool:
        """Keep what `line` says; True when it is worth writing to the engine log."""
        if self._worth(level, line):
            if len(self.lines) < MAX_LINES:
                self.lines.append(line)
            return True
        return False

    def _worth(self, level: int, line: str) -> bool:
        if level == ERROR:
            if len(self.errors) < MAX_ERRORS:
                self.errors.append(line)
            return True
        if level != INFO:
            return level == WARN
        if found := _BUFFER.match(line):
            device = self.buffers.setdefault(device_of(found[1]), {})
            kind = found[2].lower()
            device[kind] = round(device.get(kind, 0.0) + float(found[3]), 2)
            return True
        if found := _OFFLOADED.search(line):
            self.offloaded = (int(found[1]), int(found[2]))
            return True
        if found := _FLASH.match(line):
            self.flash_attn = found[1]
            return True
        return False

    def device_bytes(self) -> dict[str, int]:
        """Bytes allocated on each device but the CPU (its VRAM)."""
        return {name: int(sum(kinds.values()) * (1 << 20)) for name, kinds in self.buffers.items() if name != "CPU"}

    def as_dict(self) -> dict[str, dict[str, float]]:
        """The buffers, JSON-ready, each kind in MiB ("model_mib", "kv_mib"...)."""
        return {name: {f"{kind}_mib": mib for kind, mib in kinds.items()} for name, kinds in self.buffers.items()}


class LlamaLog:
    """The one log callback of the child process: installed once, kept alive here (ctypes must
    not lose it), recording into the current LoadRecord. Warnings, errors and the kept INFO
    lines go to stderr, which is the engine log: a load's once it is over, since Llama()
    silences stderr while it loads the model."""

    _callback: CFuncPtr | None = None
    record = LoadRecord()
    startup = LoadRecord()
    """What was logged before the first load: a backend that failed to load says why here."""
    _level = INFO
    _partial = ""
    _loading = False
    on_error: Callable[[str], None] | None = None
    """Told each ERROR line logged outside a load (a decode's), at once: the CUDA backend aborts the
    process right after logging why, so the parent must hear it before the pipe closes."""

    @classmethod
    def start(cls) -> LoadRecord:
        """A fresh record for the load about to begin."""
        cls.record, cls._loading = LoadRecord(), True
        return cls.record

    @classmethod
    def finish(cls) -> None:
        """The load is over: its kept lines go to the engine log."""
        cls._loading = False
        if cls.record.lines:
            print(*cls.record.lines, sep="\n", file=sys.stderr, flush=True)

    @classmethod
    def callback(cls) -> CFuncPtr:
        if cls._callback is None:
            cls._callback = CALLBACK(cls._receive)
        return cls._callback

    @classmethod
    def install_in_ggml(cls, dirs: list[Path]) -> bool:
        """Set the callback in the package's libggml-base before any backend loads (so a backend
        that fails to load is heard); False when that library is not found."""
        base = native_library(dirs, "libggml-base")
        if base is None:
            return False
        lib = ctypes.CDLL(str(base))
        lib.ggml_log_set.argtypes = [CALLBACK, ctypes.c_void_p]
        lib.ggml_log_set(cls.callback(), None)
        cls.record = cls.startup
        return True

    @classmethod
    def install(cls, llama_cpp: ModuleType) -> None:
        """Set the callback for llama.cpp and ggml both: importing llama_cpp replaced ggml's."""
        llama_cpp.llama_log_set(cls.callback(), ctypes.c_void_p(0))

    @classmethod
    def _receive(cls, level: int, text: bytes | None, _user_data: int | None) -> None:
        """Pieces of lines arrive (CONT continues the last one): whole lines are taken."""
        if level != CONT:
            cls._level = level
        cls._partial += (text or b"").decode("utf-8", "replace")
        if "\n" not in cls._partial:
            cls._partial = cls._partial[-MAX_LINE:]
            return
        *lines, cls._partial = cls._partial.split("\n")
        for line in lines:
            line = line.strip()[:MAX_LINE]
            if line and cls.record.take(cls._level, line) and not cls._loading:
                print(line, file=sys.stderr, flush=True)
                if cls._level == ERROR and cls.on_error is not None:
                    cls.on_error(line)
