"""Choosing a conversation's LoRA adapter (l in the models pane): asked, checked, kept in its settings."""

from __future__ import annotations

from collections.abc import Callable

from textual.screen import Screen

from tui.domain import Conversation
from tui.guard.safe_text import one_line
from tui.models.catalog import label
from tui.models.management import ModelManagement
from tui.models.outcome import ManageError
from tui.services import Services
from tui.ui.controllers.state import ChatState
from tui.ui.screens.prompts import InputQuestion
from tui.ui.toast import tell


class LoraChooser:
    """Asks for an adapter file for the embedded model and applies it from the next answer on."""

    def __init__(
        self,
        *,
        screen: Screen,
        services: Services,
        manage: ModelManagement,
        state: ChatState,
        use: Callable[[str, str], None],
        changed: Callable[[Conversation], None],
    ) -> None:
        self.screen = screen
        self.services = services
        self.manage = manage
        self.state = state
        self.use = use
        self.changed = changed

    async def choose(self, backend: str, name: str) -> None:
        try:
            model = self.manage.lora_model(backend, self.state.catalog.find(backend, name))
        except ManageError as refusal:
            tell(self.screen, refusal.message, severity=refusal.severity)
            return
        current = self.state.conversation
        answer = await self.screen.app.push_screen_wait(
            InputQuestion(
                f"LoRA adapter for {one_line(label(model), 40)} in this conversation (a GGUF file; empty: none):",
                value=(current.settings.lora or "") if current else "",
                placeholder="~/adapters/my-lora.gguf",
                hint="Enter: apply    Esc: cancel    A default per model: [engine] lora in the config",
            )
        )
        if answer is None:
            return
        try:
            choice = await self.manage.choose_lora(answer, model)
        except ManageError as error:
            tell(self.screen, error.message, severity=error.severity, timeout=10)
            return
        current = self.state.conversation
        if current is None or (current.backend, current.model) != (backend, name):
            self.use(backend, name)
        conversation = self.state.conversation
        if conversation is None:
            return
        self.changed(self.services.chat.settings.change(conversation, choice.applied_to(conversation.settings)))
        tell(self.screen, choice.done.message)
