"""The main screen's model side: loading the catalog, the pane's rows, switching, favourites, details.

MainScreen derives from this (through ModelManagementScreen); it expects `services`,
`conversation` and `refresh_conversation_list()` from it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import on, work
from textual.binding import Binding
from textual.screen import Screen

from tui.chat_service import ModelChoice
from tui.config import save_config
from tui.domain import Conversation, ModelInfo
from tui.engines.base import EngineError, ModelNotFound
from tui.engines.manage import Details
from tui.model_names import Waiting
from tui.models.catalog import Catalog, context_text, count_text, label, state_text
from tui.models.fit import gb
from tui.models.memory import MemorySnapshot, from_sample, probe_memory
from tui.models.offload import offload_rows
from tui.safe_text import one_line, terminal_safe
from tui.services import Services
from tui.stats.remote import from_model_list
from tui.stats.sample import RemoteStats
from tui.ui.model_details import ModelDetailsScreen
from tui.ui.model_switcher import ModelSwitcher
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.model_pane import ModelGroup, ModelPane, ModelRow
from tui.ui.widgets.stats_pane import StatsPane

EMPTY_HINT = "No models found. Put a .gguf file in the models folder, or h to download one (see README)."


class ModelScreen(Screen):
    """Owns the model catalog and keeps the models pane in step with it."""

    BINDINGS = [
        Binding("ctrl+l", "switch_model", "Switch model", id="models.switch"),
        *(Binding(f"alt+{n}", f"use_favourite({n})", f"Favourite {n}", show=False, priority=True,
                  id=f"models.favourite_{n}") for n in range(1, 10)),
    ]

    services: Services
    conversation: Conversation | None

    @property
    def catalog(self) -> Catalog:
        if not hasattr(self, "_catalog"):
            self._catalog = Catalog.of(self.services.config, self.services.engines)
        return self._catalog

    @property
    def models(self) -> list[ModelInfo]:
        return self.catalog.models

    @models.setter
    def models(self, value: list[ModelInfo]) -> None:
        self.catalog.models = list(value)

    # Loading

    @work(group="models", exclusive=True)
    async def load_models(self) -> None:
        """Ask every backend for its models; each appears as soon as it answers."""
        memory = asyncio.ensure_future(asyncio.to_thread(self.memory_now))
        async for backend, models, problem in self.services.chat.list_models_each():
            self.catalog.set_backend(backend, models, problem)
            self.refresh_models()
        loaded = getattr(self, "models_loaded", None)
        if loaded is not None:
            loaded.set()  # A message sent before the list arrived may go now.
        self.catalog.memory = await memory
        self.refresh_models()

    @work(group="models-after-answer", exclusive=True, exit_on_error=False)
    async def reload_backend(self, backend: str) -> None:
        """Read one backend's models again after an answer: the model it used is loaded now
        (and for a remote Ollama, /api/ps tells the stats pane where and for how long)."""
        _, models, problem = await self.services.chat.list_backend(backend)
        if not problem:  # A failure shows on the answer itself; keep the list as it was.
            self.catalog.set_backend(backend, models, problem)
            self.refresh_models()

    def memory_now(self) -> MemorySnapshot:
        """Free memory from the stats monitor's latest sample, else read now (blocking)."""
        stats = getattr(self.services, "stats", None)
        latest = getattr(stats, "latest", None)
        return from_sample(latest) if latest is not None else probe_memory()

    def refresh_models(self) -> None:
        self.query_one(ModelPane).show_groups(
            [ModelGroup(backend, [self.model_row(m) for m in members], offline)
             for backend, offline, members in self.catalog.groups()],
            empty_hint=EMPTY_HINT,
        )
        self.show_model()

    def model_row(self, model: ModelInfo) -> ModelRow:
        catalog, choice = self.catalog, self.current_model()
        fit = catalog.fit(model)
        facts = [gb(model.size_bytes) if model.size_bytes else "", count_text(model.parameters),
                 model.quantization, context_text(model.context_length)]
        state = state_text(model)
        if model.extra.get("source"):
            state = " · ".join(s for s in (state, str(model.extra["source"])) if s)
        return ModelRow(
            backend=model.backend, name=model.name, label=label(model),
            facts=" · ".join(f for f in facts if f), state=state, fit=fit.verdict if fit else "",
            favourite=catalog.favourite_number(model),
            current=choice is not None and (choice.backend, choice.name) == (model.backend, model.name),
        )

    # The conversation's model

    def current_model(self) -> ModelChoice | None:
        return self.services.chat.default_model(self.models, self.conversation)

    def model_to_answer(self) -> ModelChoice | Waiting | None:
        """The model to answer with now, or Waiting while a backend that could serve it has not
        listed its models; None after saying why no model can answer (the configured one is
        named, never replaced)."""
        pending = tuple(name for name in self.services.engines if name not in self.catalog.listed)
        try:
            chosen = self.services.chat.answer_model(
                self.models, self.conversation, offline=self.catalog.offline, pending=pending)
        except ModelNotFound as error:
            self.notify(terminal_safe(str(error)), severity="error", timeout=15, markup=False)
            return None
        if chosen is None and pending:
            return Waiting("", pending)
        if chosen is None:
            self.notify("No model to answer with: add a GGUF file (see README).", severity="error")
        return chosen

    def show_model(self) -> None:
        choice = self.current_model()
        pane = self.query_one(ModelPane)
        if choice:
            model = self.catalog.find(choice.backend, choice.name)
            name = label(model) if model else label(ModelInfo(choice.name, choice.backend))
            lora = self.conversation.params.get("lora") if self.conversation else None
            engine = self.services.engines.get(choice.backend)
            adapter = f" + LoRA {Path(str(lora)).stem}" if lora and engine and engine.supports_lora else ""
            pane.show_current(f"{name}{adapter} ({choice.backend})")
        elif self.models or self.workers:
            pane.show_current("none chosen")
        self.query_one(StatsPane).show_remote(self.remote_stats(choice))

    def remote_stats(self, choice: ModelChoice | None) -> RemoteStats | None:
        """What the server of a model running elsewhere says, since this machine's figures
        are not that model's; None for a model that runs here."""
        engine = self.services.engines.get(choice.backend) if choice else None
        if choice is None or engine is None or engine.local:
            return None
        return from_model_list(self.models, backend=choice.backend, url=engine.url,
                               offline=self.catalog.offline.get(choice.backend))

    def use_model(self, backend: str, name: str) -> None:
        """Use this model for the current conversation from the next message on; the history stays."""
        choice = ModelChoice(backend, name)
        if self.conversation is None:
            self.conversation = self.services.chat.new_conversation(choice)
            self.refresh_conversation_list()  # type: ignore[attr-defined]
        else:
            self.services.store.set_conversation_model(self.conversation.id, name, backend)
            self.conversation = self.services.store.get_conversation(self.conversation.id)
        self.refresh_models()
        model = self.catalog.find(backend, name)
        self.notify(f"Using {one_line(label(model) if model else name, 60)} ({backend}) for this conversation.")
        self.query_one(Composer).focus()

    @on(ModelPane.Chosen)
    def model_chosen(self, event: ModelPane.Chosen) -> None:
        self.use_model(event.backend, event.name)

    @on(ModelPane.Requested)
    def model_requested(self, event: ModelPane.Requested) -> None:
        handler = getattr(self, f"model_{event.action}", None)
        if handler is None:
            self.notify(f"{event.action} is not available.", severity="warning")
            return
        needs_model = event.action not in ("refresh", "pull", "download", "import", "cancel_transfer")
        if needs_model and event.name is None:
            self.notify("No model is highlighted.", severity="warning")
            return
        handler(event.backend, event.name)

    def model_refresh(self, backend: str | None, name: str | None) -> None:
        self.load_models()

    # Switcher and favourites

    def action_switch_model(self) -> None:
        def search(query: str) -> list[ModelRow]:
            return [self.model_row(model) for model in self.catalog.search(query)]

        def chosen(answer: tuple[str, str] | None) -> None:
            if answer:
                self.use_model(*answer)

        self.app.push_screen(ModelSwitcher(search), chosen)

    def action_use_favourite(self, number: int) -> None:
        found = self.catalog.favourite(number)
        if found is None:
            self.notify(f"No favourite {number}: press f on a model in the models pane (F4).", severity="warning")
            return
        backend, name = found
        if self.catalog.find(backend, name) is None:
            reason = self.catalog.offline.get(backend)
            why = f"{backend} is offline ({reason})" if reason else "it is not in the list now"
            self.notify(f"Favourite {number} ({one_line(name, 40)}) is not available: {why}.", severity="warning")
            return
        self.use_model(backend, name)

    def model_favourite(self, backend: str, name: str) -> None:
        model = self.catalog.find(backend, name)
        if model is None:
            return
        try:
            number = self.catalog.toggle_favourite(model)
        except ValueError as error:
            self.notify(str(error), severity="warning")
            return
        try:
            save_config(self.services.config, self.services.paths.config_file)
        except OSError as error:
            self.notify(f"Could not save the favourites: {error}", severity="error")
        self.refresh_models()
        self.notify(f"Favourite {number}: alt+{number} uses it from anywhere." if number else "Removed from favourites.")

    # Details

    @work(group="model-details", exclusive=True)
    async def model_details(self, backend: str, name: str) -> None:
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
        self.app.push_screen(ModelDetailsScreen(f"{label(model)} ({backend})", self.summary_rows(model) + rows))

    def summary_rows(self, model: ModelInfo) -> Details:
        """What the catalog knows: size, state, where it comes from, the fit and its figures."""
        fit = self.catalog.fit(model)
        rows: Details = [("Size on disk", gb(model.size_bytes) if model.size_bytes else "")]
        rows.append(("State", state_text(model)))
        if model.extra.get("source"):
            rows.append(("Found in", f"{model.extra['source']} (read-only, not copied): {model.path}"))
        if model.extra.get("error"):
            rows.append(("Problem", str(model.extra["error"])))
        if fit:
            rows.append(("Fit", f"{fit.verdict}: {fit.explain()}"))
        else:
            rows.append(("Fit", "unknown (size or free memory not known for this backend)"))
        if model.backend == "embedded":
            engine = self.services.config.engine
            rows += offload_rows(model, engine.kv_cache_type, engine.flash_attention, engine.gpu_layers)
        return [(key, value) for key, value in rows if value]
