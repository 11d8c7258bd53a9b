"""A conversation's own settings: making a conversation, changing its settings, and the
sampling options an answer is generated with."""

from __future__ import annotations

import time
from dataclasses import replace

from tui.config import ChatConfig
from tui.domain import Conversation, ConversationSettings, GenerationOptions
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
        return Conversation(
            0, "", model.name, model.backend, self.defaults.system_prompt, ConversationSettings(), now, now
        )

    def change(
        self,
        conversation: Conversation,
        settings: ConversationSettings | None = None,
        *,
        system_prompt: str | None = None,
        model: ModelChoice | None = None,
    ) -> Conversation:
        """Store what is given (settings, system prompt, model; None keeps the conversation's own)
        and return the conversation as it is now. Raises StoreError when the history refuses it."""
        settings = conversation.settings if settings is None else settings
        prompt = conversation.system_prompt if system_prompt is None else system_prompt
        self.store.set_conversation_settings(conversation.id, system_prompt=prompt, settings=settings)
        if model is not None:
            self.store.set_conversation_model(conversation.id, model.name, model.backend)
        # Computed, not re-read: these writes touch nothing else of the row.
        changed = replace(conversation, settings=settings, system_prompt=prompt)
        return replace(changed, model=model.name, backend=model.backend) if model is not None else changed

    def set_tools(self, conversation: Conversation, chosen: list[str] | None) -> Conversation:
        """Turn the conversation's tools on (servers or server.tool names) or off (None)."""
        tools = tuple(chosen) if chosen is not None else None
        return self.change(conversation, replace(conversation.settings, tools=tools))

    def options_for(self, conversation: Conversation) -> GenerationOptions:
        """Sampling settings: the conversation's own, else the configured defaults."""
        own, defaults = conversation.settings, self.defaults
        return GenerationOptions(
            temperature=own.temperature if own.temperature is not None else defaults.temperature,
            top_p=own.top_p if own.top_p is not None else defaults.top_p,
            max_tokens=own.max_tokens if own.max_tokens is not None else defaults.max_tokens,
            seed=own.seed,
            stop=own.stop if own.stop is not None else tuple(str(stop) for stop in defaults.stop),
            lora=own.lora,
            think=(own.think if own.think is not None else defaults.think) or None,
        )
