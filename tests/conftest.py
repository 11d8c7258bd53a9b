"""Shared fixtures: every test gets its own lchat home, away from the machine's own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tui.config import Config
from tui.engines.base import Engine
from tui.engines.fake import ScriptedEngine
from tui.paths import Paths, resolve_paths
from tui.services import Services


@pytest.fixture(autouse=True)
def lchat_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every config/data path at tmp_path and keep the network's daemons out."""
    home = tmp_path / "lchat-home"
    monkeypatch.setenv("LCHAT_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return home


@pytest.fixture
def paths(lchat_home: Path) -> Paths:
    paths = resolve_paths()
    paths.create()
    return paths


@pytest.fixture
def fake_engine() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture(params=["fake", "embedded"])
def engine(request: pytest.FixtureRequest, paths: Paths) -> Iterator[Engine]:
    """Each backend in turn: the scripted fake, then real llama.cpp on the starter model."""
    if request.param == "fake":
        yield ScriptedEngine()
        return
    from tui.engines.embedded import EmbeddedEngine

    engine = EmbeddedEngine(models_dir=paths.models_dir, n_threads=1, n_ctx=2048, log_path=paths.log_dir / "engine.log")
    yield engine
    asyncio.run(engine.aclose())


@pytest.fixture
def open_services(paths: Paths) -> Iterator[Callable[..., Services]]:
    """Build Services on the test's paths with the given engines; all are closed after."""
    opened: list[Services] = []

    def build(*engines: Engine, config: Config | None = None) -> Services:
        services = Services.open(
            paths, config or Config(), engines=lambda config, paths: {e.name: e for e in engines}
        )
        opened.append(services)
        return services

    yield build
    for services in opened:
        services.store.close()
