"""The state the main screen's controllers share, with one owner for each piece.

- `conversation`, the conversation shown: written only by the ConversationsController (through
  `show`); every change is announced once, with the new value, to each `on_conversation` subscriber.
- `catalog`, the models every backend listed, and `loaded`: filled only by the ModelsController,
  which calls `models_changed` after each change; `on_models` subscribers hear of it.
- `model`, the model the conversation shown answers with: derived from those two, never stored,
  so it cannot go stale.

The controllers are siblings under the screen: each reads this state and subscribes to it instead
of holding another controller; where one needs another's action the screen hands it that one callable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Protocol

from tui.domain import Conversation, ModelInfo
from tui.models.catalog import Catalog
from tui.models.names import ModelChoice

ConversationListener = Callable[[Conversation | None], None]
"""Told the conversation shown each time it changes (None: a fresh one, not saved yet)."""
DefaultModel = Callable[[list[ModelInfo], Conversation | None], ModelChoice | None]
"""The model a conversation answers with among the models listed (the chat service's rule)."""


class Ensure(Protocol):
    """The conversations controller's `ensure`, handed to the controllers that need a saved conversation."""

    def __call__(
        self, model: ModelChoice | None, *, refused: str = "", timeout: float | None = None
    ) -> Conversation | None:
        """The conversation shown; a fresh one is saved first (with `model`); None, said in a toast, if that fails."""
        ...


class ChatState:
    """The conversation shown and the models known, observable; built once by the main screen."""

    def __init__(self, catalog: Catalog, default_model: DefaultModel) -> None:
        self.catalog = catalog
        """The models of every backend (the ModelsController fills it)."""
        self.loaded = asyncio.Event()
        """Set once every backend has been asked for its models."""
        self._default_model = default_model
        self._conversation: Conversation | None = None
        self._conversation_listeners: list[ConversationListener] = []
        self._model_listeners: list[Callable[[], None]] = []

    @property
    def conversation(self) -> Conversation | None:
        """The conversation shown; None for a fresh one, not saved until something is sent."""
        return self._conversation

    @property
    def model(self) -> ModelChoice | None:
        """The model the conversation shown answers with."""
        return self._default_model(self.catalog.models, self._conversation)

    @property
    def model_info(self) -> ModelInfo | None:
        """What the catalog knows of that model (None: not listed, or none)."""
        choice = self.model
        return self.catalog.find(choice.backend, choice.name) if choice else None

    def show(self, conversation: Conversation | None, *, announce: bool = True) -> None:
        """Make `conversation` the one shown (the ConversationsController's call alone). With
        `announce=False` the subscribers hear of it at the next `announce()`, once the chat shows it."""
        self._conversation = conversation
        if announce:
            self.announce()

    def announce(self) -> None:
        """Tell every subscriber, once each, the conversation shown now."""
        for listener in list(self._conversation_listeners):
            listener(self._conversation)

    def on_conversation(self, listener: ConversationListener) -> Callable[[], None]:
        """Call `listener` with the new conversation at each change; returns the unsubscribe."""
        self._conversation_listeners.append(listener)
        return lambda: self._conversation_listeners.remove(listener)

    def models_changed(self) -> None:
        """The catalog changed (the ModelsController's call alone): tell the subscribers."""
        for listener in list(self._model_listeners):
            listener()

    def on_models(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` after each change of the model list; returns the unsubscribe."""
        self._model_listeners.append(listener)
        return lambda: self._model_listeners.remove(listener)
