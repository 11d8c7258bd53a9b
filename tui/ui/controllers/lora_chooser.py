"""Choosing a conversation's LoRA adapter (l in the models pane): asked, checked, kept in its params."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual.screen import Screen

from tui.engines.base import EngineError
from tui.engines.lora import read_lora
from tui.models.catalog import label
from tui.safe_text import one_line
from tui.services import Services
from tui.ui.controllers.conversations import ConversationsController
from tui.ui.controllers.models_controller import ModelsController
from tui.ui.screens.prompts import InputQuestion
from tui.ui.toast import tell


class LoraChooser:
    """Asks for an adapter file for the embedded model and applies it from the next answer on."""

    def __init__(
        self, *, screen: Screen, services: Services, models: ModelsController, conversations: ConversationsController
    ) -> None:
        self.screen = screen
        self.services = services
        self.models = models
        self.conversations = conversations

    async def choose(self, backend: str, name: str) -> None:
        model, engine = self.models.catalog.find(backend, name), self.services.engines.get(backend)
        if engine is None or not engine.supports_lora or model is None:
            tell(self.screen, "LoRA adapters apply to the embedded engine's GGUF models.", severity="warning")
            return
        current = self.conversations.current
        answer = await self.screen.app.push_screen_wait(
            InputQuestion(
                f"LoRA adapter for {one_line(label(model), 40)} in this conversation (a GGUF file; empty: none):",
                value=str(current.params.get("lora", "")) if current else "",
                placeholder="~/adapters/my-lora.gguf",
                hint="Enter: apply    Esc: cancel    A default per model: [engine] lora in the config",
            )
        )
        if answer is None:
            return
        path = ""
        if answer:
            try:
                path = (await asyncio.to_thread(read_lora, answer, for_architecture=model.architecture)).path
            except EngineError as error:
                tell(self.screen, f"Cannot use that adapter: {error}", severity="error", timeout=10)
                return
        current = self.conversations.current
        if current is None or (current.backend, current.model) != (backend, name):
            self.models.use(backend, name)
        conversation = self.conversations.current
        if conversation is None:
            return
        params = {k: v for k, v in conversation.params.items() if k != "lora"} | ({"lora": path} if path else {})
        self.services.store.set_conversation_settings(
            conversation.id, system_prompt=conversation.system_prompt, params=params
        )
        self.conversations.reread()
        tell(
            self.screen, f"LoRA {Path(path).name} applies from the next answer on." if path else "LoRA adapter removed."
        )
