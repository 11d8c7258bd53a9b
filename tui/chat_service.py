"""Sending a message: commit the question, stream the answer, commit it as it grows.

Both the TUI and `lchat ask` go through here, so what reaches the history is the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing
from dataclasses import dataclass

from tui.config import ChatConfig
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
from tui.store import HistoryStore

logger = logging.getLogger(__name__)

COMMIT_INTERVAL_S = 0.25
"""How often a streaming answer is written to the history: often enough that a kill loses
a quarter second at most, rarely enough that SQLite never shows in a profile."""


@dataclass(frozen=True)
class QuestionSaved:
    """The user's message is in the history; generation starts next."""

    message: ChatMessage


@dataclass(frozen=True)
class AnswerStarted:
    """The answer's row exists (status streaming)."""

    message: ChatMessage


@dataclass(frozen=True)
class AnswerPiece:
    """More answer text, as the engine produced it (raw: not yet made terminal-safe)."""

    text: str


@dataclass(frozen=True)
class AnswerEnded:
    """The answer's final row; `stats` is None when it failed."""

    message: ChatMessage
    stats: Finished | None


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
    ) -> None:
        self.store = store
        self.engines = dict(engines)
        self.defaults = defaults
        self.commit_interval = commit_interval

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
        return models, offline

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
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None:
            raise EngineError(f"conversation {conversation_id} no longer exists")
        if not conversation.title:
            self.store.rename_conversation(conversation_id, title_from(text))
        if (conversation.backend, conversation.model) != (model.backend, model.name):
            self.store.set_conversation_model(conversation_id, model.name, model.backend)
        question = self.store.add_message(conversation_id, Role.USER, text)
        yield QuestionSaved(question)
        turns = self.history_turns(conversation)
        answer = self.store.add_message(
            conversation_id, Role.ASSISTANT, "", status=MessageStatus.STREAMING,
            model=model.name, backend=model.backend,
        )
        yield AnswerStarted(answer)
        async for update in self._stream_answer(answer, model, turns, self.options_for(conversation)):
            yield update

    async def _stream_answer(
        self, answer: ChatMessage, model: ModelChoice, turns: list[ChatTurn], options: GenerationOptions
    ) -> AsyncIterator[ChatUpdate]:
        parts: list[str] = []
        last_commit = time.monotonic()
        stats: Finished | None = None
        try:
            engine = self.engine(model.backend)
            async with aclosing(engine.chat(model.name, turns, options)) as events:
                async for event in events:
                    if isinstance(event, TextPiece):
                        parts.append(event.text)
                        yield AnswerPiece(event.text)
                        now = time.monotonic()
                        if now - last_commit >= self.commit_interval:
                            self.store.update_message_content(answer.id, "".join(parts))
                            last_commit = now
                    else:
                        stats = event
        except EngineError as error:
            final = self.store.finish_message(
                answer.id, content="".join(parts), status=MessageStatus.ERROR, error=str(error)
            )
            yield AnswerEnded(final, None)
            return
        except Exception as error:  # noqa: BLE001 - a bug must not lose the answer either
            logger.exception("answer %s failed unexpectedly", answer.id)
            final = self.store.finish_message(
                answer.id, content="".join(parts), status=MessageStatus.ERROR,
                error=f"unexpected error: {type(error).__name__}: {error}",
            )
            yield AnswerEnded(final, None)
            return
        except (asyncio.CancelledError, GeneratorExit):
            # Keep what was shown, marked: the user stopped it, nothing failed.
            self.store.finish_message(answer.id, content="".join(parts), status=MessageStatus.INTERRUPTED)
            raise
        final = self.store.finish_message(
            answer.id,
            content="".join(parts),
            status=MessageStatus.COMPLETE,
            prompt_tokens=stats.prompt_tokens if stats else None,
            completion_tokens=stats.completion_tokens if stats else None,
            ttft_s=stats.ttft_s if stats else None,
            gen_s=stats.gen_s if stats else None,
        )
        yield AnswerEnded(final, stats)


def title_from(text: str, limit: int = 60) -> str:
    """A conversation title from its first message: the first line, shortened."""
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    title = " ".join(first_line.split())
    return title if len(title) <= limit else title[: limit - 1].rstrip() + "…"
