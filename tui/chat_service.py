"""Sending a message: commit the question, stream the answer, commit it as it grows.

Both the TUI and `lchat ask` go through here, so what reaches the history is the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any

from tui.config import ChatConfig
from tui.context_window import fit, message_tokens
from tui.domain import (
    ChatMessage,
    ChatTurn,
    Conversation,
    GenerationOptions,
    MessageStatus,
    ModelInfo,
    Role,
)
from tui.engines.base import Engine, EngineError, EngineUnavailable, Finished, ModelNotFound, TextPiece
from tui.stats.energy import EnergySource, Measurement
from tui.store import HistoryStore, NotFound, StoreError

logger = logging.getLogger(__name__)

COMMIT_INTERVAL_S = 0.25
"""How often a streaming answer is written to the history: often enough that a kill loses
a quarter second at most, rarely enough that SQLite never shows in a profile."""


@dataclass(frozen=True)
class QuestionSaved:
    """The user's message is in the history; generation starts next."""

    message: ChatMessage


@dataclass(frozen=True)
class ContextInfo:
    """What is sent to the model: estimated prompt tokens against the context length, and
    how many of the oldest messages were left out to fit."""

    tokens: int
    limit: int | None
    dropped: int


@dataclass(frozen=True)
class AnswerStarted:
    """The answer's row exists (status streaming)."""

    message: ChatMessage
    context: ContextInfo | None = None
    """What the model was sent, against its context length."""


@dataclass(frozen=True)
class AnswerPiece:
    """More answer text, as the engine produced it (raw: not yet made terminal-safe)."""

    text: str


@dataclass(frozen=True)
class AnswerEnded:
    """The answer's final row; `stats` is None when it failed."""

    message: ChatMessage
    stats: Finished | None
    save_error: str = ""
    """Why the answer could not be written to the history (disk full...), or empty."""


ChatUpdate = QuestionSaved | AnswerStarted | AnswerPiece | AnswerEnded


@dataclass(frozen=True)
class ModelChoice:
    """A model on a backend."""

    backend: str
    name: str


class ChatService:
    """Runs conversations against the engines and keeps the history in step."""

    def __init__(
        self,
        store: HistoryStore,
        engines: Mapping[str, Engine],
        defaults: ChatConfig,
        *,
        commit_interval: float = COMMIT_INTERVAL_S,
        energy: EnergySource | None = None,
    ) -> None:
        self._context_lengths: dict[tuple[str, str], int] = {}
        self.store = store
        self.engines = dict(engines)
        self.defaults = defaults
        self.commit_interval = commit_interval
        self.energy = energy
        """Measures each answer's energy (tui.stats); None stores no energy figures."""
        self._unsaved: dict[int, dict[str, Any]] = {}
        """Final states of answers the store refused (disk full), by message id, to write later."""
        self._streaming: dict[int, tuple[ChatMessage, list[str]]] = {}
        """Answers arriving now, with what has arrived, for interrupt_streaming. (One closed before
        it got here is still "streaming" on disk, empty; the next start marks it interrupted.)"""

    def engine(self, backend: str) -> Engine:
        try:
            return self.engines[backend]
        except KeyError:
            raise EngineUnavailable(f"no backend named {backend!r} is configured") from None

    async def list_models(self) -> tuple[list[ModelInfo], dict[str, str]]:
        """Every model of every backend, and the reason of each backend that failed."""
        names = list(self.engines)
        results = await asyncio.gather(
            *(self.engines[name].list_models() for name in names), return_exceptions=True
        )
        models: list[ModelInfo] = []
        offline: dict[str, str] = {}
        for name, result in zip(names, results):
            if isinstance(result, BaseException):
                offline[name] = str(result) or type(result).__name__
            else:
                models.extend(result)
        for model in models:
            if model.context_length:
                self._context_lengths[(model.backend, model.name)] = model.context_length
        return models, offline

    async def list_models_each(self) -> AsyncIterator[tuple[str, list[ModelInfo], str | None]]:
        """(backend, its models, why it is offline or None) for each backend as it answers, so a
        slow or unreachable backend never holds the others back."""
        for next_done in asyncio.as_completed([self.list_backend(name) for name in self.engines]):
            yield await next_done

    async def list_backend(self, name: str) -> tuple[str, list[ModelInfo], str | None]:
        """(backend, its models, why it is offline or None) for one backend."""
        try:
            models, problem = await self.engine(name).list_models(), None
        except EngineError as error:
            models, problem = [], str(error)
        except Exception as error:  # noqa: BLE001 - a backend's bug shows as offline, not as a crash
            logger.exception("listing the models of %s failed", name)
            models, problem = [], f"unexpected {type(error).__name__}: {error}"
        for model in models:
            if model.context_length:
                self._context_lengths[(model.backend, model.name)] = model.context_length
        return name, models, problem

    def context_limit(self, conversation: Conversation | None, model: ModelChoice | None) -> int | None:
        """The context length to fit into: the smallest of the conversation's own setting,
        the model's (once the model list has been read) and the context its engine loads
        models with (an engine's optional `context_cap`: the embedded engine's n_ctx, an
        Ollama host's num_ctx), so one backend's cap never trims another's."""
        own = conversation.params.get("context_length") if conversation else None
        known = self._context_lengths.get((model.backend, model.name)) if model else None
        cap = getattr(self.engines.get(model.backend), "context_cap", None) if model else None
        limits = [int(value) for value in (own, known, cap) if value]
        return min(limits) if limits else None

    def fitted_turns(
        self, conversation: Conversation, end_id: int, model: ModelChoice
    ) -> tuple[list[ChatTurn], ContextInfo]:
        """The turns to send for the path ending at `end_id`, its oldest dropped if the
        context is too small. Only the end of a long path is read: as much as could fit."""
        options = self.options_for(conversation)
        limit = self.context_limit(conversation, model)
        reserve = min(options.max_tokens or 0, limit // 2) if limit else 0
        window, path = 64, []
        while True:
            path = self.store.path_to(end_id, limit=window if limit else None)
            if not limit or len(path) < window or sum(map(message_tokens, path)) > limit:
                break
            window *= 4
        fitted = fit(conversation.system_prompt, path, limit=limit, reserve=reserve)
        dropped = fitted.dropped
        if limit and len(path) == window:  # The part never read was left out too.
            dropped += self.store.path_length(end_id) - len(path)
        return fitted.turns, ContextInfo(fitted.tokens, limit, dropped)

    def default_model(self, models: list[ModelInfo], conversation: Conversation | None = None) -> ModelChoice | None:
        """The conversation's model, else the configured one, else the first usable model."""
        if conversation and conversation.model:
            return ModelChoice(conversation.backend, conversation.model)
        usable = [model for model in models if not model.extra.get("error")]
        wanted = self.defaults.model
        if wanted:
            for model in usable:
                if wanted in (model.name, model.name.rsplit("/", 1)[-1], model.extra.get("title")):
                    return ModelChoice(model.backend, model.name)
        starter = [model for model in usable if model.extra.get("starter")]
        chosen = (starter or usable or [None])[0]
        return ModelChoice(chosen.backend, chosen.name) if chosen else None

    def find_model(self, models: list[ModelInfo], query: str) -> ModelChoice:
        """The model `query` names: exactly, by file name, or by a unique part of its name."""
        def names(model: ModelInfo) -> set[str]:
            return {model.name, model.name.rsplit("/", 1)[-1], str(model.extra.get("title", ""))}

        exact = [model for model in models if query in names(model)]
        partial = [m for m in models if any(query.lower() in name.lower() for name in names(m))]
        found = exact or partial
        if len(found) == 1 or exact:
            return ModelChoice(found[0].backend, found[0].name)
        known = ", ".join(sorted(model.name.rsplit("/", 1)[-1] for model in found or models)) or "none"
        why = "matches several models" if found else "matches no model"
        raise ModelNotFound(f"{query!r} {why}; known: {known}")

    def options_for(self, conversation: Conversation) -> GenerationOptions:
        """Sampling settings: the conversation's own, else the configured defaults."""
        params = conversation.params
        return GenerationOptions(
            temperature=params.get("temperature", self.defaults.temperature),
            top_p=params.get("top_p", self.defaults.top_p),
            max_tokens=params.get("max_tokens", self.defaults.max_tokens),
            seed=params.get("seed"),
            stop=tuple(str(stop) for stop in params.get("stop", self.defaults.stop)),
            lora=params.get("lora"),
        )

    def new_conversation(self, model: ModelChoice | None = None) -> Conversation:
        return self.store.create_conversation(
            model=model.name if model else "",
            backend=model.backend if model else "",
            system_prompt=self.defaults.system_prompt,
        )

    def history_turns(self, conversation: Conversation, *, before_id: int | None = None) -> list[ChatTurn]:
        """What the model is sent: the system prompt and every message with text."""
        turns = [ChatTurn(Role.SYSTEM, conversation.system_prompt)] if conversation.system_prompt else []
        for message in self.store.list_messages(conversation.id):
            if before_id is not None and message.id >= before_id:
                break
            if message.content and message.role is not Role.SYSTEM:
                turns.append(ChatTurn(message.role, message.content))
        return turns

    async def send(self, conversation_id: int, text: str, model: ModelChoice) -> AsyncIterator[ChatUpdate]:
        """Commit `text` as the user's message, then stream and commit the answer.

        Use it inside `contextlib.aclosing` so that a cancelled consumer marks the
        answer interrupted at once rather than when the generator is collected.
        """
        self.save_unsaved()
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None:
            raise EngineError(f"conversation {conversation_id} no longer exists")
        if not conversation.title:
            self.store.rename_conversation(conversation_id, title_from(text))
        if (conversation.backend, conversation.model) != (model.backend, model.name):
            self.store.set_conversation_model(conversation_id, model.name, model.backend)
        question = self.store.add_message(conversation_id, Role.USER, text)
        yield QuestionSaved(question)
        turns, context = self.fitted_turns(conversation, question.id, model)
        answer = self.store.add_message(
            conversation_id, Role.ASSISTANT, "", status=MessageStatus.STREAMING,
            model=model.name, backend=model.backend,
        )
        yield AnswerStarted(answer, context)
        async for update in self._stream_answer(answer, model, turns, self.options_for(conversation)):
            yield update

    async def regenerate(self, conversation_id: int, answer_id: int, model: ModelChoice) -> AsyncIterator[ChatUpdate]:
        """Answer the question of `answer_id` again; the new answer is a branch beside the old."""
        self.save_unsaved()
        conversation = self.store.get_conversation(conversation_id)
        old = self.store.get_message(answer_id)
        if conversation is None or old is None or old.parent_id is None:
            raise EngineError("that answer no longer exists")
        turns, context = self.fitted_turns(conversation, old.parent_id, model)
        answer = self.store.add_message(
            conversation_id, Role.ASSISTANT, "", status=MessageStatus.STREAMING,
            model=model.name, backend=model.backend, sibling_of=answer_id,
        )
        yield AnswerStarted(answer, context)
        async for update in self._stream_answer(answer, model, turns, self.options_for(conversation)):
            yield update

    async def resend(
        self, conversation_id: int, message_id: int, text: str, model: ModelChoice
    ) -> AsyncIterator[ChatUpdate]:
        """Send `text` in place of the earlier question `message_id`, as a new branch, and answer it."""
        self.save_unsaved()
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None:
            raise EngineError(f"conversation {conversation_id} no longer exists")
        question = self.store.add_message(conversation_id, Role.USER, text, sibling_of=message_id)
        yield QuestionSaved(question)
        turns, context = self.fitted_turns(conversation, question.id, model)
        answer = self.store.add_message(
            conversation_id, Role.ASSISTANT, "", status=MessageStatus.STREAMING,
            model=model.name, backend=model.backend,
        )
        yield AnswerStarted(answer, context)
        async for update in self._stream_answer(answer, model, turns, self.options_for(conversation)):
            yield update

    async def _stream_answer(
        self, answer: ChatMessage, model: ModelChoice, turns: list[ChatTurn], options: GenerationOptions
    ) -> AsyncIterator[ChatUpdate]:
        parts: list[str] = []
        autosave = _Autosave(lambda: self._save_progress(answer, parts), self.commit_interval)
        stats: Finished | None = None
        measurement = self.energy.begin() if self.energy is not None else None
        status, error = MessageStatus.COMPLETE, ""
        self._streaming[answer.id] = (answer, parts)
        try:
            engine = self.engine(model.backend)
            async with aclosing(engine.chat(model.name, turns, options)) as events:
                async for event in events:
                    if isinstance(event, TextPiece):
                        parts.append(event.text)
                        yield AnswerPiece(event.text)
                        autosave.changed()
                    else:
                        stats = event
        except EngineError as engine_error:
            status, error = MessageStatus.ERROR, str(engine_error)
        except Exception as unexpected:  # noqa: BLE001 - a bug must not lose the answer either
            logger.exception("answer %s failed unexpectedly", answer.id)
            status, error = MessageStatus.ERROR, f"unexpected error: {type(unexpected).__name__}: {unexpected}"
        except (asyncio.CancelledError, GeneratorExit):
            # Keep what was shown, marked: the user stopped it, nothing failed.
            self._finish(answer, parts, MessageStatus.INTERRUPTED, "", None, _wh(measurement))
            raise
        finally:
            autosave.stop()
            self._streaming.pop(answer.id, None)
        final, finish_error = self._finish(answer, parts, status, error, stats, _wh(measurement))
        yield AnswerEnded(final, stats if status is MessageStatus.COMPLETE else None, finish_error)

    def _save_progress(self, answer: ChatMessage, parts: list[str]) -> None:
        """Commit the answer so far; a failure (disk full) is logged and retried at the next save,
        and the answer's end reports it if it persists."""
        try:
            self.store.update_message_content(answer.id, "".join(parts))
        except StoreError as error:
            logger.warning("could not save answer %s so far: %s", answer.id, error)

    def _finish(
        self, answer: ChatMessage, parts: list[str], status: MessageStatus, error: str, stats: Finished | None,
        energy_wh: float | None = None,
    ) -> tuple[ChatMessage, str]:
        """Store the answer's final state; if that fails, the answer lives on in memory."""
        figures = dict(
            prompt_tokens=stats.prompt_tokens if stats else None,
            completion_tokens=stats.completion_tokens if stats else None,
            ttft_s=stats.ttft_s if stats else None,
            gen_s=stats.gen_s if stats else None,
            energy_wh=energy_wh,
        )
        final = dict(content="".join(parts), status=status, error=error, **figures)
        try:
            return self.store.finish_message(answer.id, **final), ""
        except StoreError as store_error:
            logger.warning("could not save answer %s: %s", answer.id, store_error)
            self._unsaved[answer.id] = final
            return replace(answer, **final), str(store_error)

    def interrupt_streaming(self) -> None:
        """Store every answer still arriving as interrupted, with all that arrived: for closing
        without the event loop's help (a hung-up terminal), where no cancellation can run."""
        for answer, parts in list(self._streaming.values()):
            self._finish(answer, parts, MessageStatus.INTERRUPTED, "", None)
        self._streaming.clear()

    def save_unsaved(self) -> int:
        """Write the answers whose final save failed, now that there may be room again; returns
        how many are still unsaved. Runs before each new question and when lchat closes."""
        for answer_id, final in list(self._unsaved.items()):
            try:
                self.store.finish_message(answer_id, **final)
            except NotFound:
                pass  # Its conversation was deleted meanwhile.
            except StoreError as error:
                logger.warning("answer %s still cannot be saved: %s", answer_id, error)
                break
            del self._unsaved[answer_id]
        return len(self._unsaved)


class _Autosave:
    """Commits an answer at most every `interval` seconds while it streams, and once more
    `interval` after the last piece: an engine that stalls must not hold text back from disk."""

    def __init__(self, save: Callable[[], object], interval: float) -> None:
        self._save = save
        self._interval = interval
        self._last = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None

    def changed(self) -> None:
        wait = self._last + self._interval - time.monotonic()
        if wait <= 0:
            self.save()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(wait, self.save)

    def save(self) -> None:
        self.stop()
        self._last = time.monotonic()
        self._save()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def _wh(measurement: Measurement | None) -> float | None:
    """The measured energy; a failing meter costs the figure, never the answer."""
    try:
        return measurement.end() if measurement is not None else None
    except Exception:  # noqa: BLE001
        logger.exception("energy measurement failed")
        return None


def title_from(text: str, limit: int = 60) -> str:
    """A conversation title from its first message: the first line, shortened."""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = " ".join(first_line.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"
