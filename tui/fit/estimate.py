"""Will a model fit? Weights plus KV cache at the configured context against free memory.

    need     = W + KV + O
    W        = the model's size on disk (GGUF weights are loaded as stored)
    KV       = n_layers x n_ctx x n_kv_heads x (key_length + value_length) x 2 bytes   (f16 cache),
               per layer type (sliding-window, MLA, recurrent): tui.gguf.kv_shape
    O        = 256 MiB + 5% of W   (compute buffers and runtime; a rule of thumb)
    verdict  = fits       when need <= 85% of free memory
               tight      when need <= free memory
               won't fit  otherwise

Free memory is free VRAM where the backend runs models on a GPU, else available RAM. When the
KV shape is unknown, KV is left out and the figures say so.
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.domain import ModelInfo
from tui.fit.units import gb
from tui.gguf.kv_shape import KvShape

MIB = 1024**2
GIB = 1024**3
KV_BYTES_PER_VALUE = 2
"""f16 K and V, the default of llama.cpp and Ollama."""
OVERHEAD_FIXED = 256 * MIB
OVERHEAD_SHARE = 0.05
TIGHT_SHARE = 0.85
"""Above this share of free memory a model is 'tight': it loads, but little else will."""


@dataclass(frozen=True)
class Memory:
    """Free and total bytes of the memory a backend loads models into."""

    kind: str
    """"VRAM" or "RAM"."""
    free: int
    total: int
    devices: tuple[int, ...] = ()
    """Free bytes on each GPU, where several were summed (a compute buffer lives on one)."""


@dataclass(frozen=True)
class FitEstimate:
    """The estimate's verdict and the figures behind it."""

    verdict: str
    """"fits", "tight" or "won't fit"."""
    weights: int
    kv: int | None
    overhead: int
    n_ctx: int
    memory: Memory

    @property
    def need(self) -> int:
        return self.weights + (self.kv or 0) + self.overhead

    def explain(self) -> str:
        kv = f"KV cache {gb(self.kv)} ({self.n_ctx} tokens)" if self.kv is not None else "KV cache unknown"
        return (
            f"weights {gb(self.weights)} + {kv} + overhead {gb(self.overhead)} = {gb(self.need)}"
            f" of {gb(self.memory.free)} free {self.memory.kind}"
        )


def estimate(model: ModelInfo, n_ctx: int, memory: Memory | None, *, swa_full: bool = False) -> FitEstimate | None:
    """The fit of `model` at `n_ctx` tokens; None when its size or the memory is unknown.
    `swa_full`: sliding-window layers cache the whole context, as its engine declares
    (`Engine.full_swa_cache`); else they cache the window, as Ollama sizes it."""
    if memory is None or not model.size_bytes:
        return None
    shape = KvShape.from_extra(model.extra)
    weights = model.size_bytes
    kv = shape.cache_bytes(n_ctx, swa_full=swa_full) if shape else None
    overhead = OVERHEAD_FIXED + int(OVERHEAD_SHARE * weights)
    need = weights + (kv or 0) + overhead
    if need <= TIGHT_SHARE * memory.free:
        verdict = "fits"
    elif need <= memory.free:
        verdict = "tight"
    else:
        verdict = "won't fit"
    return FitEstimate(verdict, weights, kv, overhead, n_ctx, memory)
