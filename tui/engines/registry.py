"""Which engines exist: a plain mapping from backend name to how it is built."""

from __future__ import annotations

from pathlib import Path

from tui.config import Config
from tui.engines.base import Engine
from tui.paths import Paths


def build_embedded(config: Config, paths: Paths) -> Engine:
    from tui.engines.embedded import EmbeddedEngine

    return EmbeddedEngine(
        models_dir=paths.models_dir,
        extra_dirs=[Path(folder).expanduser() for folder in config.engine.model_dirs],
        n_threads=config.engine.threads or None,
        n_ctx=config.engine.context_length,
        log_path=paths.log_dir / "engine.log",
    )


BACKENDS = {"embedded": build_embedded}


def build_engines(config: Config, paths: Paths) -> dict[str, Engine]:
    """One engine per backend; none of them connects or loads anything yet."""
    return {name: build(config, paths) for name, build in BACKENDS.items()}
