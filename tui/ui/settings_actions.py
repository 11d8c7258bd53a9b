"""The main screen's conversation settings: system prompt, parameters, presets, and the
context line in the chat header (tokens used against the model's context)."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.binding import Binding
from textual.screen import Screen

from tui.chat_service import AnswerEnded, ContextInfo
from tui.context_window import fit
from tui.domain import Conversation, Role
from tui.engines.base import EngineError
from tui.presets import PRESET_KEY, preset_params
from tui.safe_text import one_line
from tui.store import StoreError
from tui.ui.preset_screen import PresetScreen
from tui.ui.settings_screen import SettingsScreen
from tui.ui.widgets.chat_view import ChatView


class SettingsActions(Screen):
    """Mixed into the main screen (which provides `services`, `conversation`, `models`,
    `current_model`, `show_title` and `show_model`)."""

    BINDINGS = [
        Binding("f8", "edit_settings", "Chat settings", show=False, id="chat.settings"),
        Binding("f9", "pick_preset", "Presets", show=False, id="chat.presets"),
    ]

    context_note: str = ""
    """The header's token figure for the conversation shown, e.g. "1,234 / 4,096 tokens"."""

    def title_line(self, title: str) -> Text:
        """The chat header: the title, the preset in use, the tokens against the context."""
        line = Text(one_line(title, 80))
        preset = self.conversation.params.get(PRESET_KEY) if self.conversation else None
        if preset:
            line.append(f" · {one_line(str(preset), 24)}", style="dim")
        if self.context_note:
            line.append(f" · {self.context_note}", style="dim")
        tools = self.tools.header_note(self.conversation)
        if tools:
            line.append(f" · {tools}", style="dim")
        return line

    # Tokens against the context

    def _limit(self) -> int | None:
        return self.services.chat.context_limit(self.conversation, self.current_model())

    def context_shown(self, info: ContextInfo | None) -> None:
        """An answer started: show the prompt's size, and say if old messages were left out."""
        if info is None:
            return
        self.context_note = _figure(info.tokens, info.limit, estimated=True)
        if info.dropped:
            self.context_note += f" · {info.dropped} oldest left out"
            self.notify(
                f"The conversation is longer than the model's {info.limit:,}-token context: its "
                f"{info.dropped} oldest message(s) were left out of what the model saw "
                "(the system prompt was kept).", severity="warning", timeout=8,
            )
        self.show_title()

    def answer_context(self, ended: AnswerEnded) -> None:
        """An answer ended: the engine's own count replaces the estimate."""
        stats = ended.stats
        if stats is None:
            return
        dropped = self.context_note.partition(" · ")[2] if "left out" in self.context_note else ""
        self.context_note = _figure(stats.prompt_tokens + stats.completion_tokens, self._limit(), estimated=False)
        self.context_note += f" · {dropped}" if dropped else ""
        self.show_title()

    @on(ChatView.Shown)
    def context_on_open(self, event: ChatView.Shown) -> None:
        if not event.replaced:
            return
        views = event.chat_view.message_views
        answers = [v.message for v in views if v.message.role is Role.ASSISTANT and v.message.prompt_tokens]
        if answers:
            last = answers[-1]
            self.context_note = _figure(last.prompt_tokens + (last.completion_tokens or 0), self._limit(), estimated=False)
        elif views and not event.chat_view.has_older and self.conversation is not None:
            fitted = fit(self.conversation.system_prompt, [v.message for v in views], limit=None, reserve=0)
            self.context_note = _figure(fitted.tokens, self._limit(), estimated=True)
        else:
            self.context_note = ""
        self.show_title()

    # Settings and presets

    def _ensure_conversation(self) -> Conversation | None:
        """The conversation shown; a fresh one is saved first so it can hold settings."""
        if self.conversation is None:
            try:
                self.conversation = self.services.chat.new_conversation(self.current_model())
            except StoreError as error:
                self.notify(str(error), severity="error")
                return None
            self.refresh_conversation_list()
        return self.conversation

    def action_edit_settings(self) -> None:
        self.edit_settings()

    @work(group="dialogs")
    async def edit_settings(self) -> None:
        conversation = self._ensure_conversation()
        if conversation is None:
            return
        chat = self.services.chat
        defaults = {"temperature": chat.defaults.temperature, "top_p": chat.defaults.top_p,
                    "max_tokens": chat.defaults.max_tokens, "context_length": self._limit(), "seed": None}
        settings = await self.app.push_screen_wait(
            SettingsScreen(conversation.system_prompt, conversation.params, defaults)
        )
        if settings is None:
            return
        try:
            self.services.store.set_conversation_settings(
                conversation.id, system_prompt=settings.system_prompt, params=settings.params
            )
        except StoreError as error:
            self.notify(str(error), severity="error")
            return
        self.conversation = self.services.store.get_conversation(conversation.id)
        self.show_title()
        self.notify("Settings saved for this conversation.")

    def action_pick_preset(self) -> None:
        if not self.services.config.presets:
            self.notify("No presets yet: add [presets.NAME] tables to config.toml (see README).", severity="warning")
            return
        self.pick_preset()

    @work(group="dialogs")
    async def pick_preset(self) -> None:
        current = str(self.conversation.params.get(PRESET_KEY, "")) if self.conversation else ""
        name = await self.app.push_screen_wait(PresetScreen(self.services.config.presets, current))
        if name is not None:
            self.apply_preset(name)

    def apply_preset(self, name: str) -> None:
        """Give the conversation the preset's system prompt and parameters (and model, if it names one)."""
        preset = self.services.config.presets[name]
        conversation = self._ensure_conversation()
        if conversation is None:
            return
        store = self.services.store
        try:
            store.set_conversation_settings(
                conversation.id, system_prompt=preset.system_prompt, params=preset_params(name, preset)
            )
            if preset.model:
                try:
                    choice = self.services.chat.find_model(list(getattr(self, "models", [])), preset.model)
                except EngineError as error:
                    self.notify(f"Preset “{name}”: {error}; the model was left as it was.", severity="warning")
                else:
                    store.set_conversation_model(conversation.id, choice.name, choice.backend)
        except StoreError as error:
            self.notify(str(error), severity="error")
            return
        self.conversation = store.get_conversation(conversation.id)
        self.show_title()
        self.show_model()
        self.notify(f"Preset “{one_line(name, 30)}” in use for this conversation.")


def _figure(tokens: int, limit: int | None, *, estimated: bool) -> str:
    approx = "~" if estimated else ""
    return f"{approx}{tokens:,} / {limit:,} tokens" if limit else f"{approx}{tokens:,} tokens"
