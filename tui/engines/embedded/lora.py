"""GGUF LoRA adapters for the embedded engine: checked from their header before llama.cpp sees them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tui.domain import ModelInfo
from tui.engines.base import ModelLoadError
from tui.gguf.header import header_fields, read_header


@dataclass(frozen=True)
class LoraInfo:
    """What an adapter's header says."""

    path: str
    architecture: str
    alpha: float | None
    name: str


def read_lora(path: str | Path, *, for_architecture: str = "") -> LoraInfo:
    """The adapter at `path`, or ModelLoadError saying why it cannot be applied."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ModelLoadError(f"no LoRA adapter file {str(file)!r}")
    try:
        fields = header_fields(read_header(file.resolve()))
    except Exception as exc:  # gguf raises ValueError, IndexError... on files that are not GGUF
        raise ModelLoadError(f"{file.name} is not a GGUF file ({exc or type(exc).__name__})") from None
    kind, adapter = fields.get("general.type"), fields.get("adapter.type")
    if kind != "adapter" or adapter != "lora":
        what = f"a {adapter} adapter" if kind == "adapter" else f"a {kind or 'model'}"
        raise ModelLoadError(
            f"{file.name} is {what}, not a GGUF LoRA adapter (convert it with convert_lora_to_gguf.py)"
        )
    arch = str(fields.get("general.architecture") or "")
    if for_architecture and arch and arch != for_architecture:
        raise ModelLoadError(f"{file.name} is a LoRA for {arch} models; this model is {for_architecture}")
    alpha = fields.get("adapter.lora.alpha")
    return LoraInfo(
        str(file.resolve()),
        arch,
        float(alpha) if isinstance(alpha, (int, float)) else None,
        str(fields.get("general.name") or file.stem),
    )


def saved_lora(profiles: Mapping[str, str], model: ModelInfo, *names: str) -> str:
    """The adapter saved for `model` ([engine] lora), matched by one of `names` (the name the chat
    used), its name, file name or label."""
    path = model.path or model.name
    keys = (*names, model.name, Path(path).name, Path(path).stem, str(model.extra.get("label", "")))
    return next((profiles[key] for key in keys if key and key in profiles), "")
