"""The model manager: the models pane's side of managing models (tui.models.management does the
work). It asks in dialogs, runs the one transfer that may run at a time as a progress bar, shows
outcomes as toasts and reloads the pane."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing

from textual.screen import Screen
from textual.worker import Worker

from tui.domain import Conversation
from tui.engines.manage import Progress
from tui.fit.memory import MemorySnapshot
from tui.models.management import ModelManagement
from tui.models.outcome import Done, Failed, ManageError, Transfer
from tui.services import Services
from tui.ui.controllers.lora_chooser import LoraChooser
from tui.ui.controllers.state import ChatState
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.prompts import ChoiceQuestion, InputQuestion
from tui.ui.toast import tell
from tui.ui.widgets.model_pane import ModelPane

TRANSFER = "transfer"
"""The worker group of the one transfer (pull, download, import) that may run at a time."""
DIALOGS = "dialogs"
ONE_AT_A_TIME = "A download is running: wait for it, or x in the models pane cancels it."


class ModelManager:
    """Asks for and shows model management; owns the transfer in progress (at most one)."""

    def __init__(
        self,
        *,
        screen: Screen,
        services: Services,
        state: ChatState,
        pane: ModelPane,
        reload_models: Callable[[], None],
        details: Callable[[str, str], None],
        toggle_favourite: Callable[[str, str], None],
        memory_now: Callable[[], MemorySnapshot],
        use: Callable[[str, str], None],
        changed: Callable[[Conversation], None],
    ) -> None:
        """The models controller's actions come as single callables: `reload_models` asks every
        backend again, `use` makes a model the conversation's, `changed` shows the conversation a settings change returned."""
        self.screen = screen
        self.services = services
        self.state = state
        self.pane = pane
        self.reload_models = reload_models
        self.memory_now = memory_now
        self.use = use
        self.changed = changed
        self._details = details
        self._toggle_favourite = toggle_favourite
        self.manage = ModelManagement(services.engines, config=services.config, paths=services.paths)
        self._transfer: Worker[None] | None = None

    def _said(self, outcome: Done | ManageError) -> None:
        """Show an outcome as a toast: done, refused (a warning) or failed (an error)."""
        if isinstance(outcome, Done):
            tell(self.screen, outcome.message)
        else:
            tell(self.screen, outcome.message, severity=outcome.severity, timeout=10 if outcome.lasting else None)

    # Transfers

    @property
    def transferring(self) -> bool:
        """Whether a pull, download or import is running."""
        return self._transfer is not None and not self._transfer.is_finished

    def _refused(self) -> bool:
        """Say so and return True when a transfer is already running."""
        if self.transferring:
            tell(self.screen, ONE_AT_A_TIME, severity="warning")
        return self.transferring

    def start_transfer(self, title: str, steps: AsyncIterator[Progress], done: str) -> bool:
        """Run `steps` with a progress bar, unless another transfer runs (then say so: False)."""
        return self.run_transfer(Transfer(title, steps, done))

    def run_transfer(self, transfer: Transfer) -> bool:
        """Run `transfer` with a progress bar, unless another transfer runs (then say so: False)."""
        if self._refused():
            return False
        self._transfer = self.screen.run_worker(self._run_transfer(transfer), group=TRANSFER, exit_on_error=False)
        return True

    async def _run_transfer(self, transfer: Transfer) -> None:
        self.pane.show_transfer(transfer.title, None, None, "starting…")
        try:
            async with aclosing(transfer.progress()) as steps:
                async for step in steps:
                    self.pane.show_transfer(transfer.title, step.completed, step.total, step.detail)
        except Failed as error:
            tell(self.screen, error.message, severity="error", timeout=15)
            return
        except asyncio.CancelledError:
            tell(self.screen, transfer.cancelled, severity="warning")
            raise
        finally:
            self.pane.hide_transfer()
        self._said(transfer.done)
        self.reload_models()

    def cancel_transfer(self) -> None:
        if self._transfer is None or self._transfer.is_finished:
            tell(self.screen, "No download is running.")
            return
        self._transfer.cancel()

    def request(self, action: str, backend: str | None, name: str | None) -> None:
        """What the models pane asked for: a model-free request, or one on the highlighted model."""
        free: dict[str, Callable[[], None]] = {
            "refresh": self.reload_models,
            "pull": lambda: self.pull(backend),
            "download": self.download,
            "import": self.import_file,
            "cancel_transfer": self.cancel_transfer,
        }
        if action in free:
            free[action]()
            return
        on_model: dict[str, Callable[[str, str], None]] = {
            "details": self._details,
            "favourite": self._toggle_favourite,
            "delete": self.delete,
            "unload": self.unload,
            "lora": self.lora,
        }
        if action not in on_model:
            tell(self.screen, f"{action} is not available.", severity="warning")
        elif backend is None or name is None:
            tell(self.screen, "No model is highlighted.", severity="warning")
        else:
            on_model[action](backend, name)

    # Ollama

    def pull(self, backend: str | None) -> None:
        try:
            target = self.manage.pull_target(backend)
        except ManageError as refusal:
            self._said(refusal)
            return
        if self._refused():
            return

        def answered(model: str | None) -> None:
            if not model:
                return
            try:
                transfer = self.manage.pull(
                    model,
                    target,
                    memory=self.state.catalog.memory,
                    go_on=lambda question: self.screen.app.push_screen_wait(ConfirmScreen(question)),
                )
            except ManageError as error:
                self._said(error)
                return
            self.run_transfer(transfer)

        self.screen.app.push_screen(
            InputQuestion(f"Pull which model into {target}?", placeholder="e.g. llama3.2:3b, qwen2.5:7b-instruct"),
            answered,
        )

    def delete(self, backend: str, name: str) -> None:
        self.screen.run_worker(self._delete(backend, name), group=DIALOGS)

    async def _delete(self, backend: str, name: str) -> None:
        try:
            plan = self.manage.plan_delete(backend, name, self.state.catalog.find(backend, name))
            if not await self.screen.app.push_screen_wait(ConfirmScreen(plan.question)):
                return
            self._said(await self.manage.delete(plan))
        except ManageError as error:
            self._said(error)
            return
        self.reload_models()

    def unload(self, backend: str, name: str) -> None:
        self.screen.run_worker(self._unload(backend, name), group="unload")

    async def _unload(self, backend: str, name: str) -> None:
        try:
            self._said(await self.manage.unload(backend, name))
        except ManageError as error:
            self._said(error)
            return
        self.reload_models()

    # Hugging Face and the models folder

    def download(self) -> None:
        if not self._refused():
            self.screen.run_worker(self._download(), group=DIALOGS)

    async def _download(self) -> None:
        spec = await self.screen.app.push_screen_wait(
            InputQuestion(
                "Download a GGUF model from Hugging Face into the models folder:",
                placeholder="owner/repo, owner/repo:Q4_K_M or owner/repo/file.gguf",
            )
        )
        if not spec:
            return
        try:
            offer = await self.manage.offer_download(spec, self.memory_now)
        except ManageError as error:
            self._said(error)
            return
        if offer.note:
            tell(self.screen, offer.note, severity="warning")
        choice = offer.chosen
        if choice is None:
            key = await self.screen.app.push_screen_wait(ChoiceQuestion(offer.question, offer.options()))
            if key is None:
                return
            choice = offer.choice(key)
        too_big = offer.too_big(choice)
        if too_big and not await self.screen.app.push_screen_wait(ConfirmScreen(too_big)):
            return
        self.run_transfer(self.manage.download(offer.repo, choice))

    def import_file(self) -> None:
        if not self._refused():
            self.screen.run_worker(self._import_file(), group=DIALOGS)

    async def _import_file(self) -> None:
        source = await self.screen.app.push_screen_wait(
            InputQuestion(
                "Import a GGUF file (it is copied into the models folder):", placeholder="~/Downloads/model.gguf"
            )
        )
        if not source:
            return
        try:
            transfer = await self.manage.import_file(source)
        except ManageError as error:
            self._said(error)
            return
        self.run_transfer(transfer)

    # LoRA

    def lora(self, backend: str, name: str) -> None:
        """Attach a GGUF LoRA adapter to this conversation's embedded model (or detach it)."""
        chooser = LoraChooser(
            screen=self.screen,
            services=self.services,
            manage=self.manage,
            state=self.state,
            use=self.use,
            changed=self.changed,
        )
        self.screen.run_worker(chooser.choose(backend, name), group=DIALOGS)
