"""Which models there are, which one answers, and how much context each takes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Mapping
from contextlib import suppress
from pathlib import Path

from tui.config import ChatConfig
from tui.domain import Conversation, ModelInfo
from tui.engines.base import Engine, EngineError, EngineUnavailable, ModelNotFound
from tui.models.names import ModelChoice, Waiting, configured, resolve, split_name

logger = logging.getLogger(__name__)


class ModelDirectory:
    """The engines' models: listing them, resolving names, and their context lengths.

    Every listing records the context lengths it saw; `context_length` asks the engine itself
    when its backend was never listed, so no answer depends on a listing having run first."""

    def __init__(self, engines: Mapping[str, Engine], defaults: ChatConfig) -> None:
        self.engines = dict(engines)
        self.defaults = defaults
        self._context_lengths: dict[tuple[str, str], int] = {}
        self._listed: set[str] = set()
        """Backends listed at least once: a model of theirs not in the cache has no known length."""

    def engine(self, backend: str) -> Engine:
        try:
            return self.engines[backend]
        except KeyError:
            raise EngineUnavailable(f"no backend named {backend!r} is configured") from None

    async def list_models(self) -> tuple[list[ModelInfo], dict[str, str]]:
        """Every model of every backend, and the reason of each backend that failed."""
        names = list(self.engines)
        results = await asyncio.gather(*(self.engines[name].list_models() for name in names), return_exceptions=True)
        models: list[ModelInfo] = []
        offline: dict[str, str] = {}
        for name, result in zip(names, results):
            if isinstance(result, BaseException):
                offline[name] = str(result) or type(result).__name__
            else:
                models.extend(result)
                self._learn(name, result)
        return models, offline

    async def list_models_each(self) -> AsyncIterator[tuple[str, list[ModelInfo], str | None]]:
        """(backend, its models, why it is offline or None) for each backend as it answers, so a
        slow or unreachable backend never holds the others back."""
        for next_done in asyncio.as_completed([self.list_backend(name) for name in self.engines]):
            yield await next_done

    async def list_backend(self, name: str) -> tuple[str, list[ModelInfo], str | None]:
        """(backend, its models, why it is offline or None) for one backend."""
        problem: str | None = None
        try:
            models = await self.engine(name).list_models()
        except EngineError as error:
            models, problem = [], str(error)
        except Exception as error:  # noqa: BLE001 - a backend's bug shows as offline, not as a crash
            logger.exception("listing the models of %s failed", name)
            models, problem = [], f"unexpected {type(error).__name__}: {error}"
        if problem is None:
            self._learn(name, models)
        return name, models, problem

    def _learn(self, backend: str, models: list[ModelInfo]) -> None:
        self._listed.add(backend)
        for model in models:
            if model.context_length:
                self._context_lengths[(model.backend, model.name)] = model.context_length

    async def context_length(self, model: ModelChoice) -> int | None:
        """The context length `model` was trained for, as its engine lists it: from the last
        listing, or asked now when its backend was never listed. None when the engine does not say."""
        if model.backend in self.engines and model.backend not in self._listed:
            await self.list_backend(model.backend)
        return self._context_lengths.get((model.backend, model.name))

    def context_limit(self, conversation: Conversation | None, model: ModelChoice | None) -> int | None:
        """The context length to fit into: the smallest of the conversation's own setting,
        the model's (as listed: `context_length` makes sure) and the context its engine loads
        models with (the engine's `context_cap`: the embedded engine's n_ctx, an Ollama host's
        num_ctx), so one backend's cap never trims another's."""
        own = conversation.settings.context_length if conversation else None
        known = self._context_lengths.get((model.backend, model.name)) if model else None
        engine = self.engines.get(model.backend) if model else None
        cap = engine.context_cap if engine is not None else None
        limits = [int(value) for value in (own, known, cap) if value]
        return min(limits) if limits else None

    def default_model(self, models: list[ModelInfo], conversation: Conversation | None = None) -> ModelChoice | None:
        """The model to show as the one that will answer: the conversation's, else the configured
        one (None while it is not listed: it is never replaced), else the starter or first usable."""
        try:
            chosen = self.answer_model(models, conversation)
        except ModelNotFound:
            return None
        return chosen if isinstance(chosen, ModelChoice) else None

    def answer_model(
        self,
        models: list[ModelInfo],
        conversation: Conversation | None = None,
        *,
        offline: Mapping[str, str] | None = None,
        pending: Collection[str] = (),
        backend: str | None = None,
    ) -> ModelChoice | Waiting | None:
        """The model to answer with: the conversation's, else the configured one (`Waiting` while
        a backend that could serve it has not listed its models; ModelNotFound, naming it, when it
        is unavailable), else the starter or first usable model (of `backend`, when given).
        None when there is no model at all."""
        if conversation and conversation.model and backend in (None, conversation.backend):
            return ModelChoice(conversation.backend, conversation.model)
        usable = [m for m in models if not m.extra.get("error") and backend in (None, m.backend)]
        wanted = self.defaults.model
        if wanted and backend is None:
            return configured(wanted, usable, backends=self.engines, offline=offline or {}, pending=pending)
        if wanted and split_name(wanted, self.engines)[0] in (None, backend):  # `lchat ask --backend`
            with suppress(ModelNotFound):
                return configured(wanted, usable, backends=self.engines, offline={})
        starter = [model for model in usable if model.extra.get("starter")]
        chosen = next(iter(starter or usable), None)
        return ModelChoice(chosen.backend, chosen.name) if chosen else None

    def find_model(
        self,
        models: list[ModelInfo],
        query: str,
        *,
        backend: str | None = None,
        offline: Mapping[str, str] | None = None,
    ) -> ModelChoice:
        """The model `query` names (`NAME` or `BACKEND/NAME`): exactly, by file name, or by a
        unique part of its name; the error names what matched, or each backend that failed to list."""
        return resolve(query, models, backends=self.engines, offline=offline, backend=backend)

    def blind_model(self, model: ModelChoice | None) -> str | None:
        """`model`'s name as shown when its engine knows it takes no images (so an image for it is
        refused before it is decoded); None when it does, or when that is not known."""
        engine = self.engines.get(model.backend) if model is not None else None
        if model is None or engine is None or engine.supports_images(model.name) is not False:
            return None
        return Path(model.name).name if Path(model.name).is_absolute() else model.name  # A GGUF's path

    def runs_here(self, model: ModelChoice) -> bool:
        """Whether `model` runs on this machine, so this machine's power is what it draws."""
        engine = self.engines.get(model.backend)
        return engine is not None and engine.local
