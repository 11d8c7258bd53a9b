"""What sizes a model's KV cache, layer type by layer type, from its GGUF keys (as llama.cpp reads them).

    attention layer  = cells x kv_heads x (key_length x K bytes + value_length x V bytes)
    cells            = n_ctx; on a sliding-window layer pad256(min(n_ctx, window + n_ubatch)),
                       unless the SWA cache is full-size (llama_kv_cache_iswa)
    MLA layer        = cells x key_length (kv_lora_rank + rope dims, one KV head) x K bytes: no V
                       is stored (llama_kv_cache: has_v = !is_mla), with flash attention or not
    recurrent layer  = (conv state + ssm/wkv state) x 4 bytes (f32), per sequence: not per token

The layer pattern follows llama.cpp's `load_swa_pattern`: a per-layer array where the GGUF has
one, else every n-th layer global (the arch's default n, or `sliding_window_pattern`). Per-layer
KV heads, the SWA layers' own head sizes (`key_length_swa`) and layers that reuse an earlier
layer's cache (Gemma 3n/4) are summed layer by layer into what one cell holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

# arch: (default pattern, dense first, default window): the arches llama.cpp gives an SWA cache.
SWA_ARCHES = {
    "gemma2": (2, False, 4096),
    "gemma3": (6, False, 0),
    "gemma3n": (5, False, 0),
    "gemma4": (6, False, 0),
    "gemma-embedding": (6, False, 0),
    "cohere2": (4, False, 0),
    "gpt-oss": (2, False, 0),
    "exaone4": (4, False, 4096),
    "olmo2": (4, False, 0),
    "afmoe": (4, False, 0),
    "smallthinker": (4, True, 4096),
}
RECURRENT_ARCHES = {"mamba", "mamba2", "rwkv6", "rwkv6qwen2", "rwkv7", "arwkv7"}
"""Every layer keeps a state, none a per-token cache (llm_arch_is_recurrent)."""
EVERY_LAYER_BOTH = {"falcon-h1"}
"""Hybrids whose every layer has both attention and an SSM state."""
INTERVAL_ARCHES = {"qwen3next", "qwen35", "qwen35moe"}
"""Hybrids whose every `full_attention_interval`-th layer is attention, the rest recurrent."""
HYBRID_BY_KV_HEADS = {"jamba", "granitehybrid", "lfm2", "lfm2moe", "nemotron_h", "nemotron_h_moe", "plamo2"}
"""Hybrids whose recurrent layers are those with 0 KV heads (llama.cpp: is_recr(il) = n_head_kv(il) == 0)."""
SHARED_FROM = {"gemma3n": 20}
"""Arches whose layers from this one on reuse earlier layers' caches (else `attention.shared_kv_layers`)."""
STATE_BYTES_PER_VALUE = 4
"""llama.cpp keeps recurrent states in f32 (llama_memory_recurrent's type_r and type_s)."""
SWA_PAD = 256
"""llama.cpp pads the SWA cache to 256 cells."""


@dataclass(frozen=True)
class KvShape:
    """What sizes the KV cache: layers, KV heads, each head's key and value, and the layer types."""

    layers: int
    kv_heads: int
    key_length: int
    value_length: int
    heads: int = 0
    """Attention (query) heads, which size KQ without flash attention; 0 where unknown."""
    attention_layers: int = -1
    """Layers with a per-token cache of their own; -1: every layer (as before this field existed)."""
    swa_layers: int = 0
    """Of those, the sliding-window layers, whose cache holds the window (+ a ubatch)."""
    swa_window: int = 0
    v_cached: bool = True
    """False for MLA, whose cache holds only the compressed K."""
    state_layers: int = 0
    """Layers with a recurrent state (mamba, rwkv, hybrids)."""
    state_bytes: int = 0
    """One such layer's state for one sequence, in bytes."""
    cell: tuple[int, int, int, int] | None = None
    """Values one cell holds, summed over the layers: (K, V) of the full-context layers, then (K, V)
    of the sliding-window ones (per-layer KV heads and head sizes make it exact); None: derived
    from the counts above."""

    @classmethod
    def from_metadata(cls, meta: Mapping[str, Any], arch: str) -> KvShape | None:
        """Read the shape from GGUF keys (`<arch>.block_count`, ...), as in files and /api/show."""

        def number(key: str) -> int | None:
            value = meta.get(f"{arch}.{key}")
            if isinstance(value, list):  # Per-layer head counts: the largest bounds the cache.
                value = max((v for v in value if isinstance(v, int)), default=None)
            return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

        layers, heads, width = number("block_count"), number("attention.head_count"), number("embedding_length")
        if not layers:
            return None
        recurrent, attention = _recurrent_layers(meta, arch, layers)
        state_layers = sum(recurrent)
        state = _state_bytes(meta, arch, width or 0) if state_layers else 0
        if not any(attention):
            return cls(layers, 0, 0, 0, heads or 0, 0, state_layers=state_layers, state_bytes=state) if state else None
        if not (heads or number("attention.head_count_kv")):
            return None
        kv_heads = number("attention.head_count_kv") or heads or 0
        head = width // heads if width and heads else None
        key = number("attention.key_length") or head
        value = number("attention.value_length") or key
        if not (kv_heads and key and value):
            return None
        # MLA GGUFs carry the per-head sizes as *_mla and the cached row (kv_lora_rank + rope) as key_length.
        mla = bool(number("attention.key_length_mla") and number("attention.value_length_mla"))
        swa, window = _swa_flags(meta, arch, layers)
        shared = number("attention.shared_kv_layers") or 0  # Gemma 3n/4: the last layers reuse earlier caches.
        own = min(layers, SHARED_FROM.get(arch, layers - shared))
        per_layer = _per_layer(meta.get(f"{arch}.attention.head_count_kv"), layers, kv_heads)
        swa_key = number("attention.key_length_swa") or key
        swa_value = number("attention.value_length_swa") or value
        cell = [0, 0, 0, 0]
        for il in range(own):
            if not attention[il] or not per_layer[il]:
                continue
            at = 2 if swa[il] and window else 0
            cell[at] += per_layer[il] * (swa_key if swa[il] else key)
            cell[at + 1] += 0 if mla else per_layer[il] * (swa_value if swa[il] else value)
        counted = sum(1 for il in range(own) if attention[il] and per_layer[il])
        shape = cls(
            layers,
            kv_heads,
            key,
            value,
            heads or 0,
            -1 if counted == layers else counted,
            sum(1 for il in range(own) if attention[il] and per_layer[il] and swa[il] and window),
            window,
            not mla,
            state_layers,
            state,
            (cell[0], cell[1], cell[2], cell[3]),
        )
        return replace(shape, cell=None) if shape.cell == shape._plain_cell() else shape

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> KvShape | None:
        kv = extra.get("kv")
        if not isinstance(kv, Mapping):
            return None
        try:
            cell = kv.get("cell")
            return cls(**{**kv, "cell": tuple(cell)}) if isinstance(cell, (list, tuple)) else cls(**kv)
        except TypeError:
            return None

    def as_extra(self) -> dict[str, Any]:
        """The shape for ModelInfo.extra; the layer-type fields only where they differ from plain attention."""
        full = asdict(self)
        plain = asdict(KvShape(0, 0, 0, 0))
        keep = ("layers", "kv_heads", "key_length", "value_length", "heads")
        return {k: v for k, v in full.items() if k in keep or v != plain[k]}

    def _plain_cell(self) -> tuple[int, int, int, int]:
        attention = self.layers if self.attention_layers < 0 else self.attention_layers
        swa = self.swa_layers if self.swa_window else 0
        k, v = self.kv_heads * self.key_length, self.kv_heads * self.value_length if self.v_cached else 0
        return ((attention - swa) * k, (attention - swa) * v, swa * k, swa * v)

    def cache_bytes(
        self, n_ctx: int, k_bytes: float = 2.0, v_bytes: float = 2.0, *, n_ubatch: int = 512, swa_full: bool = True
    ) -> int:
        """The whole cache at `n_ctx` tokens: every attention layer's cells, every state."""
        k, v, swa_k, swa_v = self.cell or self._plain_cell()
        swa_cells = n_ctx if swa_full else pad(min(n_ctx, self.swa_window + min(n_ubatch, n_ctx)), SWA_PAD)
        full = n_ctx * (k * k_bytes + v * v_bytes)
        return int(full + swa_cells * (swa_k * k_bytes + swa_v * v_bytes)) + self.state_layers * self.state_bytes


def pad(n: int, to: int) -> int:
    return -(-n // to) * to


def _flags(meta: Mapping[str, Any], key: str) -> list[bool] | None:
    value = meta.get(key)
    return [bool(v) for v in value] if isinstance(value, list) and value else None


def _per_layer(value: Any, layers: int, default: int) -> list[int]:
    """A per-layer number (an array, or one value for every layer)."""
    if isinstance(value, list) and len(value) == layers:  # llama.cpp rejects other lengths.
        return [int(v) for v in value]
    return [default] * layers


def _swa_flags(meta: Mapping[str, Any], arch: str, layers: int) -> tuple[list[bool], int]:
    """(per layer: sliding-window?, window): llama.cpp's load_swa_pattern for the arches it applies to."""
    none = [False] * layers
    if arch not in SWA_ARCHES:
        return none, 0
    n, dense_first, default_window = SWA_ARCHES[arch]
    window = meta.get(f"{arch}.attention.sliding_window") or default_window
    if not isinstance(window, int) or window <= 0:
        return none, 0
    flags = _flags(meta, f"{arch}.attention.sliding_window_pattern")
    if flags is not None:
        return (flags + none)[:layers], window
    given = meta.get(f"{arch}.attention.sliding_window_pattern")
    n = given if isinstance(given, int) and not isinstance(given, bool) else n
    if dense_first:
        return [n == 0 or il % n != 0 for il in range(layers)], window
    return [n == 0 or il % n < n - 1 for il in range(layers)], window


def _recurrent_layers(meta: Mapping[str, Any], arch: str, layers: int) -> tuple[list[bool], list[bool]]:
    """Per layer: (has a recurrent state, has attention)."""
    every, none = [True] * layers, [False] * layers
    if arch in RECURRENT_ARCHES:
        return every, none
    if arch in EVERY_LAYER_BOTH:
        return every, every
    if arch in INTERVAL_ARCHES:
        flags = _flags(meta, f"{arch}.attention.recurrent_layers")
        if flags is None:
            interval = meta.get(f"{arch}.full_attention_interval") or 4
            flags = [(il + 1) % interval != 0 for il in range(layers)]
        recurrent = (flags + none)[:layers]
        return recurrent, [not r for r in recurrent]
    kv_heads = meta.get(f"{arch}.attention.head_count_kv")
    if isinstance(kv_heads, list) and 0 in kv_heads[:layers] and arch in HYBRID_BY_KV_HEADS:
        recurrent = [h == 0 for h in _per_layer(kv_heads, layers, 0)]
        return recurrent, [not r for r in recurrent]
    return none, every


def _state_bytes(meta: Mapping[str, Any], arch: str, width: int) -> int:
    """One recurrent layer's state per sequence (llama_hparams::n_embd_r + n_embd_s, in f32)."""

    def number(key: str, default: int = 0) -> int:
        value = meta.get(f"{arch}.{key}")
        return int(value) if isinstance(value, int) and not isinstance(value, bool) else default

    if number("wkv.head_size"):  # RWKV: token shift and the wkv state.
        values = number("token_shift_count", 2) * width + width * number("wkv.head_size")
    elif number("shortconv.l_cache"):  # LFM2's short convolutions.
        values = width * (number("shortconv.l_cache") - 1)
    else:  # Mamba-style: the convolution's last d_conv - 1 inputs and the SSM state.
        d_conv, d_inner, d_state = number("ssm.conv_kernel"), number("ssm.inner_size"), number("ssm.state_size")
        values = max(d_conv - 1, 0) * (d_inner + 2 * number("ssm.group_count") * d_state) + d_state * d_inner
    return values * STATE_BYTES_PER_VALUE
