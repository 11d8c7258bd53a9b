"""A GGUF LoRA adapter for the tiny llama of tests/gguf_files.py (attn_q and output)."""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

N_EMBD, N_LAYER, N_VOCAB, FIRST_CHAR, N_CHARS = 64, 2, 356, 5, 95


def write_tiny_lora(path: Path, *, rank: int = 4, scale: float = 1.0, arch: str = "llama", seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    writer = gguf.GGUFWriter(path, arch)
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(rank))
    writer.add_name("tiny test lora")

    def pair(name: str, rows: int, cols: int, *, keep: slice | None = None) -> None:
        a = (rng.standard_normal((rank, cols)) * scale).astype(np.float32)
        b = (rng.standard_normal((rows, rank)) * scale).astype(np.float32)
        if keep is not None:  # Only printable characters change, as in the base model.
            mask = np.zeros(rows, dtype=bool)
            mask[keep] = True
            b[~mask] = 0.0
        writer.add_tensor(f"{name}.lora_a", a)
        writer.add_tensor(f"{name}.lora_b", b)

    for i in range(N_LAYER):
        pair(f"blk.{i}.attn_q.weight", N_EMBD, N_EMBD)
    pair("output.weight", N_VOCAB, N_EMBD, keep=slice(FIRST_CHAR, FIRST_CHAR + N_CHARS))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path
