"""A conversation's own settings: making a conversation, changing its settings, and the
sampling options an answer is generated with."""

from __future__ import annotations

import time
from dataclasses import replace

from tui.config import ChatConfig
from tui.domain import Conversation, GenerationOptions
from tui.models.names import ModelChoice
from tui.store import HistoryStore


class SettingsService:
    """Owns what a conversation is set to; every change returns the conversation as it is now."""

    def __init__(self, store: HistoryStore, defaults: ChatConfig) -> None:
        self.store = store
        self.defaults = defaults

    def new_conversation(self, model: ModelChoice | None = None) -> Conversation:
        return self.store.create_conversation(
            model=model.name if model else "",
            backend=model.backend if model else "",
            system_prompt=self.defaults.system_prompt,
        )

    def draft_conversation(self, model: ModelChoice) -> Conversation:
        """A conversation for `model` not stored yet (id 0): what a first question is checked
        against before `new_conversation` makes it, so a refused question leaves nothing behind."""
        now = time.time()
        return Conversation(0, "", model.name, model.backend, self.defaults.system_prompt, {}, now, now)

    def options_for(self, conversation: Conversation) -> GenerationOptions:
        """Sampling settings: the conversation's own, else the configured defaults."""
        params = conversation.params
        return GenerationOptions(
            temperature=params.get("temperature", self.defaults.temperature),
            top_p=params.get("top_p", self.defaults.top_p),
            max_tokens=params.get("max_tokens", self.defaults.max_tokens),
            seed=params.get("seed"),
            stop=tuple(str(stop) for stop in params.get("stop", self.defaults.stop)),
            lora=params.get("lora"),
            think=params.get("think", self.defaults.think) or None,
        )

    def set_tools(self, conversation: Conversation, chosen: list[str] | None) -> Conversation:
        """Turn the conversation's tools on (servers or server.tool names) or off (None)."""
        from tui.tools.service import TOOLS_PARAM

        params = {key: value for key, value in conversation.params.items() if key != TOOLS_PARAM}
        if chosen is not None:
            params[TOOLS_PARAM] = list(chosen)
        self.store.set_conversation_settings(conversation.id, system_prompt=conversation.system_prompt, params=params)
        return replace(conversation, params=params)
