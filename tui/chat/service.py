"""The chat service of one lchat process: its parts built once, each with one job.

`models` lists and resolves models, `settings` owns each conversation's settings, `prompts`
builds what a model is sent, `answers` sends questions and streams answers into the history,
`saver` keeps answers on disk. Both the TUI and `lchat ask` go through here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from tui.chat.answers import AnswerPipeline
from tui.chat.model_directory import ModelDirectory
from tui.chat.prompt import PromptBuilder
from tui.chat.saving import COMMIT_INTERVAL_S, AnswerSaver
from tui.chat.settings import SettingsService
from tui.config import ChatConfig
from tui.engines.base import Engine
from tui.stats.energy import EnergySource
from tui.store import HistoryStore

if TYPE_CHECKING:
    from tui.tools.service import ToolService


class ChatService:
    """The parts that run conversations against the engines and keep the history in step."""

    def __init__(
        self,
        store: HistoryStore,
        engines: Mapping[str, Engine],
        defaults: ChatConfig,
        *,
        commit_interval: float = COMMIT_INTERVAL_S,
        energy: EnergySource | None = None,
        tools: ToolService | None = None,
    ) -> None:
        self.store = store
        self.defaults = defaults
        self.models = ModelDirectory(engines, defaults)
        self.settings = SettingsService(store, defaults)
        self.prompts = PromptBuilder(store, self.models, self.settings)
        self.saver = AnswerSaver(store)
        self.answers = AnswerPipeline(
            store,
            self.models,
            self.settings,
            self.prompts,
            self.saver,
            commit_interval=commit_interval,
            energy=energy,
            tools=tools,
        )
