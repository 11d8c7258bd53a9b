"""Why a model failed to load, told from llama.cpp's ERROR lines: Python sees only a ValueError.

Only an allocation failure is worth a retry with fewer layers on the GPU; a bad or truncated
GGUF, an unknown architecture, a bad LoRA adapter or a K/V cache type llama.cpp refuses fail
the same way however many layers are tried.
"""

from __future__ import annotations

from dataclasses import dataclass

MEMORY = "out of memory"
CONFIGURATION = "configuration error"

_ALLOCATION_WORDS = (
    "failed to allocate",
    "unable to allocate",
    "out of memory",
    "insufficient memory",
    "cannot allocate memory",  # strerror(ENOMEM), e.g. "mmap failed: Cannot allocate memory"
    "bad_alloc",
    "cudamalloc",
    "hipmalloc",
    "erroroutofdevicememory",  # Vulkan's vk::OutOfDeviceMemoryError
    "not enough space in the buffer",
    "failed to create ggml context",
)


@dataclass(frozen=True)
class LoadFailure:
    """One failed load: its kind (MEMORY or CONFIGURATION) and llama.cpp's most telling line."""

    kind: str
    reason: str

    @property
    def retry_with_fewer_layers(self) -> bool:
        return self.kind == MEMORY

    def message(self) -> str:
        """What the user reads after "could not be loaded by llama.cpp: "."""
        return f"{self.kind}: {self.reason}" if self.reason else self.kind


def classify(errors: list[str], exc: BaseException | None = None) -> LoadFailure:
    """The failure llama.cpp's ERROR `errors` (and the exception Python got) describe."""
    lines = [line for line in errors if line]
    memory = isinstance(exc, MemoryError) or any(_allocation(line) for line in lines)
    return LoadFailure(MEMORY if memory else CONFIGURATION, _reason(lines) or _text(exc))


def _allocation(line: str) -> bool:
    lowered = line.lower()
    return any(word in lowered for word in _ALLOCATION_WORDS)


def _reason(lines: list[str]) -> str:
    """llama_model_load's or llama_init_from_model's reason, else the first line."""
    for marker in ("error loading model: ", "failed to initialize the context: "):
        found = [line.split(marker, 1)[1] for line in lines if marker in line]
        if found:
            return found[0]
    said = [line.split(": ", 1)[1] if ": " in line else line for line in lines]
    return said[0] if said else ""


def _text(exc: BaseException | None) -> str:
    return (str(exc) or type(exc).__name__) if exc is not None else ""
