"""The KV cache per layer type (issue 22, item 7): sliding-window, MLA and recurrent layers are
charged what llama.cpp allocates for them, read from tiny GGUF headers, with the arithmetic by hand;
and a real CPU load of the starter model (plain llama) logs the KV buffer the estimate predicts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.gguf_files import starter_model, write_metadata, write_tiny_llama
from tests.gguf_recurrent import write_tiny_mamba
from tui.domain import ChatTurn, GenerationOptions, Role
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.embedded.gguf_info import read_gguf_info
from tui.engines.embedded.llama_log import INFO, LoadRecord
from tui.engines.ollama.engine import OllamaEngine
from tui.fit.estimate import MIB, Memory, estimate
from tui.fit.offload import LayerSizes, buffers_line
from tui.gguf.kv_shape import KvShape

STARTER = starter_model()
needs_starter = pytest.mark.skipif(STARTER is None, reason="starter model not installed")


def gemma3(tmp_path: Path, **more: int | list[bool]) -> Path:
    """Gemma 3 4B's attention: 34 layers, 8 heads, 4 KV heads of 256, a 1024-token window."""
    fields = {
        "gemma3.block_count": 34,
        "gemma3.embedding_length": 2560,
        "gemma3.attention.head_count": 8,
        "gemma3.attention.head_count_kv": 4,
        "gemma3.attention.key_length": 256,
        "gemma3.attention.value_length": 256,
        "gemma3.attention.sliding_window": 1024,
    }
    return write_metadata(tmp_path / "gemma3.gguf", "gemma3", fields | more)


def test_gemma3_sliding_window_layers_hold_the_window_plus_a_ubatch(tmp_path: Path) -> None:
    info = read_gguf_info(gemma3(tmp_path))
    shape = KvShape.from_extra(info.extra)
    # Pattern 6 (gemma3's default): layer il is SWA when il % 6 < 5, so 0-4, 6-10, ... 30-33:
    # 5 groups x 5 + 4 = 29 SWA layers, 5 global (5, 11, 17, 23, 29).
    assert shape is not None and (shape.swa_layers, shape.swa_window) == (29, 1024)
    # One cell, f16: 4 KV heads x (256 + 256) x 2 bytes = 4096 bytes.
    # SWA cells: pad256(min(32768, 1024 + 512)) = 1536 (llama_kv_cache_iswa).
    # (5 x 32768 + 29 x 1536) x 4096 = 208384 x 4096 = 853,540,864 bytes.
    assert shape.cache_bytes(32768, swa_full=False) == 853_540_864
    # A full-size SWA cache (llama.cpp's default context parameter) charges every layer n_ctx:
    # 34 x 32768 x 4096 = 4,563,402,752 bytes.
    assert shape.cache_bytes(32768, swa_full=True) == 4_563_402_752
    # Below the window every layer holds the context: pad256(min(1024, 1536)) = 1024 cells.
    assert shape.cache_bytes(1024, swa_full=False) == 34 * 1024 * 4096
    # The embedded engine (llama-cpp-python keeps swa_full) against Ollama (a window cache).
    vram = Memory("VRAM", 64 * 1024 * MIB, 64 * 1024 * MIB)
    assert estimate(info, 32768, vram, swa_full=EmbeddedEngine.full_swa_cache).kv == 4_563_402_752
    ollama = info.__class__("gemma3:4b", "ollama", size_bytes=info.size_bytes, extra=info.extra)
    assert estimate(ollama, 32768, vram, swa_full=OllamaEngine.full_swa_cache).kv == 853_540_864
    sizes = LayerSizes.of(info)
    assert sizes is not None and sizes.kv_layer_bytes(32768, swa_full=False) == 853_540_864 // 34


def test_a_per_layer_pattern_array_and_a_pattern_number(tmp_path: Path) -> None:
    flags = [True, True, True, False] * 8 + [True, True]  # 26 SWA layers of 34, as written.
    shape = KvShape.from_extra(
        read_gguf_info(gemma3(tmp_path, **{"gemma3.attention.sliding_window_pattern": flags})).extra
    )
    assert shape is not None and shape.swa_layers == 26
    # (8 x 32768 + 26 x 1536) x 4096 = (262,144 + 39,936) x 4096 = 1,237,319,680 bytes.
    assert shape.cache_bytes(32768, swa_full=False) == 1_237_319_680
    numbered = read_gguf_info(gemma3(tmp_path, **{"gemma3.attention.sliding_window_pattern": 2}))
    assert KvShape.from_extra(numbered.extra).swa_layers == 17  # Even layers: il % 2 < 1.


def test_deepseek2_mla_caches_the_compressed_k_only(tmp_path: Path) -> None:
    """DeepSeek-V2-Lite as converted for MLA: key_length = kv_lora_rank 512 + rope 64 = 576, one KV head."""
    fields = {
        "deepseek2.block_count": 27,
        "deepseek2.embedding_length": 2048,
        "deepseek2.attention.head_count": 16,
        "deepseek2.attention.head_count_kv": 1,
        "deepseek2.attention.key_length": 576,
        "deepseek2.attention.value_length": 512,
        "deepseek2.attention.key_length_mla": 192,
        "deepseek2.attention.value_length_mla": 128,
        "deepseek2.attention.kv_lora_rank": 512,
        "deepseek2.rope.dimension_count": 64,
    }
    info = read_gguf_info(write_metadata(tmp_path / "ds.gguf", "deepseek2", fields))
    shape = KvShape.from_extra(info.extra)
    assert shape is not None and not shape.v_cached
    # No V (llama_kv_cache: has_v = !is_mla): 27 x 4096 x 1 x 576 x 2 = 127,401,984 bytes,
    # where K + V would be 27 x 4096 x (576 + 512) x 2 = 240,648,192.
    assert shape.cache_bytes(4096) == 127_401_984
    sizes = LayerSizes.of(info.__class__(info.name, "embedded", size_bytes=10**9, extra=info.extra))
    # q8_0 K: 576 x 34/32 = 612 bytes a cell; 27 x 4096 x 612 = 67,682,304 over 27 layers.
    assert sizes is not None and sizes.kv_layer_bytes(4096, "q8_0", True) == 4096 * 612


def test_mamba2_keeps_a_state_that_does_not_grow_with_the_context(tmp_path: Path) -> None:
    """Mamba-Codestral-7B's shape: 64 layers, d_inner 8192, d_state 128, 8 groups, d_conv 4."""
    fields = {
        "mamba2.block_count": 64,
        "mamba2.embedding_length": 4096,
        "mamba2.ssm.conv_kernel": 4,
        "mamba2.ssm.inner_size": 8192,
        "mamba2.ssm.state_size": 128,
        "mamba2.ssm.group_count": 8,
    }
    info = read_gguf_info(write_metadata(tmp_path / "mamba2.gguf", "mamba2", fields))
    shape = KvShape.from_extra(info.extra)
    # n_embd_r = (4 - 1) x (8192 + 2 x 8 x 128) = 30,720; n_embd_s = 128 x 8192 = 1,048,576;
    # (30,720 + 1,048,576) x 4 bytes (f32) = 4,317,184 a layer; x 64 = 276,299,776 bytes.
    assert shape is not None and (shape.state_layers, shape.state_bytes) == (64, 4_317_184)
    assert shape.cache_bytes(4096) == shape.cache_bytes(131072) == 276_299_776


def test_a_jamba_like_hybrid_charges_attention_only_where_it_has_kv_heads(tmp_path: Path) -> None:
    """Per-layer KV heads, 0 on the mamba layers (llama.cpp: is_recr(il) = n_head_kv(il) == 0)."""
    fields = {
        "jamba.block_count": 8,
        "jamba.embedding_length": 4096,
        "jamba.attention.head_count": 32,
        "jamba.attention.head_count_kv": [0, 0, 0, 0, 8, 0, 0, 0],
        "jamba.ssm.conv_kernel": 4,
        "jamba.ssm.inner_size": 8192,
        "jamba.ssm.state_size": 16,
    }
    shape = KvShape.from_extra(read_gguf_info(write_metadata(tmp_path / "j.gguf", "jamba", fields)).extra)
    # One attention layer: 4096 x 8 x (128 + 128) x 2 = 16,777,216 bytes at 4096 tokens.
    # Seven mamba layers: (3 x 8192 + 16 x 8192) x 4 = 622,592 each, 4,358,144 in all.
    assert shape is not None and (shape.attention_layers, shape.state_layers) == (1, 7)
    assert shape.cache_bytes(4096) == 16_777_216 + 4_358_144


def test_gemma4_like_shared_caches_swa_head_sizes_and_per_layer_kv_heads() -> None:
    """Six layers, the last two reusing earlier caches (shared_kv_layers 2), so layers 0-3 own one:
    0, 1 and 3 sliding-window (4 KV heads of 256), 2 global (1 KV head of 512)."""
    meta = {
        "gemma4.block_count": 6,
        "gemma4.embedding_length": 1536,
        "gemma4.attention.head_count": 8,
        "gemma4.attention.head_count_kv": [4, 4, 1, 4, 4, 1],
        "gemma4.attention.key_length": 512,
        "gemma4.attention.value_length": 512,
        "gemma4.attention.key_length_swa": 256,
        "gemma4.attention.value_length_swa": 256,
        "gemma4.attention.sliding_window": 512,
        "gemma4.attention.sliding_window_pattern": [True, True, False, True, True, False],
        "gemma4.attention.shared_kv_layers": 2,
    }
    shape = KvShape.from_extra({"kv": KvShape.from_metadata(meta, "gemma4").as_extra()})
    # A cell: global 1 x 512 K and V; SWA 3 layers x 4 x 256 = 3072 K and V.
    assert shape is not None and shape.cell == (512, 512, 3072, 3072)
    assert (shape.attention_layers, shape.swa_layers) == (4, 3)
    # SWA cells pad256(512 + 512) = 1024: 8192 x 1024 x 2 + 1024 x 6144 x 2 = 16,777,216 + 12,582,912.
    assert shape.cache_bytes(8192, swa_full=False) == 29_360_128
    # Full-size SWA: 8192 x (1024 + 6144) x 2 = 117,440,512 (not 6 layers x 8192 x 4 x 1024 x 2).
    assert shape.cache_bytes(8192, swa_full=True) == 117_440_512


def test_a_plain_llama_shape_is_unchanged_in_extra() -> None:
    meta = {"llama.block_count": 32, "llama.attention.head_count": 32, "llama.embedding_length": 4096}
    assert KvShape.from_metadata(meta, "llama").as_extra() == {
        "layers": 32,
        "kv_heads": 32,
        "key_length": 128,
        "value_length": 128,
        "heads": 32,
    }


@needs_starter
async def test_the_estimate_matches_the_kv_buffer_a_real_load_logs(tmp_path: Path) -> None:
    """Real llama.cpp (CPU): the starter model (llama arch) at 1024 tokens, f16 K and V."""
    engine = EmbeddedEngine(models_dir=tmp_path / "models", n_threads=1, n_ctx=1024)
    try:
        async for _ in engine.chat(str(STARTER), [ChatTurn(Role.USER, "hi")], GenerationOptions(max_tokens=1)):
            pass
        [listed] = [m for m in await engine.list_models() if m.path == str(STARTER)]
        logged = listed.extra["running"]["buffers"]["CPU"]["kv_mib"]
    finally:
        await engine.aclose()
    sizes = LayerSizes.of(read_gguf_info(STARTER))
    assert sizes is not None
    assert sizes.layers * sizes.kv_layer_bytes(1024) / MIB == pytest.approx(logged, abs=0.01)


LOAD = "import llama_cpp, sys; llama_cpp.Llama(sys.argv[1], n_ctx=4096, n_threads=1, verbose=True, swa_full=sys.argv[2] == '1')"


@pytest.mark.parametrize("swa_full", [False, True])
def test_a_real_gemma3_load_allocates_the_window_cache_the_formula_gives(tmp_path: Path, swa_full: bool) -> None:
    """Real llama.cpp (CPU): a tiny gemma3, 12 layers (10 SWA), a 256-token window, 4096 tokens.
    Without swa_full its SWA cache is pad256(256 + 512) = 768 cells; with it, 4096."""
    path = write_tiny_llama(tmp_path / "g.gguf", n_layer=12, swa_window=256)
    done = subprocess.run(
        [sys.executable, "-c", LOAD, str(path), "1" if swa_full else "0"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    logged = sum(float(mib) for mib in re.findall(r"KV buffer size = +([\d.]+) MiB", done.stderr))
    assert f"SWA KV cache, size = {4096 if swa_full else 768} cells" in done.stderr
    shape = KvShape.from_extra(read_gguf_info(path).extra)
    assert shape is not None and (shape.swa_layers, shape.swa_window) == (10, 256)
    # One cell: 2 KV heads x (16 + 16) x 2 bytes = 128; (2 x 4096 + 10 x 768) x 128 = 1.94 MiB.
    assert shape.cache_bytes(4096, swa_full=swa_full) / MIB == pytest.approx(logged, abs=0.01)


async def test_the_embedded_engine_keeps_the_full_swa_cache_its_estimate_charges(tmp_path: Path) -> None:
    """lchat leaves llama-cpp-python's swa_full on: the engine's load logs every layer at n_ctx,
    which is what the embedded estimate (LayerSizes, swa_full) charges."""
    (tmp_path / "models").mkdir()
    path = write_tiny_llama(tmp_path / "models" / "g.gguf", n_layer=12, swa_window=256, context_length=8192)
    engine = EmbeddedEngine(models_dir=tmp_path / "models", n_threads=1, n_ctx=4096)
    try:
        async for _ in engine.chat(str(path), [ChatTurn(Role.USER, "hi")], GenerationOptions(max_tokens=1)):
            pass
        [listed] = [m for m in await engine.list_models() if m.path == str(path)]
        logged = listed.extra["running"]["buffers"]["CPU"]["kv_mib"]
    finally:
        await engine.aclose()
    sizes = LayerSizes.of(read_gguf_info(path))
    assert sizes is not None
    assert sizes.layers * sizes.kv_layer_bytes(4096) / MIB == pytest.approx(logged, abs=0.01) == 6.0


@pytest.mark.parametrize("n_ctx", [512, 4096])
def test_a_real_mamba_load_allocates_the_state_the_estimate_charges_at_any_context(tmp_path: Path, n_ctx: int) -> None:
    """Real llama.cpp (CPU): a tiny mamba's "RS buffer" (recurrent states) is kept from the log and
    equals the estimate, the same at 512 and 4096 tokens."""
    path = write_tiny_mamba(tmp_path / "m.gguf", n_layer=4, n_embd=512, d_inner=1024, d_state=64)
    load = "import llama_cpp, sys; llama_cpp.Llama(sys.argv[1], n_ctx=int(sys.argv[2]), n_threads=1, verbose=True)"
    done = subprocess.run([sys.executable, "-c", load, str(path), str(n_ctx)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    record = LoadRecord()
    for line in done.stderr.splitlines():
        record.take(INFO, line)
    sizes = LayerSizes.of(read_gguf_info(path))
    assert sizes is not None
    # n_embd_r = (4 - 1) x 1024 = 3072, n_embd_s = 64 x 1024 = 65,536; x 4 bytes = 274,432 a layer;
    # x 4 layers = 1,097,728 bytes = 1.05 MiB, whatever the context.
    assert sizes.layers * sizes.kv_layer_bytes(n_ctx) == 1_097_728
    assert record.buffers["CPU"]["rs"] == pytest.approx(1_097_728 / MIB, abs=0.01)
    assert "recurrent state 1.1 MB" in buffers_line(record.as_dict())
