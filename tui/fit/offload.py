"""How much of a model the embedded engine puts on the GPU: the fit estimate in layers.

    per layer  = the layer's weights (from the GGUF's tensors) + its share of the KV cache (the
                 cache of every layer type, tui.gguf.kv_shape, spread evenly over the layers)
    on the GPU = k x per layer + the output layer (once every layer is there) + overhead
    overhead   = 256 MiB + compute + the vision projector's file (when the model has one)
    compute    = the compute buffer llama.cpp logged at the last load of this model and context
                 (tui.fit.calibration), else 5% of the weights on the GPU + KQ
    KQ         = n_ctx x n_ubatch x n_head x 4 bytes without flash attention (f32 attention
                 scores: 2 GiB at 32k tokens, 32 heads, n_ubatch 512), 0 with it
    room       = free VRAM - max(10% of the GPU's memory, 512 MiB)
    auto       = the most layers k whose share fits in the room; the rest runs on the CPU

The compute buffer lives on one GPU: with several, the overhead must fit on the one with the
most free memory (the layers spread over all of them). KV values cost 2 bytes in f16, 34/32 in
q8_0 and 18/32 in q4_0 (ggml's block sizes). A quantised V cache needs flash attention: with it
off, V stays f16; with "auto", llama.cpp turns it on for a quantised V (llama_init_from_model),
and the estimate takes it as on (every GPU backend lchat builds has it).
"""

from __future__ import annotations

from dataclasses import dataclass

from tui.domain import ModelInfo
from tui.fit.estimate import MIB, OVERHEAD_FIXED, OVERHEAD_SHARE, Memory
from tui.fit.units import gb
from tui.gguf.kv_shape import KvShape

FlashAttention = bool | str
"""The [engine] flash_attention setting: True, False or "auto"."""
N_UBATCH = 512
"""llama-cpp-python's n_ubatch: the tokens one compute graph holds."""
KQ_BYTES = 4
"""KQ (attention scores) is f32 without flash attention."""
KV_CACHE_TYPES = {"f16": 2.0, "q8_0": 34 / 32, "q4_0": 18 / 32}
"""Bytes per cached value of each KV cache type lchat offers."""
BUFFER_NAMES = {"kv": "KV", "rs": "recurrent state"}
"""Logged buffer kinds as people read them (the RS buffer holds mamba and RWKV layers' states)."""
RESERVE_SHARE = 0.10
RESERVE_MIN = 512 * MIB
"""What auto leaves free on the GPU: 10% of its memory or 512 MiB, whichever is larger."""


def cache_types(kv_cache_type: str, flash_attention: FlashAttention) -> tuple[str, str]:
    """(K type, V type) llama.cpp gets: a quantised V cache needs flash attention (on, or "auto",
    which llama.cpp turns on for it), else V stays f16."""
    return kv_cache_type, kv_cache_type if flash_attention in (True, "auto") else "f16"


def kq_bytes(n_ctx: int, heads: int, flash_attention: FlashAttention) -> int:
    """What the compute buffer holds for attention scores without flash attention, which grows
    with the context; 0 with flash attention (on or "auto") or the head count unknown."""
    if flash_attention is not False or not heads:
        return 0
    return n_ctx * min(N_UBATCH, n_ctx) * heads * KQ_BYTES


@dataclass(frozen=True)
class LayerSizes:
    """What one repeating layer costs, and the output layer that follows the last one."""

    layers: int
    layer_bytes: int
    output_bytes: int
    kv: KvShape

    @classmethod
    def of(cls, model: ModelInfo) -> LayerSizes | None:
        """From the GGUF's tensors where read (tui.engines.embedded.gguf_info), else the file size split evenly."""
        kv = KvShape.from_extra(model.extra)
        if kv is None or not model.size_bytes:
            return None
        given = model.extra.get("offload") or {}
        even = model.size_bytes // (kv.layers + 1)
        return cls(kv.layers, int(given.get("layer_bytes") or even), int(given.get("output_bytes", even)), kv)

    def kv_layer_bytes(
        self, n_ctx: int, kv_cache_type: str = "f16", flash_attention: FlashAttention = False, *, swa_full: bool = True
    ) -> int:
        """One layer's share of the cache: the whole (per layer type, tui.gguf.kv_shape) over the layers.
        `swa_full`: sliding-window layers cache the whole context, as llama-cpp-python's default has it."""
        k_type, v_type = cache_types(kv_cache_type, flash_attention)
        k, v = KV_CACHE_TYPES[k_type], KV_CACHE_TYPES[v_type]
        whole = self.kv.cache_bytes(n_ctx, k, v, n_ubatch=N_UBATCH, swa_full=swa_full)
        return whole // max(self.layers, 1)

    def gpu_bytes(self, k: int, kv_layer: int, extra: int = 0, compute: int | None = None) -> int:
        """VRAM that `k` layers on the GPU take, overhead included (`compute`: the logged compute
        buffer, else 5% of the weights; `extra`: KQ, a projector); 0 for none."""
        if k <= 0:
            return 0
        weights = k * self.layer_bytes + (self.output_bytes if k >= self.layers else 0)
        guessed = int(OVERHEAD_SHARE * weights) if compute is None else compute
        return weights + k * kv_layer + OVERHEAD_FIXED + guessed + extra


@dataclass(frozen=True)
class Offload:
    """A decision on layers: how many go to the GPU, of how many, and what that takes."""

    layers: int
    total: int
    gpu_bytes: int
    vram: Memory | None
    note: str = ""
    """Why fewer layers than asked for, when that happened."""

    @property
    def verdict(self) -> str:
        if self.layers >= self.total:
            return "fits on GPU"
        if self.layers > 0:
            return f"partly on GPU ({self.layers}/{self.total} layers)"
        return "CPU only"

    def explain(self) -> str:
        free = f" of {gb(self.vram.free)} free VRAM" if self.vram else ""
        kept = f", {gb(reserve(self.vram))} kept free" if self.vram else ""
        return f"{self.layers}/{self.total} layers on the GPU: {gb(self.gpu_bytes)}{free}{kept}"


def reserve(vram: Memory) -> int:
    return max(int(RESERVE_SHARE * vram.total), RESERVE_MIN)


def plan(
    model: ModelInfo,
    n_ctx: int,
    vram: Memory | None,
    *,
    wanted: int | None = None,
    kv_cache_type: str = "f16",
    flash_attention: FlashAttention = False,
    projector_bytes: int = 0,
    compute_bytes: int | None = None,
) -> Offload | None:
    """Layers to put on the GPU: `wanted` (None: as many as fit), fewer where VRAM is short.

    `projector_bytes`: the model's vision projector, loaded on the GPU for image turns;
    `compute_bytes`: the compute buffer llama.cpp logged at the last load (tui.fit.calibration).
    None when the model's layers are unknown. Without a VRAM figure a wanted number is kept and
    auto asks for every layer: llama.cpp's own failure then makes the engine retry with fewer.
    """
    sizes = LayerSizes.of(model)
    if sizes is None:
        return None
    kv_layer = sizes.kv_layer_bytes(n_ctx, kv_cache_type, flash_attention)
    kq = kq_bytes(n_ctx, sizes.kv.heads, flash_attention) if compute_bytes is None else 0
    extra = kq + projector_bytes

    def need(k: int) -> int:
        return sizes.gpu_bytes(k, kv_layer, extra, compute_bytes)

    asked = sizes.layers if wanted is None else max(0, min(wanted, sizes.layers))
    if vram is None:
        return Offload(asked, sizes.layers, need(asked), None)
    room = vram.free - reserve(vram)
    fitting = next((k for k in range(asked, 0, -1) if need(k) <= room), 0)
    note = ""
    one_device = OVERHEAD_FIXED + (compute_bytes or kq) + projector_bytes
    largest = max(vram.devices, default=vram.free) - RESERVE_MIN
    if fitting and len(vram.devices) > 1 and one_device > largest:
        note = (
            f"the compute buffer and runtime need {gb(one_device)} on one GPU, "
            f"the GPU with the most free memory has {gb(max(largest, 0))} to spare: 0 go to the GPU"
        )
        return Offload(0, sizes.layers, 0, vram, note)
    if wanted is not None and fitting < asked:
        note = (
            f"{asked} layers need {gb(need(asked))} of VRAM, {gb(max(room, 0))} is free to use: {fitting} go to the GPU"
        )
    return Offload(fitting, sizes.layers, need(fitting), vram, note)


def offload_rows(
    model: ModelInfo, kv_cache_type: str, flash_attention: FlashAttention, gpu_layers: int | str
) -> list[tuple[str, str]]:
    """Details rows for an embedded model: what its load put on the GPU, and the load options."""
    rows = []
    running = model.extra.get("running") or {}
    if running.get("gpu_backend"):
        backend = running["gpu_backend"]
        vram = f", {gb(running['size_vram'])} of VRAM" if running.get("size_vram") else ""
        layers = f"{running.get('gpu_layers', 0)}/{running.get('layers') or '?'} layers on the GPU"
        where = f"{backend}: {layers}{vram}" if running.get("gpu_layers") else f"{backend}: no layers on a GPU"
        rows.append(("GPU offload", where + (f" ({running['note']})" if running.get("note") else "")))
    if running.get("buffers"):
        rows.append(("Buffers", buffers_line(running["buffers"])))
    k_type, v_type = cache_types(kv_cache_type, flash_attention)
    cache = f"K {k_type}, V {v_type}" + (" (a quantised V cache needs flash attention)" if k_type != v_type else "")
    attention = "auto" if flash_attention == "auto" else "on" if flash_attention else "off"
    options = f"GPU layers {gpu_layers}; KV cache {cache}; flash attention {attention}"
    rows.append(("Load options", f"{options} ([engine] in the config; they apply at the next load)"))
    return rows


def buffers_line(buffers: dict[str, dict[str, float]]) -> str:
    """llama.cpp's logged buffers in one line: "CUDA0: model 4.1 GB, KV 512 MB; CPU: ..."."""
    parts = []
    for device, kinds in buffers.items():
        sizes = ", ".join(
            f"{BUFFER_NAMES.get(kind.removesuffix('_mib'), kind.removesuffix('_mib'))} {gb(int(mib * MIB))}"
            for kind, mib in kinds.items()
        )
        parts.append(f"{device}: {sizes}")
    return "; ".join(parts)
