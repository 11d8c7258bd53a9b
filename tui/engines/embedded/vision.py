"""Whether a GGUF model can see: its projector (mmproj) file, and the llama-cpp-python chat
handler that pairs the two. No llama_cpp import here: the engine child loads the handler.

A vision GGUF comes with a projector that turns images into the model's embeddings: beside the
model (`mmproj-*.gguf`, as Hugging Face repos ship it, which the hub cache keeps in the same
snapshot folder) or, in Ollama's store, as a layer of the model's manifest.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

OLLAMA_PROJECTOR_LAYER = "application/vnd.ollama.image.projector"
OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
GENERIC_HANDLER = "MTMDChatHandler"
"""llama.cpp's libmtmd: one handler for every family it supports (Gemma 3, Qwen2.5-VL, LLaVA,
MiniCPM-V, SmolVLM, Pixtral...)."""
FAMILY_HANDLERS = {"gemma4": "Gemma4ChatHandler"}
"""Families whose templates need a handler of their own."""


def find_projector(model_path: Path) -> Path | None:
    """The projector file of the model at `model_path`, or None when it has none here."""
    model_path = Path(model_path)
    if model_path.parent.name == "blobs":
        return _ollama_projector(model_path)
    candidates = list(_projectors_beside(model_path))
    if not candidates:
        return None
    # Several projectors in one folder (a repo with f16 and q8 ones, or two models): the one
    # whose name shares most with the model's.
    return max(
        candidates,
        key=lambda p: (_shared_prefix(p.stem.lower().replace("mmproj", ""), model_path.stem.lower()), p.name),
    )


def _projectors_beside(model_path: Path) -> Iterator[Path]:
    try:
        entries = sorted(model_path.parent.iterdir())
    except OSError:
        return
    for path in entries:
        if path.suffix.lower() == ".gguf" and "mmproj" in path.name.lower() and path != model_path:
            yield path


def _ollama_projector(blob: Path) -> Path | None:
    """In Ollama's store: the manifest that names this model blob, and its projector layer."""
    root = blob.parent.parent
    digest = blob.name.replace("-", ":", 1)
    for manifest in sorted(p for p in (root / "manifests").rglob("*") if p.is_file()):
        try:
            layers = json.loads(manifest.read_text()).get("layers", [])
        except (OSError, ValueError, AttributeError):
            continue
        by_type = {layer.get("mediaType"): layer.get("digest", "") for layer in layers if isinstance(layer, dict)}
        if by_type.get(OLLAMA_MODEL_LAYER) == digest and by_type.get(OLLAMA_PROJECTOR_LAYER):
            projector = root / "blobs" / str(by_type[OLLAMA_PROJECTOR_LAYER]).replace(":", "-")
            return projector if projector.is_file() else None
    return None


def handler_for(architecture: str) -> str:
    """The llama-cpp-python chat handler class for a vision model of this architecture."""
    return FAMILY_HANDLERS.get(architecture.lower(), GENERIC_HANDLER)


def no_images_reason(model_name: str, projector: Path | None) -> str | None:
    """Why this model cannot take images, in a user's words; None when it can."""
    if projector is None:
        return (
            f"{model_name} does not take images: no projector (mmproj) file was found beside it "
            "or in Ollama's store. Vision GGUFs ship one; put it in the model's folder."
        )
    return None


def _shared_prefix(a: str, b: str) -> int:
    count = 0
    for left, right in zip(a.strip("-_."), b):
        if left != right:
            break
        count += 1
    return count
