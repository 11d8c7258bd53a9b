"""The models controller: the catalog of every backend's models, the models pane's rows, the
conversation's model, switching, favourites and details.

It alone fills `ChatState.catalog` (and sets `loaded`), announcing each change with
`models_changed`; it reads the conversation shown from the state and follows its changes. To give
the conversation a model it is handed the conversations controller's `ensure` and `show_changed`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from textual.screen import Screen

from tui.config.write import save_config
from tui.domain import Conversation, ModelInfo
from tui.engines.base import EngineError, ModelNotFound
from tui.engines.manage import Details
from tui.fit.memory import MemorySnapshot, from_sample, probe_memory
from tui.guard.safe_text import one_line
from tui.models.catalog import Catalog, label
from tui.models.names import ModelChoice, Waiting
from tui.services import Services
from tui.stats.remote import from_model_list
from tui.stats.sample import RemoteStats
from tui.ui.controllers.model_rows import model_row, summary_rows
from tui.ui.controllers.state import ChatState
from tui.ui.screens.model_details import ModelDetailsScreen
from tui.ui.screens.model_switcher import ModelSwitcher
from tui.ui.toast import tell
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.model_pane import ModelGroup, ModelPane, ModelRow
from tui.ui.widgets.stats_pane import StatsPane

EMPTY_HINT = "No models found. Put a .gguf file in the models folder, or h to download one (see README)."
MODELS = "models"
"""The worker group that asks every backend for its models."""


class ModelsController:
    """Owns the model catalog and keeps the models pane (and the stats pane's server note) in step."""

    def __init__(
        self,
        *,
        screen: Screen,
        services: Services,
        state: ChatState,
        pane: ModelPane,
        stats_pane: StatsPane,
        composer: Composer,
        chat: ChatView,
        ensure: Callable[[ModelChoice | None], Conversation | None],
        changed: Callable[[Conversation], None],
    ) -> None:
        """`ensure(model)` gives the conversation shown, saving a fresh one first; `changed(conversation)`
        shows it as the settings service returned it once its model is changed."""
        self.screen = screen
        self.services = services
        self.state = state
        self.pane = pane
        self.stats_pane = stats_pane
        self.composer = composer
        self.chat = chat
        self.ensure = ensure
        self.changed = changed
        self.switcher: ModelSwitcher | None = None
        """The model switcher while it is open: it searches again whenever the list changes."""

        state.on_conversation(lambda _: self.show_current())

    @property
    def catalog(self) -> Catalog:
        """The models known (the state's; this controller alone fills it)."""
        return self.state.catalog

    @property
    def loaded(self) -> asyncio.Event:
        """Set once every backend has been asked for its models."""
        return self.state.loaded

    @property
    def models(self) -> list[ModelInfo]:
        return self.catalog.models

    # Loading

    def load(self) -> None:
        """Ask every backend for its models; each appears as soon as it answers."""
        self.screen.run_worker(self._load(), group=MODELS, exclusive=True)

    async def _load(self) -> None:
        memory = asyncio.ensure_future(asyncio.to_thread(self.memory_now))
        async for backend, models, problem in self.services.chat.models.list_models_each():
            self.catalog.set_backend(backend, models, problem)
            self.refresh()
        self.loaded.set()  # A message sent before the list arrived may go now.
        self.catalog.memory = await memory
        self.refresh()

    def reload_backend(self, backend: str) -> None:
        """Read one backend's models again after an answer: the model it used is loaded now
        (and for a remote Ollama, /api/ps tells the stats pane where and for how long)."""
        self.screen.run_worker(
            self._reload_backend(backend), group="models-after-answer", exclusive=True, exit_on_error=False
        )

    async def _reload_backend(self, backend: str) -> None:
        _, models, problem = await self.services.chat.models.list_backend(backend)
        if not problem:  # A failure shows on the answer itself; keep the list as it was.
            self.catalog.set_backend(backend, models, problem)
            self.refresh()

    def memory_now(self) -> MemorySnapshot:
        """Free memory from the stats monitor's latest sample, else read now (blocking)."""
        stats = self.services.stats
        latest = stats.latest if stats is not None else None
        return from_sample(latest) if latest is not None else probe_memory()

    def refresh(self) -> None:
        """Show the catalog in the pane again."""
        self.pane.show_groups(
            [
                ModelGroup(backend, [self.row(m) for m in members], offline)
                for backend, offline, members in self.catalog.groups()
            ],
            empty_hint=EMPTY_HINT,
        )
        self.show_current()
        backends: dict[str, set[str]] = {}
        for model in self.models:
            backends.setdefault(model.name, set()).add(model.backend)
        self.chat.show_backends_for(frozenset(n for n, served in backends.items() if len(served) > 1))
        if self.switcher is not None:
            self.switcher.models_changed()
        self.state.models_changed()

    def row(self, model: ModelInfo) -> ModelRow:
        return model_row(self.catalog, model, self.current())

    # The conversation's model

    def current(self) -> ModelChoice | None:
        """The model the conversation shown answers with."""
        return self.state.model

    def model_to_answer(self) -> ModelChoice | Waiting | None:
        """The model to answer with now, or Waiting while a backend that could serve it has not
        listed its models; None after saying why no model can answer (the configured one is
        named, never replaced)."""
        pending = tuple(name for name in self.services.engines if name not in self.catalog.listed)
        try:
            chosen = self.services.chat.models.answer_model(
                self.models, self.state.conversation, offline=self.catalog.offline, pending=pending
            )
        except ModelNotFound as error:
            tell(self.screen, str(error), severity="error", timeout=15)
            return None
        if chosen is None and pending:
            return Waiting("", pending)
        if chosen is None:
            tell(self.screen, "No model to answer with: add a GGUF file (see README).", severity="error")
        return chosen

    def show_current(self) -> None:
        choice = self.current()
        conversation = self.state.conversation
        if choice:
            model = self.catalog.find(choice.backend, choice.name)
            name = label(model) if model else label(ModelInfo(choice.name, choice.backend))
            lora = conversation.settings.lora if conversation else None
            engine = self.services.engines.get(choice.backend)
            adapter = f" + LoRA {Path(str(lora)).stem}" if lora and engine and engine.supports_lora else ""
            self.pane.show_current(f"{name}{adapter}", choice.backend)
        elif self.models or not self.loaded.is_set():
            self.pane.show_current("none chosen")
        self.stats_pane.show_remote(self.remote_stats(choice))

    def remote_stats(self, choice: ModelChoice | None) -> RemoteStats | None:
        """What the server of a model running elsewhere says, since this machine's figures
        are not that model's; None for a model that runs here."""
        engine = self.services.engines.get(choice.backend) if choice else None
        if choice is None or engine is None or engine.local:
            return None
        return from_model_list(
            self.models,
            backend=choice.backend,
            url=engine.url,
            offline=self.catalog.offline.get(choice.backend),
            reports_loaded=engine.reports_loaded,
        )

    def use(self, backend: str, name: str) -> None:
        """Use this model for the conversation from the next message on; the history stays."""
        conversation = self.ensure(ModelChoice(backend, name))
        if conversation is None:
            return
        if (conversation.backend, conversation.model) != (backend, name):
            self.changed(self.services.chat.settings.change(conversation, model=ModelChoice(backend, name)))
        self.refresh()
        model = self.catalog.find(backend, name)
        tell(self.screen, f"Using {one_line(label(model) if model else name, 60)} ({backend}) for this conversation.")
        self.composer.focus()

    # Switcher and favourites

    def switch(self) -> None:
        """Pick a model by a few letters of its name (ctrl+l)."""

        def search(query: str) -> list[ModelRow]:
            return [self.row(model) for model in self.catalog.search(query)]

        def chosen(answer: tuple[str, str] | None) -> None:
            self.switcher = None
            if answer:
                self.use(*answer)

        self.switcher = ModelSwitcher(search)
        self.screen.app.push_screen(self.switcher, chosen)

    def use_favourite(self, number: int) -> None:
        found = self.catalog.favourite(number)
        if found is None:
            tell(self.screen, f"No favourite {number}: press f on a model in the models pane (F4).", severity="warning")
            return
        backend, name = found
        if self.catalog.find(backend, name) is None:
            reason = self.catalog.offline.get(backend)
            why = f"{backend} is offline ({reason})" if reason else "it is not in the list now"
            tell(self.screen, f"Favourite {number} ({one_line(name, 40)}) is not available: {why}.", severity="warning")
            return
        self.use(backend, name)

    def toggle_favourite(self, backend: str, name: str) -> None:
        model = self.catalog.find(backend, name)
        if model is None:
            return
        try:
            number = self.catalog.toggle_favourite(model)
        except ValueError as error:
            tell(self.screen, str(error), severity="warning")
            return
        try:
            save_config(self.services.config, self.services.paths.config_file)
        except OSError as error:
            tell(self.screen, f"Could not save the favourites: {error}", severity="error")
        self.refresh()
        tell(
            self.screen,
            f"Favourite {number}: alt+{number} uses it from anywhere." if number else "Removed from favourites.",
        )

    # Details

    def details(self, backend: str, name: str) -> None:
        self.screen.run_worker(self._details(backend, name), group="model-details", exclusive=True)

    async def _details(self, backend: str, name: str) -> None:
        model = self.catalog.find(backend, name)
        if model is None:
            return
        engine = self.services.engines.get(backend)
        rows: Details = []
        try:
            if engine is not None and engine.can_describe:
                rows = await engine.details(name)
        except EngineError as error:
            rows = [("Problem", str(error))]
        self.screen.app.push_screen(ModelDetailsScreen(f"{label(model)} ({backend})", self.summary_rows(model) + rows))

    def summary_rows(self, model: ModelInfo) -> Details:
        """What the catalog knows: size, state, where it comes from, the fit and its figures."""
        return summary_rows(self.catalog, model, self.services.engines.get(model.backend))
