"""Which engines exist: a plain mapping from backend name to how it is built."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path

from tui.config import Config
from tui.config.paths import Paths
from tui.engines.base import Engine


def build_embedded(config: Config, paths: Paths, *, leave_core_for_ui: bool = False) -> Engine:
    """`leave_core_for_ui`: where threads = 0 (auto), keep one core for the TUI's own work."""
    from tui.engines.embedded.engine import EmbeddedEngine, default_threads
    from tui.engines.embedded.stores import reused_models
    from tui.fit.memory import read_vram

    return EmbeddedEngine(
        models_dir=paths.models_dir,
        extra_dirs=[Path(folder).expanduser() for folder in config.engine.model_dirs],
        n_threads=config.engine.threads or default_threads(leave_core_for_ui=leave_core_for_ui),
        n_ctx=config.engine.context_length,
        log_path=paths.log_dir / "engine.log",
        reused=partial(reused_models, config.models, dict(os.environ), Path.home()),
        lora_profiles=config.engine.lora,
        gpu_layers=None if config.engine.gpu_layers == "auto" else int(config.engine.gpu_layers),
        kv_cache_type=config.engine.kv_cache_type,
        flash_attention=config.engine.flash_attention,
        vram=read_vram,
        calibration=paths.data_dir / "gpu-fit.json",
    )


def build_ollama(config: Config, paths: Paths) -> dict[str, Engine]:
    """One engine per Ollama host: "ollama", or "ollama@host:port" when several are configured."""
    from tui.engines.ollama.engine import configured_ollama_engines

    return dict(configured_ollama_engines(config, dict(os.environ)))


def build_servers(config: Config, paths: Paths) -> dict[str, Engine]:
    """One engine per [[servers]] table (LM Studio, LocalAI, llama-server, vLLM...)."""
    from tui.engines.openai.engine import configured_servers

    return dict(configured_servers(config, os.environ))


Builder = Callable[[Config, Paths], Engine | dict[str, Engine]]
"""Builds a kind of backend's engines from the config."""

BACKENDS: dict[str, Builder] = {"embedded": build_embedded, "ollama": build_ollama, "servers": build_servers}
"""Each kind of backend and its builder: one engine, or a mapping of backend name to engine."""


def model_processes() -> frozenset[str]:
    """What every kind of backend declares in `Engine.model_processes`, configured or not: an
    Ollama runner on this machine holds a model's memory whichever backends lchat talks to."""
    from tui.engines.embedded.engine import EmbeddedEngine
    from tui.engines.ollama.engine import OllamaEngine
    from tui.engines.openai.engine import OpenAICompatEngine

    return frozenset().union(*(kind.model_processes for kind in (EmbeddedEngine, OllamaEngine, OpenAICompatEngine)))


def build_engines(config: Config, paths: Paths, *, for_tui: bool = False) -> dict[str, Engine]:
    """One engine per backend; none of them connects or loads anything yet. `for_tui`: the
    engines serve the TUI, which needs a core of its own to stay smooth."""
    builders: dict[str, Builder] = dict(BACKENDS)
    if for_tui:
        builders["embedded"] = partial(build_embedded, leave_core_for_ui=True)
    engines: dict[str, Engine] = {}
    for kind, build in builders.items():
        built = build(config, paths)
        engines.update(built if isinstance(built, dict) else {kind: built})
    return engines
