"""The settings controller: the conversation's system prompt, parameters and presets, and the chat
header that shows them (title, preset, tokens used against the model's context).

It reads the conversation shown and its model from `ChatState` and redraws the header when either
changes; it never writes the conversation: it saves the settings, then hands the conversations
controller's `show_changed` the conversation the settings service returns (`ensure` makes a fresh conversation real first)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from rich.text import Text
from textual.screen import Screen
from textual.widgets import Static

from tui.chat.context_window import fit
from tui.chat.events import ContextInfo
from tui.chat.presets import STOP_KEY, dialog_settings, form_params, preset_settings
from tui.chat.thinking import next_think, think_choices, think_label
from tui.domain import Conversation, Role
from tui.engines.base import EngineError
from tui.guard.safe_text import one_line
from tui.models.names import ModelChoice
from tui.services import Services
from tui.store import StoreError
from tui.ui.controllers.state import ChatState
from tui.ui.screens.preset_screen import PresetScreen
from tui.ui.screens.settings_screen import SettingsScreen
from tui.ui.toast import tell
from tui.ui.widgets.chat_view import ChatView

DIALOGS = "dialogs"


class SettingsController:
    """Owns the header line and the token figure in it; edits a conversation's settings."""

    def __init__(
        self,
        *,
        screen: Screen,
        services: Services,
        state: ChatState,
        header: Static,
        ensure: Callable[[ModelChoice | None], Conversation | None],
        changed: Callable[[Conversation], None],
        tools_note: Callable[[Conversation | None], str],
    ) -> None:
        """`ensure(model)` gives the conversation shown, saving a fresh one first; `changed(conversation)` shows it
        as the settings service returned it; `tools_note(conversation)` is the header's word on its tools."""
        self.screen = screen
        self.services = services
        self.state = state
        self.header = header
        self.ensure = ensure
        self.changed = changed
        self.tools_note = tools_note
        self.context: tuple[int, bool] | None = None
        """Tokens of the conversation shown and whether that is an estimate (None: not known)."""
        self.dropped = 0
        """Oldest messages the last prompt left out."""
        state.on_conversation(lambda _: self.show_title())
        state.on_models(self.show_title)  # The limit is known once the models are.

    @property
    def context_note(self) -> str:
        """The header's token figure, e.g. "1,234 / 4,096 tokens", against the limit known now."""
        if self.context is None:
            return ""
        tokens, estimated = self.context
        note = _figure(tokens, self._limit(), estimated=estimated)
        return note + (f" · {self.dropped} oldest left out" if self.dropped else "")

    # The header

    def show_title(self) -> None:
        """The chat header: the title, the preset in use, the tokens against the context."""
        conversation = self.state.conversation
        line = Text(one_line(conversation.title if conversation and conversation.title else "New conversation", 80))
        preset = conversation.settings.preset if conversation else None
        if preset:
            line.append(f" · {one_line(str(preset), 24)}", style="dim")
        if self.context_note:
            line.append(f" · {self.context_note}", style="dim")
        think = self.think_setting()
        model = self.state.model_info
        if think or (think is not None and model is not None and model.extra.get("thinking")):
            line.append(f" · {think_label(think)}", style="dim")  # Said where it can matter.
        tools = self.tools_note(conversation)
        if tools:
            line.append(f" · {tools}", style="dim")
        self.header.update(_fitted(line, self.header.size.width or self.screen.app.size.width - 4))

    def think_setting(self) -> str | None:
        """The conversation's thinking setting, or None for a model known not to think."""
        if len(think_choices(self.state.model_info)) < 2:
            return None
        conversation = self.state.conversation
        default = self.services.config.chat.think
        if conversation is None or conversation.settings.think is None:
            return default
        return conversation.settings.think

    def cycle_think(self) -> None:
        """The next thinking setting the model offers (default, off, on or its levels)."""
        setting = self.think_setting()
        if setting is None:
            tell(self.screen, "This model does not think; there is nothing to switch.", severity="warning")
            return
        conversation = self.ensure(self.state.model)
        if conversation is None:
            return
        chosen = next_think(setting, self.state.model_info)
        self.changed(
            self.services.chat.settings.change(conversation, replace(conversation.settings, think=chosen or None))
        )
        tell(self.screen, f"Thinking for this conversation: {chosen or 'the model’s default'}.")

    def _limit(self) -> int | None:
        return self.services.chat.models.context_limit(self.state.conversation, self.state.model)

    def context_shown(self, info: ContextInfo | None) -> None:
        """An answer started: show the prompt's size, and say if old messages were left out."""
        if info is None:
            return
        self.context, self.dropped = (info.tokens, True), info.dropped
        if info.dropped:
            tell(
                self.screen,
                f"The conversation is longer than the model's {info.limit:,}-token context: its "
                f"{info.dropped} oldest message(s) were left out of what the model saw "
                "(the system prompt was kept).",
                severity="warning",
                timeout=8,
            )
        self.show_title()

    def answer_context(self, chat_view: ChatView) -> None:
        """An answer on screen ended: the figure reopening the conversation would show (from the
        stored counts of its last answer), so the header never changes on reopening."""
        dropped = self.dropped
        self.context_on_open(chat_view)
        if dropped:
            self.dropped = dropped
            self.show_title()

    def context_on_open(self, chat_view: ChatView) -> None:
        """A conversation was shown anew: the figure from its last answer, else an estimate."""
        views = chat_view.message_views
        answers = [v.message for v in views if v.message.role is Role.ASSISTANT and v.message.prompt_tokens]
        conversation = self.state.conversation
        self.dropped = 0
        if answers:
            self.context = ((answers[-1].prompt_tokens or 0) + (answers[-1].completion_tokens or 0), False)
        elif views and not chat_view.has_older and conversation is not None:
            fitted = fit(conversation.system_prompt, [v.message for v in views], limit=None, reserve=0)
            self.context = (fitted.tokens, True)
        else:
            self.context = None
        self.show_title()

    # Settings (F8) and presets (F9)

    def edit(self) -> None:
        self.screen.run_worker(self._edit(), group=DIALOGS)

    async def _edit(self) -> None:
        conversation = self.ensure(self.state.model)
        if conversation is None:
            return
        chat = self.services.chat
        defaults = {
            "temperature": chat.defaults.temperature,
            "top_p": chat.defaults.top_p,
            "max_tokens": chat.defaults.max_tokens,
            "context_length": self._limit(),
            "seed": None,
            STOP_KEY: chat.defaults.stop,
        }
        settings = await self.screen.app.push_screen_wait(
            SettingsScreen(
                conversation.system_prompt,
                form_params(conversation.settings),
                defaults,
                think_choices=think_choices(self.state.model_info),
            )
        )
        if settings is None:
            return
        try:
            changed = self.services.chat.settings.change(
                conversation,
                dialog_settings(settings.params, conversation.settings),
                system_prompt=settings.system_prompt,
            )
        except StoreError as error:
            tell(self.screen, str(error), severity="error")
            return
        self.changed(changed)
        tell(self.screen, "Settings saved for this conversation.")

    def pick_preset(self) -> None:
        if not self.services.config.presets:
            tell(
                self.screen,
                "No presets yet: add [presets.NAME] tables to config.toml (see README).",
                severity="warning",
            )
            return
        self.screen.run_worker(self._pick_preset(), group=DIALOGS)

    async def _pick_preset(self) -> None:
        conversation = self.state.conversation
        current = (conversation.settings.preset or "") if conversation else ""
        name = await self.screen.app.push_screen_wait(PresetScreen(self.services.config.presets, current))
        if name is not None:
            self.apply_preset(name)

    def apply_preset(self, name: str) -> None:
        """Give the conversation the preset's system prompt and parameters (and model, if it names one)."""
        preset = self.services.config.presets[name]
        conversation = self.ensure(self.state.model)
        if conversation is None:
            return
        choice: ModelChoice | None = None
        if preset.model:
            try:
                choice = self.services.chat.models.find_model(self.state.catalog.models, preset.model)
            except EngineError as error:
                tell(self.screen, f"Preset “{name}”: {error}; the model was left as it was.", severity="warning")
        try:
            changed = self.services.chat.settings.change(
                conversation,
                preset_settings(name, preset, keep=conversation.settings),
                system_prompt=preset.system_prompt,
                model=choice,
            )
        except StoreError as error:
            tell(self.screen, str(error), severity="error")
            return
        self.changed(changed)
        tell(self.screen, f"Preset “{one_line(name, 30)}” in use for this conversation.")


def _fitted(line: Text, width: int) -> Text:
    """The header in `width` columns: the title gives way first (cut with …), so the figures after
    it stay whole; CSS ellipsis covers a later narrowing of the terminal."""
    over = line.cell_len - width
    title_end = len(line.plain.split(" · ")[0])
    if over <= 0 or width <= 0:
        return line
    keep = max(8, title_end - over - 1)
    if keep >= title_end:
        return line
    return Text(line.plain[:keep] + "…", style="") + line[title_end:]


def _figure(tokens: int, limit: int | None, *, estimated: bool) -> str:
    approx = "~" if estimated else ""
    return f"{approx}{tokens:,} / {limit:,} tokens" if limit else f"{approx}{tokens:,} tokens"
