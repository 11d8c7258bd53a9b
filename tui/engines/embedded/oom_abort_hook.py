"""A test hook, and nothing else: a GPU that runs out of memory in the middle of an answer, on a
machine without one.

With LCHAT_TEST_OOM_AT_TOKEN=N the engine's child, after the Nth token of an answer, does what
ggml's CUDA backend does when a cudaMalloc fails during a decode (ggml_cuda_error in ggml-cuda.cu):
it logs the same ERROR lines through ggml's own logger (ggml_log_internal, so lchat's log callback
hears them as it would hear CUDA's) and calls ggml_abort, which aborts the process. Simulated: the
failing cudaMalloc. Real: ggml's log path, the abort, and everything the parent does after.
"N:other" logs a failure that is not about memory instead (OTHER), then aborts the same way.
"""

from __future__ import annotations

import ctypes
import os

from tui.engines.embedded.gpu_build import library_dirs, native_library

VARIABLE = "LCHAT_TEST_OOM_AT_TOKEN"
LINES = (
    "CUDA error: out of memory",
    "  current device: 0, in function alloc at ggml/src/ggml-cuda/ggml-cuda.cu:402",
    "  cudaMalloc((void **) &ptr, look_ahead_size)",
)
"""What ggml_cuda_error logs (GGML_LOG_ERROR, level 4) for the CUDA pool's failed allocation."""
OTHER = ("CUDA error: an illegal memory access was encountered",)
GGML_LOG_LEVEL_ERROR = 4


def oom_at_token() -> int | None:
    """The token after which to abort, when the hook is set."""
    value = os.environ.get(VARIABLE, "").split(":")[0]
    return int(value) if value.isdigit() else None


def abort_out_of_memory() -> None:
    """Log CUDA's out-of-memory lines (or OTHER's) through ggml and abort as ggml does (never returns)."""
    lines = OTHER if os.environ.get(VARIABLE, "").endswith(":other") else LINES
    found = native_library(library_dirs(), "libggml-base")
    if found is None:
        os.abort()
    ggml = ctypes.CDLL(str(found))
    ggml.ggml_log_internal.argtypes = [ctypes.c_int, ctypes.c_char_p]
    for line in lines:  # No "%" in them: each is its own format string.
        ggml.ggml_log_internal(GGML_LOG_LEVEL_ERROR, f"{line}\n".encode())
    os.environ["GGML_NO_BACKTRACE"] = "1"  # ggml_abort would otherwise try gdb for a backtrace.
    ggml.ggml_abort.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p]
    ggml.ggml_abort(b"ggml/src/ggml-cuda/ggml-cuda.cu", 88, b"CUDA error")
    os.abort()
