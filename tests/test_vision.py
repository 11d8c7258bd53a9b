"""Finding a vision model's projector: beside the GGUF, in the hub cache's snapshot, in Ollama's store."""

from __future__ import annotations

import json
from pathlib import Path

from tui.engines.embedded.vision import GENERIC_HANDLER, find_projector, handler_for, no_images_reason


def test_projector_beside_the_model_prefers_the_matching_name(tmp_path: Path) -> None:
    model = tmp_path / "gemma-3-4b-it-Q4_K_M.gguf"
    model.write_bytes(b"GGUF")
    assert find_projector(model) is None
    (tmp_path / "mmproj-qwen2.5-vl-f16.gguf").write_bytes(b"GGUF")
    (tmp_path / "mmproj-gemma-3-4b-it-f16.gguf").write_bytes(b"GGUF")
    assert find_projector(model) == tmp_path / "mmproj-gemma-3-4b-it-f16.gguf"


def test_projector_in_a_hub_cache_snapshot(tmp_path: Path) -> None:
    snapshot = tmp_path / "models--ggml-org--SmolVLM-256M-Instruct-GGUF" / "snapshots" / "abc123"
    snapshot.mkdir(parents=True)
    (snapshot / "SmolVLM-256M-Instruct-Q8_0.gguf").write_bytes(b"GGUF")
    (snapshot / "mmproj-SmolVLM-256M-Instruct-Q8_0.gguf").write_bytes(b"GGUF")
    assert find_projector(snapshot / "SmolVLM-256M-Instruct-Q8_0.gguf").name.startswith("mmproj-SmolVLM")


def test_projector_layer_in_ollama_store(tmp_path: Path) -> None:
    blobs = tmp_path / "blobs"
    blobs.mkdir()
    (blobs / "sha256-aaa").write_bytes(b"GGUF model")
    (blobs / "sha256-bbb").write_bytes(b"GGUF projector")
    (blobs / "sha256-ccc").write_bytes(b"GGUF text only")
    manifests = tmp_path / "manifests" / "registry.ollama.ai" / "library"
    for model, layers in {
        "llava": [
            ("application/vnd.ollama.image.model", "sha256:aaa"),
            ("application/vnd.ollama.image.projector", "sha256:bbb"),
        ],
        "llama3.2": [("application/vnd.ollama.image.model", "sha256:ccc")],
    }.items():
        (manifests / model).mkdir(parents=True)
        (manifests / model / "latest").write_text(
            json.dumps({"layers": [{"mediaType": kind, "digest": digest} for kind, digest in layers]})
        )
    assert find_projector(blobs / "sha256-aaa") == blobs / "sha256-bbb"
    assert find_projector(blobs / "sha256-ccc") is None


def test_handler_choice_and_refusal() -> None:
    assert handler_for("gemma3") == GENERIC_HANDLER and handler_for("gemma4") == "Gemma4ChatHandler"
    assert "does not take images" in no_images_reason("smollm2", None)
    assert no_images_reason("llava", Path("/m/mmproj.gguf")) is None
