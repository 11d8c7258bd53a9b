"""The main screen's model management: Ollama pull/delete/unload, Hugging Face downloads, GGUF
import and delete, all with a progress bar and a clear message for every failure.

Downloads run one at a time in the "transfer" worker group; x in the models pane cancels.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

from textual import work

from tui.domain import ModelInfo
from tui.engines.base import EngineError
from tui.engines.gpu_build import built_flavour
from tui.engines.lora import read_lora
from tui.engines.manage import Progress
from tui.models.catalog import label
from tui.models.download_fit import best_first, question, size_fit, with_fit
from tui.models.fit import gb
from tui.models.hf import DEFAULT_ENDPOINT, HubClient, parse_repo, pick
from tui.models.library import check_import, import_steps
from tui.models.transfer import TransferMeter
from tui.safe_text import one_line
from tui.ui.confirm import ConfirmScreen
from tui.ui.model_screen import ModelScreen
from tui.ui.prompts import ChoiceQuestion, InputQuestion
from tui.ui.widgets.model_pane import ModelPane

TRANSFER = "transfer"


class ModelManagementScreen(ModelScreen):
    """Adds the pane's management keys (p, d, u, x...) to ModelScreen."""

    @property
    def transferring(self) -> bool:
        return any(worker.group == TRANSFER and worker.is_running for worker in self.workers)

    def _busy(self) -> bool:
        if self.transferring:
            self.notify("A download is running: wait for it, or x in the models pane cancels it.", severity="warning")
        return self.transferring

    # Transfers

    @work(group=TRANSFER, exit_on_error=False)
    async def run_transfer(self, title: str, steps: AsyncIterator[Progress], done: str) -> None:
        """Show `steps` as a progress bar; a failure or a cancel is said once, in words."""
        pane, meter = self.query_one(ModelPane), TransferMeter()
        pane.show_transfer(title, None, None, "starting…")
        try:
            async for step in steps:
                meter.update(step.completed, step.total)
                detail = " · ".join(p for p in (step.status, meter.text()) if p)
                pane.show_transfer(title, step.completed, step.total, detail)
        except EngineError as error:
            self.notify(f"{title} failed: {error}", severity="error", timeout=15)
            return
        except asyncio.CancelledError:
            self.notify(f"{title}: cancelled.", severity="warning")
            raise
        finally:
            pane.hide_transfer()
            if hasattr(steps, "aclose"):
                await steps.aclose()  # type: ignore[attr-defined]
        self.notify(done)
        self.load_models()

    def model_cancel_transfer(self, backend: str | None, name: str | None) -> None:
        if not self.transferring:
            self.notify("No download is running.")
            return
        self.workers.cancel_group(self, TRANSFER)

    # Ollama

    def model_pull(self, backend: str | None, name: str | None) -> None:
        pullers = [n for n, e in self.services.engines.items() if e.can_pull]
        if not pullers:
            self.notify("No Ollama backend is configured (see [ollama] in the config).", severity="warning")
            return
        if self._busy():
            return
        target = backend if backend in pullers else pullers[0]

        def answered(model: str | None) -> None:
            if not model:
                return
            if any(c.isspace() for c in model):
                self.notify(f"{one_line(model, 40)!r} is not a model name (e.g. llama3.2:3b).", severity="error")
                return
            engine = self.services.engines[target]
            memory = self.catalog.memory if engine.local else None  # A remote box's memory is unseen.
            steps = with_fit(engine.pull(model), lambda size: size_fit(size, memory, gpu=True),
                             lambda fit: self.app.push_screen_wait(ConfirmScreen(question(model, fit))))
            self.run_transfer(f"Pulling {model} ({target})", steps, f"Pulled {model}.")

        self.app.push_screen(
            InputQuestion(f"Pull which model into {target}?", placeholder="e.g. llama3.2:3b, qwen2.5:7b-instruct"),
            answered,
        )

    @work(group="dialogs")
    async def model_delete(self, backend: str, name: str) -> None:
        engine = self.services.engines.get(backend)
        model = self.catalog.find(backend, name)
        shown = one_line(label(model) if model else name, 50)
        if engine is None or not engine.can_delete:
            self.notify(f"lchat cannot delete models on {backend}; remove {shown} there.", severity="warning")
            return
        try:
            removed = engine.delete_note(model or ModelInfo(name, backend))
        except EngineError as error:
            self.notify(str(error), severity="warning", timeout=10)
            return
        if not await self.app.push_screen_wait(ConfirmScreen(f"Delete {shown} from {backend}? {removed}")):
            return
        try:
            await engine.delete(name)
        except EngineError as error:
            self.notify(f"Could not delete {shown}: {error}", severity="error", timeout=10)
            return
        self.notify(f"Deleted {shown} from {backend}.")
        self.load_models()

    @work(group="unload")
    async def model_unload(self, backend: str, name: str) -> None:
        engine = self.services.engines.get(backend)
        if engine is None or not engine.can_unload:
            self.notify(f"{backend} has no unload; its models are loaded as they are used.", severity="warning")
            return
        try:
            await engine.unload(name)
        except EngineError as error:
            self.notify(f"Could not unload {one_line(name, 40)}: {error}", severity="error", timeout=10)
            return
        self.notify(f"Unloaded {one_line(name, 40)}: its memory is free.")
        self.load_models()

    # Hugging Face and the models folder

    def hub(self) -> HubClient:
        config = self.services.config.models
        endpoint = config.hf_endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
        return HubClient(endpoint=endpoint, models_dir=self.services.paths.models_dir)

    @work(group="dialogs")
    async def model_download(self, backend: str | None, name: str | None) -> None:
        if self._busy():
            return
        spec = await self.app.push_screen_wait(InputQuestion(
            "Download a GGUF model from Hugging Face into the models folder:",
            placeholder="owner/repo, owner/repo:Q4_K_M or owner/repo/file.gguf",
        ))
        if not spec:
            return
        hub = self.hub()
        try:
            repo, wanted = parse_repo(spec)
            found = await asyncio.to_thread(hub.list_choices, repo)
        except EngineError as error:
            self.notify(f"Cannot download {one_line(spec, 60)}: {error}", severity="error", timeout=10)
            return
        memory = await asyncio.to_thread(self.memory_now)
        ranked = best_first(found, lambda c: c.size, memory, gpu=built_flavour() != "cpu")
        choice = pick(found, wanted) if wanted else (found[0] if len(found) == 1 else None)
        if wanted and choice is None:
            self.notify(f"{repo} has no file or quantization {one_line(wanted, 40)!r}; choose one.", severity="warning")
        if choice is None:
            key = await self.app.push_screen_wait(ChoiceQuestion(
                f"Which GGUF of {repo}? (best fit on this machine first)",
                [(str(i), f"{c.label}  {fit.verdict if fit else ''}") for i, (c, fit) in enumerate(ranked)]))
            if key is None:
                return
            choice = ranked[int(key)][0]
        fit = dict(ranked).get(choice)
        if fit and not fit.fits and not await self.app.push_screen_wait(
                ConfirmScreen(question(Path(choice.files[0]).name, fit))):
            return
        self.run_transfer(f"Downloading {Path(choice.files[0]).name}", hub.download(repo, choice),
                          f"Downloaded {Path(choice.files[0]).name} into the models folder.")

    @work(group="dialogs")
    async def model_import(self, backend: str | None, name: str | None) -> None:
        if self._busy():
            return
        source = await self.app.push_screen_wait(InputQuestion(
            "Import a GGUF file (it is copied into the models folder):", placeholder="~/Downloads/model.gguf"))
        if not source:
            return
        try:
            path, dest = await asyncio.to_thread(check_import, source, self.services.paths.models_dir)
        except EngineError as error:
            self.notify(f"Cannot import: {error}", severity="error", timeout=10)
            return
        self.run_transfer(f"Importing {path.name}", import_steps(path, dest), f"Imported {path.name}.")

    # LoRA

    @work(group="dialogs")
    async def model_lora(self, backend: str, name: str) -> None:
        """Attach a GGUF LoRA adapter to this conversation's embedded model (or detach it)."""
        model, engine = self.catalog.find(backend, name), self.services.engines.get(backend)
        if engine is None or not engine.supports_lora or model is None:
            self.notify("LoRA adapters apply to the embedded engine's GGUF models.", severity="warning")
            return
        current = str(self.conversation.params.get("lora", "")) if self.conversation else ""
        answer = await self.app.push_screen_wait(InputQuestion(
            f"LoRA adapter for {one_line(label(model), 40)} in this conversation (a GGUF file; empty: none):",
            value=current, placeholder="~/adapters/my-lora.gguf",
            hint="Enter: apply    Esc: cancel    A default per model: [engine] lora in the config",
        ))
        if answer is None:
            return
        path = ""
        if answer:
            try:
                path = (await asyncio.to_thread(read_lora, answer, for_architecture=model.architecture)).path
            except EngineError as error:
                self.notify(f"Cannot use that adapter: {error}", severity="error", timeout=10)
                return
        if self.conversation is None or (self.conversation.backend, self.conversation.model) != (backend, name):
            self.use_model(backend, name)
        conversation = self.conversation
        assert conversation is not None
        params = {k: v for k, v in conversation.params.items() if k != "lora"} | ({"lora": path} if path else {})
        self.services.store.set_conversation_settings(conversation.id, system_prompt=conversation.system_prompt,
                                                      params=params)
        self.conversation = self.services.store.get_conversation(conversation.id)
        self.show_model()
        self.notify(f"LoRA {Path(path).name} applies from the next answer on." if path else "LoRA adapter removed.")
