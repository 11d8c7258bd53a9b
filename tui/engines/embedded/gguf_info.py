"""Describe a GGUF file from its header alone, without loading any weights."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from tui.domain import ModelInfo
from tui.engines.base import ModelLoadError
from tui.engines.reasoning_split import template_thinking
from tui.gguf.header import header_fields, read_header
from tui.gguf.kv_shape import KvShape

BACKEND = "embedded"


def read_gguf_info(path: Path | str) -> ModelInfo:
    """Read a GGUF file's metadata into a ModelInfo named after the file's absolute path.

    Raises ModelLoadError when the file is missing or is not a usable GGUF file.
    """
    path = Path(path).expanduser().resolve()
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelLoadError(f"{path} cannot be read: {exc.strerror or exc}") from None
    if size == 0:
        raise _unusable(path, "the file is empty")
    try:
        return _read(path, size)
    except ModelLoadError:
        raise
    except Exception as exc:  # gguf raises ValueError, IndexError, OverflowError...
        detail = str(exc) or type(exc).__name__
        if "magic" in detail:
            detail = "not a GGUF file (bad magic number)"
        elif "version" not in detail:
            detail = f"truncated or corrupt ({detail})"
        raise _unusable(path, detail) from None


def _read(path: Path, size: int) -> ModelInfo:
    from gguf import LlamaFileType

    reader = read_header(path)
    if reader.tensors:
        last = max(reader.tensors, key=lambda t: t.data_offset + t.n_bytes)
        end = int(last.data_offset) + int(last.n_bytes)
        if end > size:
            raise _unusable(path, f"truncated ({size} bytes, tensor data needs {end})")
    fields = header_fields(reader)
    arch = str(fields.get("general.architecture") or "")
    if not arch:
        raise _unusable(path, "no general.architecture")
    quant = ""
    file_type = fields.get("general.file_type")
    if isinstance(file_type, int):
        try:
            quant = LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
        except ValueError:
            quant = ""
    if not quant and reader.tensors:
        quant = Counter(t.tensor_type.name for t in reader.tensors).most_common(1)[0][0]
    context = fields.get(f"{arch}.context_length")
    return ModelInfo(
        name=str(path),
        backend=BACKEND,
        path=str(path),
        size_bytes=size,
        architecture=arch,
        parameters=sum(int(t.n_elements) for t in reader.tensors) or None,
        quantization=quant,
        context_length=int(context) if isinstance(context, int) else None,
        has_chat_template=bool(fields.get("tokenizer.chat_template")),
        extra=_extra(fields, arch, path, reader.tensors),
    )


def _extra(fields: dict[str, Any], arch: str, path: Path, tensors: Any) -> dict[str, Any]:
    """The title, the think settings its chat template takes, and the KV cache's shape and the
    weights per layer for the fit estimate (tui.fit.estimate, tui.fit.offload)."""
    extra: dict[str, Any] = {"title": str(fields.get("general.name") or path.stem)}
    extra |= template_thinking(str(fields.get("tokenizer.chat_template") or ""))
    shape = KvShape.from_metadata(fields, arch)
    if shape:
        extra["kv"] = shape.as_extra()
        sizes = {str(t.name): int(t.n_bytes) for t in tensors}
        blocks = sum(size for name, size in sizes.items() if name.startswith("blk."))
        # The output layer goes to the GPU with the last block; tied models reuse the embeddings.
        output = sizes.get("output.weight", sizes.get("token_embd.weight", 0))
        if blocks:
            extra["offload"] = {"layer_bytes": blocks // shape.layers, "output_bytes": output}
    return extra


def _unusable(path: Path, reason: str) -> ModelLoadError:
    return ModelLoadError(f"{path} is not a usable GGUF file: {reason}")
