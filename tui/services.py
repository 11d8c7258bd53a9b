"""Everything the app and the headless commands work with, built once and passed in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tui.chat_service import ChatService
from tui.config import Config
from tui.engines.base import Engine
from tui.paths import Paths
from tui.store import HistoryStore

EngineFactory = Callable[[Config, Paths], Mapping[str, Engine]]


@dataclass
class Services:
    """The store, the engines and the chat service of one lchat process."""

    paths: Paths
    config: Config
    store: HistoryStore
    engines: dict[str, Engine]
    chat: ChatService
    warnings: list[str] = field(default_factory=list)
    """Non-fatal problems found while starting, shown to the user once."""

    @classmethod
    def open(
        cls,
        paths: Paths,
        config: Config,
        *,
        engines: EngineFactory | None = None,
        warnings: list[str] | None = None,
    ) -> Services:
        """Open the history and build the engines (`engines` lets tests bring doubles)."""
        from tui.engines.registry import build_engines

        paths.create()
        store = HistoryStore.open(paths.database)
        built = dict((engines or build_engines)(config, paths))
        chat = ChatService(store, built, config.chat)
        return cls(paths, config, store, built, chat, list(warnings or []))

    async def aclose(self) -> None:
        for engine in self.engines.values():
            await engine.aclose()
        self.store.close()
