"""The model manager: Ollama pull, Hugging Face download and GGUF import (one transfer at a time,
shown as a progress bar), delete, unload, and a conversation's LoRA adapter."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from textual.screen import Screen
from textual.worker import Worker

from tui.domain import ModelInfo
from tui.engines.base import EngineError
from tui.engines.gpu_build import built_flavour
from tui.engines.manage import Progress
from tui.models.catalog import label
from tui.models.download_fit import best_first, question, size_fit, with_fit
from tui.models.hf import DEFAULT_ENDPOINT, HubClient, parse_repo, pick
from tui.models.library import check_import, import_steps
from tui.models.transfer import TransferMeter
from tui.safe_text import one_line
from tui.services import Services
from tui.ui.controllers.conversations import ConversationsController
from tui.ui.controllers.lora_chooser import LoraChooser
from tui.ui.controllers.models_controller import ModelsController
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.prompts import ChoiceQuestion, InputQuestion
from tui.ui.toast import tell
from tui.ui.widgets.model_pane import ModelPane

TRANSFER = "transfer"
"""The worker group of the one transfer (pull, download, import) that may run at a time."""
DIALOGS = "dialogs"
ONE_AT_A_TIME = "A download is running: wait for it, or x in the models pane cancels it."


class ModelManager:
    """Changes what models there are; owns the transfer in progress (at most one)."""

    def __init__(
        self,
        *,
        screen: Screen,
        services: Services,
        models: ModelsController,
        conversations: ConversationsController,
        pane: ModelPane,
    ) -> None:
        self.screen = screen
        self.services = services
        self.models = models
        self.conversations = conversations
        self.pane = pane
        self._transfer: Worker[None] | None = None

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
        if self._refused():
            return False
        self._transfer = self.screen.run_worker(
            self._run_transfer(title, steps, done), group=TRANSFER, exit_on_error=False
        )
        return True

    async def _run_transfer(self, title: str, steps: AsyncIterator[Progress], done: str) -> None:
        meter = TransferMeter()
        self.pane.show_transfer(title, None, None, "starting…")
        try:
            async for step in steps:
                meter.update(step.completed, step.total)
                detail = " · ".join(p for p in (step.status, meter.text()) if p)
                self.pane.show_transfer(title, step.completed, step.total, detail)
        except EngineError as error:
            tell(self.screen, f"{title} failed: {error}", severity="error", timeout=15)
            return
        except asyncio.CancelledError:
            tell(self.screen, f"{title}: cancelled.", severity="warning")
            raise
        finally:
            self.pane.hide_transfer()
            if hasattr(steps, "aclose"):
                await steps.aclose()
        tell(self.screen, done)
        self.models.load()

    def cancel_transfer(self) -> None:
        if self._transfer is None or self._transfer.is_finished:
            tell(self.screen, "No download is running.")
            return
        self._transfer.cancel()

    def request(self, action: str, backend: str | None, name: str | None) -> None:
        """What the models pane asked for: a model-free request, or one on the highlighted model."""
        free: dict[str, Callable[[], None]] = {
            "refresh": self.models.load,
            "pull": lambda: self.pull(backend),
            "download": self.download,
            "import": self.import_file,
            "cancel_transfer": self.cancel_transfer,
        }
        if action in free:
            free[action]()
            return
        on_model: dict[str, Callable[[str, str], None]] = {
            "details": self.models.details,
            "favourite": self.models.toggle_favourite,
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
        pullers = [n for n, e in self.services.engines.items() if e.can_pull]
        if not pullers:
            tell(self.screen, "No Ollama backend is configured (see [ollama] in the config).", severity="warning")
            return
        if self._refused():
            return
        target = backend if backend in pullers else pullers[0]

        def answered(model: str | None) -> None:
            if not model:
                return
            if any(c.isspace() for c in model):
                tell(self.screen, f"{one_line(model, 40)!r} is not a model name (e.g. llama3.2:3b).", severity="error")
                return
            engine = self.services.engines[target]
            memory = self.models.catalog.memory if engine.local else None  # A remote box's memory is unseen.
            steps = with_fit(
                engine.pull(model),
                lambda size: size_fit(size, memory, gpu=True),
                lambda fit: self.screen.app.push_screen_wait(ConfirmScreen(question(model, fit))),
            )
            self.start_transfer(f"Pulling {model} ({target})", steps, f"Pulled {model}.")

        self.screen.app.push_screen(
            InputQuestion(f"Pull which model into {target}?", placeholder="e.g. llama3.2:3b, qwen2.5:7b-instruct"),
            answered,
        )

    def delete(self, backend: str, name: str) -> None:
        self.screen.run_worker(self._delete(backend, name), group=DIALOGS)

    async def _delete(self, backend: str, name: str) -> None:
        engine = self.services.engines.get(backend)
        model = self.models.catalog.find(backend, name)
        shown = one_line(label(model) if model else name, 50)
        if engine is None or not engine.can_delete:
            tell(self.screen, f"lchat cannot delete models on {backend}; remove {shown} there.", severity="warning")
            return
        try:
            removed = engine.delete_note(model or ModelInfo(name, backend))
        except EngineError as error:
            tell(self.screen, str(error), severity="warning", timeout=10)
            return
        if not await self.screen.app.push_screen_wait(ConfirmScreen(f"Delete {shown} from {backend}? {removed}")):
            return
        try:
            await engine.delete(name)
        except EngineError as error:
            tell(self.screen, f"Could not delete {shown}: {error}", severity="error", timeout=10)
            return
        tell(self.screen, f"Deleted {shown} from {backend}.")
        self.models.load()

    def unload(self, backend: str, name: str) -> None:
        self.screen.run_worker(self._unload(backend, name), group="unload")

    async def _unload(self, backend: str, name: str) -> None:
        engine = self.services.engines.get(backend)
        if engine is None or not engine.can_unload:
            tell(self.screen, f"{backend} has no unload; its models are loaded as they are used.", severity="warning")
            return
        try:
            await engine.unload(name)
        except EngineError as error:
            tell(self.screen, f"Could not unload {one_line(name, 40)}: {error}", severity="error", timeout=10)
            return
        tell(self.screen, f"Unloaded {one_line(name, 40)}: its memory is free.")
        self.models.load()

    # Hugging Face and the models folder

    def hub(self) -> HubClient:
        config = self.services.config.models
        endpoint = config.hf_endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
        return HubClient(endpoint=endpoint, models_dir=self.services.paths.models_dir)

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
        hub = self.hub()
        try:
            repo, wanted = parse_repo(spec)
            found = await asyncio.to_thread(hub.list_choices, repo)
        except EngineError as error:
            tell(self.screen, f"Cannot download {one_line(spec, 60)}: {error}", severity="error", timeout=10)
            return
        memory = await asyncio.to_thread(self.models.memory_now)
        ranked = best_first(found, lambda c: c.size, memory, gpu=built_flavour() != "cpu")
        choice = pick(found, wanted) if wanted else (found[0] if len(found) == 1 else None)
        if wanted and choice is None:
            tell(
                self.screen,
                f"{repo} has no file or quantization {one_line(wanted, 40)!r}; choose one.",
                severity="warning",
            )
        if choice is None:
            key = await self.screen.app.push_screen_wait(
                ChoiceQuestion(
                    f"Which GGUF of {repo}? (best fit on this machine first)",
                    [(str(i), f"{c.label}  {fit.verdict if fit else ''}") for i, (c, fit) in enumerate(ranked)],
                )
            )
            if key is None:
                return
            choice = ranked[int(key)][0]
        fit = dict(ranked).get(choice)
        if (
            fit
            and not fit.fits
            and not await self.screen.app.push_screen_wait(ConfirmScreen(question(Path(choice.files[0]).name, fit)))
        ):
            return
        name = Path(choice.files[0]).name
        self.start_transfer(
            f"Downloading {name}", hub.download(repo, choice), f"Downloaded {name} into the models folder."
        )

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
            path, dest = await asyncio.to_thread(check_import, source, self.services.paths.models_dir)
        except EngineError as error:
            tell(self.screen, f"Cannot import: {error}", severity="error", timeout=10)
            return
        self.start_transfer(f"Importing {path.name}", import_steps(path, dest), f"Imported {path.name}.")

    # LoRA

    def lora(self, backend: str, name: str) -> None:
        """Attach a GGUF LoRA adapter to this conversation's embedded model (or detach it)."""
        chooser = LoraChooser(
            screen=self.screen, services=self.services, models=self.models, conversations=self.conversations
        )
        self.screen.run_worker(chooser.choose(backend, name), group=DIALOGS)
