"""Other apps' model stores, reused read-only and never copied: Ollama's blobs, LM Studio's
folders, the Hugging Face hub cache. What is found is offered by the embedded engine.

Ollama:   <root>/manifests/<registry>/<namespace>/<model>/<tag>  (JSON; the layer with media type
          application/vnd.ollama.image.model names the GGUF blob <root>/blobs/sha256-<hex>)
LM Studio: <dir>/<publisher>/<repo>/<file>.gguf
HF cache: <cache>/models--<org>--<repo>/snapshots/<revision>/<file>.gguf (links into blobs/)
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tui.config import ModelsConfig
from tui.domain import ModelInfo
from tui.engines.base import ModelLoadError
from tui.engines.embedded.gguf_info import BACKEND, read_gguf_info

OLLAMA_MODEL_LAYER = "application/vnd.ollama.image.model"
OLLAMA_PREFIX = "ollama-store/"
"""Name prefix of models found in Ollama's store (their blobs have no file name of their own)."""
_LATER_SHARD = re.compile(r"-(\d{5})-of-\d{5}\.gguf$", re.IGNORECASE)
_infos: dict[tuple[str, int, int], ModelInfo] = {}


@dataclass(frozen=True)
class StoreFile:
    """A GGUF file found in another app's store."""

    path: Path
    label: str
    source: str
    name: str = ""
    """The model's name in lchat; default: the file's path."""


def ollama_store(root: Path) -> Iterator[StoreFile]:
    """The models of an Ollama store, named as `ollama list` names them."""
    manifests = root / "manifests"
    if not manifests.is_dir():
        return
    for manifest in sorted(p for p in manifests.rglob("*") if p.is_file()):
        parts = manifest.relative_to(manifests).parts
        if len(parts) < 4:
            continue
        *where, model, tag = parts
        registry, namespace = where[0], "/".join(where[1:])
        name = (
            f"{model}:{tag}"
            if (registry, namespace) == ("registry.ollama.ai", "library")
            else (
                f"{namespace}/{model}:{tag}" if registry == "registry.ollama.ai" else f"{'/'.join(where)}/{model}:{tag}"
            )
        )
        try:
            layers = json.loads(manifest.read_text()).get("layers", [])
        except (OSError, ValueError, AttributeError):
            continue
        for layer in layers:
            if isinstance(layer, dict) and layer.get("mediaType") == OLLAMA_MODEL_LAYER:
                blob = root / "blobs" / str(layer.get("digest", "")).replace(":", "-")
                if blob.is_file():
                    yield StoreFile(blob, name, "Ollama's store", name=OLLAMA_PREFIX + name)
                break


def lmstudio_folders(folders: list[Path]) -> Iterator[StoreFile]:
    for folder in folders:
        for path in _ggufs(folder):
            yield StoreFile(path, path.stem, "LM Studio")


def hf_cache(cache: Path) -> Iterator[StoreFile]:
    """GGUF files of the hub cache's model repos, newest revision (refs/main) first."""
    if not cache.is_dir():
        return
    for repo in sorted(cache.glob("models--*")):
        repo_id = repo.name.removeprefix("models--").replace("--", "/")
        main = repo / "refs" / "main"
        try:
            first = main.read_text().strip()
        except OSError:
            first = ""
        snapshots = sorted((repo / "snapshots").glob("*"), key=lambda p: p.name != first)
        for snapshot in snapshots:
            for path in _ggufs(snapshot):
                yield StoreFile(path, path.stem, f"HF cache ({repo_id})")


def _ggufs(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*.gguf")):
        lowered = path.name.lower()
        shard = _LATER_SHARD.search(path.name)
        if lowered.startswith("mmproj") or (shard and int(shard.group(1)) != 1) or not path.is_file():
            continue
        yield path


def store_folders(config: ModelsConfig, environ: Mapping[str, str], home: Path) -> dict[str, list[Path]]:
    """Where each store is on this machine, from the config, the apps' own variables, or their defaults."""
    folders: dict[str, list[Path]] = {"ollama": [], "lmstudio": [], "hf": []}
    if config.reuse_ollama_store:
        root = config.ollama_store or environ.get("OLLAMA_MODELS") or str(home / ".ollama" / "models")
        folders["ollama"].append(Path(root).expanduser())
    if config.reuse_lmstudio:
        dirs = config.lmstudio_dirs or [
            str(home / ".lmstudio" / "models"),
            str(home / ".cache" / "lm-studio" / "models"),
        ]
        folders["lmstudio"] = [Path(d).expanduser() for d in dirs]
    if config.reuse_hf_cache:
        hub = environ.get("HF_HUB_CACHE") or (
            str(Path(environ["HF_HOME"]) / "hub")
            if environ.get("HF_HOME")
            else str(home / ".cache" / "huggingface" / "hub")
        )
        folders["hf"].append(Path(hub).expanduser())
    return folders


def reused_models(config: ModelsConfig, environ: Mapping[str, str], home: Path) -> list[ModelInfo]:
    """Every GGUF model in the other apps' stores, each file once, described from its header."""
    folders = store_folders(config, environ, home)
    found: list[StoreFile] = []
    for root in folders["ollama"]:
        found += ollama_store(root)
    found += lmstudio_folders(folders["lmstudio"])
    for cache in folders["hf"]:
        found += hf_cache(cache)
    seen: set[Path] = set()
    models = []
    for item in found:
        real = item.path.resolve()
        if real not in seen:
            seen.add(real)
            models.append(describe(item))
    return models


def describe(item: StoreFile) -> ModelInfo:
    """The file's ModelInfo under its store name; unreadable files say why in extra["error"]."""
    try:
        stat = item.path.stat()
        key = (str(item.path), stat.st_size, stat.st_mtime_ns)
        if key not in _infos:
            _infos[key] = read_gguf_info(item.path)
        info = _infos[key]
        extra = dict(info.extra)
    except (ModelLoadError, OSError) as exc:
        info = ModelInfo(name="", backend=BACKEND, path=str(item.path))
        extra = {"error": str(exc)}
    extra |= {"label": item.label, "source": item.source, "read_only": True}
    return replace(info, name=item.name or str(item.path), path=str(item.path.resolve()), extra=extra)
