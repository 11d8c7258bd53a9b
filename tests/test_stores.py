"""Reusing other apps' model stores, from fixture trees shaped like Ollama's, LM Studio's and the HF cache's."""

from __future__ import annotations

import hashlib
import json
import os
from contextlib import aclosing
from pathlib import Path

import pytest

from tests.gguf_files import write_random, write_tiny_llama
from tui.config import ModelsConfig
from tui.domain import ChatTurn, GenerationOptions, Role
from tui.engines.base import Finished, TextPiece
from tui.engines.embedded.engine import EmbeddedEngine
from tui.engines.embedded.stores import OLLAMA_PREFIX, reused_models, store_folders


def ollama_tree(root: Path, tiny: Path) -> None:
    """manifests/<registry>/<namespace>/<model>/<tag> pointing at blobs/sha256-<hex>."""
    data = tiny.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    (root / "blobs").mkdir(parents=True)
    (root / "blobs" / f"sha256-{digest}").write_bytes(data)
    (root / "blobs" / "sha256-0000template").write_text("{{ .Prompt }}")
    manifest = {
        "schemaVersion": 2,
        "layers": [
            {"mediaType": "application/vnd.ollama.image.model", "digest": f"sha256:{digest}", "size": len(data)},
            {"mediaType": "application/vnd.ollama.image.template", "digest": "sha256:0000template", "size": 12},
        ],
    }
    for where in (
        "registry.ollama.ai/library/tiny/latest",
        "registry.ollama.ai/someone/tiny-ft/q4",
        "hf.co/org/repo-GGUF/Q4_K_M",
    ):
        path = root / "manifests" / where
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(manifest))
    broken = root / "manifests/registry.ollama.ai/library/gone/latest"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        json.dumps({"layers": [{"mediaType": "application/vnd.ollama.image.model", "digest": "sha256:missing"}]})
    )


def hf_tree(cache: Path, tiny: Path) -> Path:
    """models--org--repo/{blobs,refs/main,snapshots/<rev>/file.gguf -> ../../blobs/<etag>}."""
    repo = cache / "models--org--Tiny-GGUF"
    (repo / "blobs").mkdir(parents=True)
    (repo / "blobs" / "abc123").write_bytes(tiny.read_bytes())
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("rev2")
    for rev in ("rev1", "rev2"):
        snap = repo / "snapshots" / rev
        snap.mkdir(parents=True)
        (snap / "tiny-q8_0.gguf").symlink_to(Path("../../blobs/abc123"))
    (repo / "snapshots" / "rev2" / "mmproj-tiny-f16.gguf").symlink_to(Path("../../blobs/abc123"))
    return repo / "snapshots" / "rev2" / "tiny-q8_0.gguf"


@pytest.fixture
def stores(tmp_path: Path) -> dict[str, Path]:
    tiny = write_tiny_llama(tmp_path / "tiny.gguf")
    home = tmp_path / "home"
    ollama_tree(home / ".ollama" / "models", tiny)
    lms = home / ".lmstudio" / "models" / "lmstudio-community" / "Tiny-GGUF"
    lms.mkdir(parents=True)
    (lms / "Tiny-Q4_K_M.gguf").write_bytes(tiny.read_bytes())
    write_random(lms / "not-really.gguf")
    (lms / "Big-00002-of-00003.gguf").write_bytes(b"later shard")
    snapshot = hf_tree(home / ".cache" / "huggingface" / "hub", tiny)
    return {"home": home, "snapshot": snapshot, "lms": lms}


def test_folders_follow_config_and_the_apps_own_variables(tmp_path: Path) -> None:
    home = tmp_path / "h"
    folders = store_folders(ModelsConfig(), {}, home)
    assert folders == {
        "ollama": [home / ".ollama/models"],
        "lmstudio": [home / ".lmstudio/models", home / ".cache/lm-studio/models"],
        "hf": [home / ".cache/huggingface/hub"],
    }
    env = {"OLLAMA_MODELS": "/srv/ollama", "HF_HOME": "/srv/hf"}
    assert store_folders(ModelsConfig(), env, home)["ollama"] == [Path("/srv/ollama")]
    assert store_folders(ModelsConfig(), env, home)["hf"] == [Path("/srv/hf/hub")]
    assert store_folders(ModelsConfig(), {"HF_HUB_CACHE": "/c"}, home)["hf"] == [Path("/c")]
    off = ModelsConfig(reuse_ollama_store=False, reuse_lmstudio=False, reuse_hf_cache=False)
    assert store_folders(off, env, home) == {"ollama": [], "lmstudio": [], "hf": []}


def test_every_store_is_found_read_only_without_copying(stores) -> None:
    home = stores["home"]
    before = sorted(str(p) for p in home.rglob("*"))
    models = reused_models(ModelsConfig(), {}, home)
    by_label = {m.extra["label"]: m for m in models}
    # The three Ollama names share one blob: it is listed once, under the first name.
    assert set(by_label) == {"hf.co/org/repo-GGUF:Q4_K_M", "Tiny-Q4_K_M", "not-really", "tiny-q8_0"}
    ollama = by_label["hf.co/org/repo-GGUF:Q4_K_M"]
    assert ollama.name == OLLAMA_PREFIX + "hf.co/org/repo-GGUF:Q4_K_M"
    assert Path(ollama.path).parent == home / ".ollama/models/blobs" and ollama.extra["source"] == "Ollama's store"
    assert ollama.architecture == "llama" and ollama.extra["read_only"] and ollama.extra["kv"]["layers"] == 2
    assert by_label["Tiny-Q4_K_M"].extra["source"] == "LM Studio"
    assert "not a usable GGUF" in by_label["not-really"].extra["error"]
    assert sorted(str(p) for p in home.rglob("*")) == before  # nothing written, nothing copied


def test_each_store_alone(stores) -> None:
    home = stores["home"]
    only = dict(reuse_ollama_store=False, reuse_lmstudio=False, reuse_hf_cache=False)
    hf = reused_models(ModelsConfig(**(only | {"reuse_hf_cache": True})), {}, home)
    assert [(m.name, m.extra["source"], m.extra["label"]) for m in hf] == [
        (str(stores["snapshot"]), "HF cache (org/Tiny-GGUF)", "tiny-q8_0")
    ]  # refs/main first, mmproj skipped
    ollama = reused_models(ModelsConfig(**(only | {"reuse_ollama_store": True})), {}, home)
    assert {m.extra["label"] for m in ollama} == {"hf.co/org/repo-GGUF:Q4_K_M"}
    (home / ".ollama/models/manifests/hf.co").rename(home / "moved-away")
    ollama = reused_models(ModelsConfig(**(only | {"reuse_ollama_store": True})), {}, home)
    assert {m.extra["label"] for m in ollama} == {"tiny:latest"}


async def test_the_embedded_engine_answers_from_an_ollama_blob(stores, tmp_path) -> None:
    home = stores["home"]
    config = ModelsConfig(reuse_lmstudio=False, reuse_hf_cache=False)
    (home / ".ollama/models/manifests/hf.co").rename(home / "moved-away")
    (home / ".ollama/models/manifests/registry.ollama.ai/someone").rename(home / "moved-too")
    engine = EmbeddedEngine(
        models_dir=tmp_path / "models",
        include_starter=False,
        n_threads=1,
        n_ctx=256,
        reused=lambda: reused_models(config, {}, home),
    )
    try:
        names = [m.name for m in await engine.list_models()]
        assert names == [OLLAMA_PREFIX + "tiny:latest"]
        events = []
        async with aclosing(
            engine.chat(names[0], [ChatTurn(Role.USER, "hi")], GenerationOptions(max_tokens=4, seed=1))
        ) as stream:
            async for event in stream:
                events.append(event)
        assert any(isinstance(e, TextPiece) for e in events) and isinstance(events[-1], Finished)
    finally:
        await engine.aclose()
    models_dir = tmp_path / "models"
    assert not models_dir.exists() or not os.listdir(models_dir)  # loaded in place, not copied
