"""Everything the app and the headless commands work with, built once and passed in."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tui.chat.service import ChatService
from tui.config import Config
from tui.config.paths import Paths
from tui.engines.base import Engine
from tui.stats.monitor import StatsMonitor
from tui.store import HistoryStore
from tui.store.recovery import open_history

if TYPE_CHECKING:
    from tui.tools.service import ToolService

EngineFactory = Callable[[Config, Paths], Mapping[str, Engine]]
StatsFactory = Callable[[Config, Callable[[], set[int]], Callable[[int], "int | None"]], "StatsMonitor | None"]
"""Builds the hardware monitor from the config, a function naming the engines' processes and one
giving the VRAM they say they allocated on GPU n (shown where a container hides their pids)."""


@dataclass
class Services:
    """The store, the engines and the chat service of one lchat process."""

    paths: Paths
    config: Config
    store: HistoryStore
    engines: dict[str, Engine]
    chat: ChatService
    tools: ToolService | None = None
    """The MCP servers and who may run their tools; None when no server is configured."""
    warnings: list[str] = field(default_factory=list)
    """Non-fatal problems found while starting, shown to the user once."""
    stats: StatsMonitor | None = None
    """Hardware sampling for the stats pane and per-answer energy; None when switched off."""

    @classmethod
    def open(
        cls,
        paths: Paths,
        config: Config,
        *,
        engines: EngineFactory | None = None,
        warnings: list[str] | None = None,
        stats: StatsFactory | None = None,
    ) -> Services:
        """Open the history and build the engines (`engines` lets tests bring doubles)."""
        from tui.engines.registry import build_engines

        paths.create()
        store, damage = open_history(paths.database, backups_dir=paths.backups_dir)
        built = dict((engines or build_engines)(config, paths))
        from tui.stats import monitor_for
        from tui.stats.energy import EnergyMeter

        monitor = (stats or monitor_for)(config, lambda: _engine_pids(built), lambda gpu: _engine_vram(built, gpu))
        tools = None
        if config.mcp.servers:  # Built now, started at first use.
            from tui.tools.service import ToolService

            tools = ToolService(config.mcp, log_dir=paths.log_dir)
        chat = ChatService(store, built, config.chat, energy=EnergyMeter(monitor) if monitor else None, tools=tools)
        return cls(
            paths, config, store, built, chat, tools, [*(warnings or []), *filter(None, [damage])], stats=monitor
        )

    async def aclose(self) -> None:
        if self.store.closed:
            return
        for engine in self.engines.values():
            await engine.aclose()
        if self.tools is not None:
            await self.tools.aclose()
        self.close()

    def close(self) -> None:
        """What closing needs without an event loop (after the app died): safe to call twice."""
        if self.store.closed:
            return
        # The answers first: stopping the stats sampler can take a few seconds.
        self.chat.saver.interrupt_streaming()
        self.chat.saver.save_unsaved()  # Last chance for answers the disk refused; else they reopen interrupted.
        self.store.close()
        if self.stats is not None:
            self.stats.close()


def _engine_pids(engines: Mapping[str, Engine]) -> set[int]:
    """The engines' own child processes, so the stats pane can point at the model's VRAM."""
    pids = (engine.child_pid for engine in engines.values())
    return {pid for pid in pids if pid is not None}


def _engine_vram(engines: Mapping[str, Engine], gpu: int) -> int | None:
    """The VRAM the engines' processes allocated on GPU `gpu` by their own count; None when none knows."""
    counts = [n for n in (engine.vram_on(gpu) for engine in engines.values()) if n is not None]
    return sum(counts) if counts else None
