"""Changing what models there are: Ollama pulls, Hugging Face downloads, GGUF imports, deletes,
unloads and a conversation's LoRA adapter, for the models pane and the `lchat` commands alike.

Each operation does the work and reports in typed values (tui.models.outcome): a `Transfer` to
run for its progress, `Done` with the sentence to show, or a `Refused`/`Failed` error with it.
The front ends only ask, show and print; no Textual here, so a process without a UI can serve it.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tui.config import Config
from tui.config.paths import Paths
from tui.config.write import save_config
from tui.domain import ConversationSettings, ModelInfo
from tui.engines.base import Engine, EngineError
from tui.engines.embedded.lora import read_lora
from tui.fit.memory import MemorySnapshot
from tui.guard.safe_text import one_line
from tui.models.catalog import label, model_key
from tui.models.download_fit import best_first, question, size_fit, with_fit
from tui.models.download_offer import DownloadOffer, file_name
from tui.models.hf import DEFAULT_ENDPOINT, HfChoice, HubClient, parse_repo, pick
from tui.models.library import check_import, import_steps
from tui.models.outcome import Done, Failed, Refused, Transfer

NO_PULLER = "No Ollama backend is configured (see [ollama] in the config)."
NOT_LORA = "LoRA adapters apply to the embedded engine's GGUF models."


@dataclass(frozen=True)
class DeletePlan:
    """A delete that lchat may do, with what it removes, to be confirmed before it runs."""

    backend: str
    name: str
    shown: str
    """The model's label, shortened for one line."""
    removed: str
    """What goes with it ("Its files are removed.")."""

    @property
    def question(self) -> str:
        return f"Delete {self.shown} from {self.backend}? {self.removed}"


@dataclass(frozen=True)
class LoraChoice:
    """A conversation's adapter as chosen: a checked GGUF LoRA file, or "" for none."""

    path: str

    def applied_to(self, settings: ConversationSettings) -> ConversationSettings:
        """A conversation's settings with this adapter in place of the one it had."""
        return replace(settings, lora=self.path or None)

    @property
    def done(self) -> Done:
        return Done(
            f"LoRA {Path(self.path).name} applies from the next answer on." if self.path else "LoRA adapter removed."
        )


class ModelManagement:
    """Pull, download, import, delete, unload and LoRA over the engines and the models folder."""

    def __init__(
        self, engines: Mapping[str, Engine], *, config: Config, paths: Paths, environ: Mapping[str, str] | None = None
    ) -> None:
        self.engines = engines
        self.config = config
        self.paths = paths
        self._environ = os.environ if environ is None else environ

    # Ollama

    def pullers(self) -> list[str]:
        """The backends that can pull a model by name."""
        return [name for name, engine in self.engines.items() if engine.can_pull]

    def pull_target(self, backend: str | None, *, exact: bool = False) -> str:
        """The backend a pull goes to: `backend` when it can pull, else (unless `exact`) the first that can."""
        pullers = self.pullers()
        if not pullers:
            raise Refused(NO_PULLER, reason=NO_PULLER[0].lower() + NO_PULLER[1:])
        if backend in pullers:
            return backend
        if exact and backend is not None:
            raise Refused(f"{one_line(backend, 40)} cannot pull; these can: {', '.join(pullers)}")
        return pullers[0]

    def pull(
        self,
        model: str,
        backend: str,
        *,
        memory: MemorySnapshot | None = None,
        go_on: Callable[[str], Awaitable[bool]] | None = None,
    ) -> Transfer:
        """Pull `model` into `backend`. With `go_on`, once the size is known a model that will not fit
        in `memory` asks it (the question's text) whether to go on."""
        if any(c.isspace() for c in model):
            raise Failed(f"{one_line(model, 40)!r} is not a model name (e.g. llama3.2:3b).", lasting=False)
        engine = self.engines[backend]
        steps = engine.pull(model)
        if go_on is not None:
            seen = memory if engine.local else None  # A remote box's memory is unseen.
            steps = with_fit(
                steps, lambda size: size_fit(size, seen, gpu=True), lambda fit: go_on(question(model, fit))
            )
        return Transfer(f"Pulling {model} ({backend})", steps, f"Pulled {model}.")

    # Delete and unload

    def plan_delete(self, backend: str, name: str, model: ModelInfo | None, *, width: int = 50) -> DeletePlan:
        """The delete of `name` on `backend`, or Refused when lchat may not delete it (asked nothing yet)."""
        engine = self.engines.get(backend)
        shown = one_line(label(model) if model else name, width)
        if engine is None or not engine.can_delete:
            raise Refused(
                f"lchat cannot delete models on {backend}; remove {shown} there.",
                reason=f"lchat cannot delete models on {backend}; remove it there",
            )
        try:
            removed = engine.delete_note(model or ModelInfo(name, backend))
        except EngineError as error:
            raise Refused(str(error), lasting=True) from error
        return DeletePlan(backend, name, shown, removed)

    async def delete(self, plan: DeletePlan) -> Done:
        try:
            await self.engines[plan.backend].delete(plan.name)
        except EngineError as error:
            raise Failed(f"Could not delete {plan.shown}: {error}", reason=str(error)) from error
        return Done(f"Deleted {plan.shown} from {plan.backend}.")

    def forget_favourite(self, backend: str, name: str) -> None:
        """Take a deleted model out of the favourites, and save the config if it was one."""
        favourite = model_key(backend, name)
        if favourite in self.config.models.favourites:
            self.config.models.favourites.remove(favourite)
            save_config(self.config, self.paths.config_file)

    async def unload(self, backend: str, name: str) -> Done:
        engine = self.engines.get(backend)
        if engine is None or not engine.can_unload:
            raise Refused(f"{backend} has no unload; its models are loaded as they are used.")
        try:
            await engine.unload(name)
        except EngineError as error:
            raise Failed(f"Could not unload {one_line(name, 40)}: {error}", reason=str(error)) from error
        return Done(f"Unloaded {one_line(name, 40)}: its memory is free.")

    # Hugging Face and the models folder

    def _gpu_build(self) -> bool:
        """Whether an engine that runs downloaded GGUF files was built for a GPU (ranks what fits)."""
        return any(engine.build_flavour not in ("", "cpu") for engine in self.engines.values())

    def hub(self) -> HubClient:
        endpoint = self.config.models.hf_endpoint or self._environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT
        return HubClient(endpoint=endpoint, models_dir=self.paths.models_dir)

    async def offer_download(self, spec: str, memory: Callable[[], MemorySnapshot | None]) -> DownloadOffer:
        """What `spec` ("owner/repo", "owner/repo:Q4_K_M", "owner/repo/file.gguf") offers, ranked against
        `memory` (read in a thread once the list is in)."""
        try:
            repo, wanted = parse_repo(spec)
            found = await asyncio.to_thread(self.hub().list_choices, repo)
        except EngineError as error:
            raise Failed(f"Cannot download {one_line(spec, 60)}: {error}", reason=str(error)) from error
        ranked = best_first(found, lambda c: c.size, await asyncio.to_thread(memory), gpu=self._gpu_build())
        chosen = pick(found, wanted) if wanted else (found[0] if len(found) == 1 else None)
        note = None
        if wanted and chosen is None:
            note = f"{repo} has no file or quantization {one_line(wanted, 40)!r}; choose one."
        return DownloadOffer(repo, ranked, chosen, note)

    def download(self, repo: str, choice: HfChoice) -> Transfer:
        name = file_name(choice)
        return Transfer(
            f"Downloading {name}", self.hub().download(repo, choice), f"Downloaded {name} into the models folder."
        )

    async def import_file(self, source: str) -> Transfer:
        """The copy of the GGUF file at `source` into the models folder, once it is checked."""
        try:
            path, dest = await asyncio.to_thread(check_import, source, self.paths.models_dir)
        except EngineError as error:
            raise Failed(f"Cannot import: {error}", reason=str(error)) from error
        return Transfer(f"Importing {path.name}", import_steps(path, dest), f"Imported {path.name}.")

    # LoRA

    def lora_model(self, backend: str, model: ModelInfo | None) -> ModelInfo:
        """`model` when its backend applies LoRA adapters, else Refused."""
        engine = self.engines.get(backend)
        if engine is None or not engine.supports_lora or model is None:
            raise Refused(NOT_LORA)
        return model

    async def choose_lora(self, answer: str, model: ModelInfo) -> LoraChoice:
        """The adapter file `answer` checked against `model` ("": none), or Failed saying why not."""
        if not answer:
            return LoraChoice("")
        try:
            found = await asyncio.to_thread(read_lora, answer, for_architecture=model.architecture)
        except EngineError as error:
            raise Failed(f"Cannot use that adapter: {error}", reason=str(error)) from error
        return LoraChoice(found.path)
