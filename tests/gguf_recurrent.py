"""A tiny mamba GGUF that llama.cpp loads: to check the recurrent state the fit charges against
the "RS buffer" a real load logs."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

from tests.gguf_files import _CHARS, _CONTROL, _write


def write_tiny_mamba(
    path: Path, *, n_layer: int = 2, n_embd: int = 64, d_inner: int = 128, d_state: int = 16, d_conv: int = 4
) -> Path:
    """Mamba (v1) with random f32 weights and the test llama's character vocabulary; llama.cpp
    takes only d_inner = 2 x n_embd."""
    rng = np.random.default_rng(0)
    tokens = _CONTROL + _CHARS + [f"<0x{b:02X}>" for b in range(256)]
    types = (
        [gguf.TokenType.UNKNOWN]
        + [gguf.TokenType.CONTROL] * (len(_CONTROL) - 1)
        + [gguf.TokenType.NORMAL] * len(_CHARS)
        + [gguf.TokenType.BYTE] * 256
    )
    n_vocab, dt_rank = len(tokens), max(1, n_embd // 16)
    writer = gguf.GGUFWriter(path, "mamba")
    writer.add_context_length(2048)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_ssm_conv_kernel(d_conv)
    writer.add_ssm_inner_size(d_inner)
    writer.add_ssm_state_size(d_state)
    writer.add_ssm_time_step_rank(dt_rank)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * n_vocab)
    writer.add_token_types(types)
    writer.add_add_bos_token(False)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)

    def weight(*shape: int) -> np.ndarray:  # numpy shapes are ggml's reversed
        return (rng.standard_normal(shape) * 0.2).astype(np.float32)

    writer.add_tensor("token_embd.weight", weight(n_vocab, n_embd))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", weight(n_vocab, n_embd))
    for i in range(n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ssm_in.weight", weight(2 * d_inner, n_embd))
        writer.add_tensor(f"blk.{i}.ssm_conv1d.weight", weight(d_inner, d_conv))
        writer.add_tensor(f"blk.{i}.ssm_conv1d.bias", weight(d_inner))
        writer.add_tensor(f"blk.{i}.ssm_x.weight", weight(dt_rank + 2 * d_state, d_inner))
        writer.add_tensor(f"blk.{i}.ssm_dt.weight", weight(d_inner, dt_rank))
        writer.add_tensor(f"blk.{i}.ssm_dt.bias", weight(d_inner))
        writer.add_tensor(f"blk.{i}.ssm_a", -np.ones((d_inner, d_state), dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ssm_d", np.ones(d_inner, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ssm_out.weight", weight(n_embd, d_inner))
    _write(writer)
    return path
