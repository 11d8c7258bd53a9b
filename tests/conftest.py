"""Shared fixtures: every test gets its own lchat home, away from the machine's own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.notifications import Notification

from tests.fake_monitor import scripted_monitor
from tests.scripted_engine import ScriptedEngine
from tui.config import Config
from tui.config.paths import Paths, resolve_paths
from tui.engines.base import Engine
from tui.services import Services, StatsFactory


@pytest.fixture(autouse=True)
def lchat_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every config/data path at tmp_path and keep the network's daemons out."""
    home = tmp_path / "lchat-home"
    monkeypatch.setenv("LCHAT_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    # Other apps' model stores (Ollama's, LM Studio's, the HF cache) are found under $HOME.
    monkeypatch.setenv("HOME", str(tmp_path / "user-home"))
    for name in (
        "OLLAMA_MODELS",
        "HF_HOME",
        "HF_HUB_CACHE",
        "HF_ENDPOINT",
        "HF_TOKEN",
        "OPENAI_API_KEY",
        "OLLAMA_API_KEY",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def paths(lchat_home: Path) -> Paths:
    paths = resolve_paths()
    paths.create()
    return paths


@pytest.fixture
def fake_engine() -> ScriptedEngine:
    return ScriptedEngine()


@pytest.fixture(params=["fake", "embedded", "ollama", "openai"])
def engine(request: pytest.FixtureRequest, paths: Paths) -> Iterator[Engine]:
    """Each backend in turn: the scripted fake, real llama.cpp on the starter model, then the
    Ollama and OpenAI-compatible backends against loopback servers."""
    if request.param == "fake":
        yield ScriptedEngine()
        return
    if request.param in ("ollama", "openai"):
        yield from _served_engine(request.param)
        return
    from tui.engines.embedded.engine import EmbeddedEngine

    engine = EmbeddedEngine(models_dir=paths.models_dir, n_threads=1, n_ctx=2048, log_path=paths.log_dir / "engine.log")
    yield engine
    asyncio.run(engine.aclose())


def _served_engine(kind: str) -> Iterator[Engine]:
    from tests.fake_ollama import OllamaState, start_ollama
    from tests.fake_openai import start_openai
    from tui.engines.ollama.engine import OllamaEngine
    from tui.engines.openai.engine import OpenAICompatEngine

    if kind == "ollama":
        state = OllamaState()
        state.add("llama3.2:latest")
        served = start_ollama(state)
        engine: Engine = OllamaEngine(host=served.url, read_timeout=5)
    else:
        served = start_openai()
        engine = OpenAICompatEngine(name="lmstudio", base_url=served.url + "/v1", read_timeout=5)
    yield engine
    served.stop()


@pytest.fixture
def open_services(paths: Paths) -> Iterator[Callable[..., Services]]:
    """Build Services on the test's paths with the given engines; all are closed after."""
    opened: list[Services] = []

    def build(*engines: Engine, config: Config | None = None, stats: StatsFactory | None = None) -> Services:
        # Stats come from a scripted reader unless a test brings its own: no test reads real hardware.
        services = Services.open(
            paths,
            config or Config(),
            engines=lambda config, paths: {e.name: e for e in engines},
            stats=stats or (lambda config, owned_pids, owned_vram: scripted_monitor()),
        )
        opened.append(services)
        return services

    yield build
    for services in opened:
        if services.stats is not None:
            services.stats.close()
        services.store.close()


@pytest.fixture
def notified(monkeypatch: pytest.MonkeyPatch) -> list[Notification]:
    """Every notification the app raises, kept (the app's own list drops them after 5 s, which a
    busy test machine can take between an action and its check)."""
    raised: list[Notification] = []
    original = App.notify

    def notify(self: App, message: str, **kwargs: Any) -> None:
        raised.append(
            Notification(
                message,
                kwargs.get("title", ""),
                kwargs.get("severity", "information"),
                markup=kwargs.get("markup", True),
            )
        )
        original(self, message, **kwargs)

    monkeypatch.setattr(App, "notify", notify)
    return raised
