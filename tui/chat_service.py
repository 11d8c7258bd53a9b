"""Sending a message: commit the question, stream the answer, commit it as it grows.

Both the TUI and `lchat ask` go through here, so what reaches the history is the same.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Collection, Mapping, Sequence
from contextlib import aclosing, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tui.answer_draft import AnswerDraft
from tui.attachments import total_tokens
from tui.config import ChatConfig
from tui.context_window import estimate_tokens, fit, message_tokens
from tui.domain import (
    Attachment,
    ChatMessage,
    ChatTurn,
    Conversation,
    GenerationOptions,
    MessagePart,
    MessageStatus,
    ModelInfo,
    PartKind,
    Role,
)
from tui.engines.base import (
    BadRequest,
    Engine,
    EngineError,
    EngineUnavailable,
    Finished,
    ModelNotFound,
    ReasoningPiece,
    TextPiece,
)
from tui.guard.safe_text import one_line
from tui.models.names import ModelChoice, Waiting, configured, resolve, split_name
from tui.sent_turns import message_turns
from tui.stats.energy import EnergySource, Measurement
from tui.store import HistoryStore, NotFound, StoreError
from tui.tools.approval import Approver, refuse_all
from tui.tools.loop import ToolCallShown, ToolResultShown, ToolRunner, with_tools

if TYPE_CHECKING:
    from tui.tools.service import ToolService

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
class ReasoningUpdate:
    """More of the answer's reasoning (raw: not yet made terminal-safe)."""

    text: str


@dataclass(frozen=True)
class AnswerEnded:
    """The answer's final row; `stats` is None when it failed."""

    message: ChatMessage
    stats: Finished | None
    save_error: str = ""
    """Why the answer could not be written to the history (disk full...), or empty."""


@dataclass(frozen=True)
class ToolNotice:
    """Something to tell the user about the tools of this answer: a server that failed (one line)."""

    text: str


ChatUpdate = (
    QuestionSaved
    | AnswerStarted
    | AnswerPiece
    | ReasoningUpdate
    | AnswerEnded
    | ToolCallShown
    | ToolResultShown
    | ToolNotice
)


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
        tools: ToolService | None = None,
    ) -> None:
        self._context_lengths: dict[tuple[str, str], int] = {}
        self.store = store
        self.engines = dict(engines)
        self.defaults = defaults
        self.commit_interval = commit_interval
        self.energy = energy
        """Measures each answer's energy (tui.stats); None stores no energy figures."""
        self.tools = tools
        """The MCP servers and who may run their tools; None when none is configured."""
        self._unsaved: dict[int, dict[str, Any]] = {}
        """Final states of answers the store refused (disk full), by message id, to write later."""
        self._streaming: dict[int, AnswerDraft] = {}
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
        results = await asyncio.gather(*(self.engines[name].list_models() for name in names), return_exceptions=True)
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
        models with (the engine's `context_cap`: the embedded engine's n_ctx, an
        Ollama host's num_ctx), so one backend's cap never trims another's."""
        own = conversation.params.get("context_length") if conversation else None
        known = self._context_lengths.get((model.backend, model.name)) if model else None
        engine = self.engines.get(model.backend) if model else None
        cap = engine.context_cap if engine is not None else None
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
        fitted = fit(conversation.system_prompt, path, limit=limit, reserve=reserve, turns_of=self._turns_of)
        dropped = fitted.dropped
        if limit and len(path) == window:  # The part never read was left out too.
            dropped += self.store.path_length(end_id) - len(path)
        return fitted.turns, ContextInfo(fitted.tokens, limit, dropped)

    def _turns_of(self, message: ChatMessage) -> list[ChatTurn]:
        """A stored message as the engine is sent it: with its attachments' bytes (an
        attachment whose bytes are gone is left out) and its tool calls and results, without
        its reasoning."""
        attachments = []
        for part in message.parts_of(PartKind.ATTACHMENT):
            data = self.store.get_blob(str(part.data.get("sha256", "")))
            if data is not None:
                attachments.append(Attachment(str(part.data.get("name", "file")), str(part.data.get("mime", "")), data))
        return message_turns(message, attachments)

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
            think=params.get("think", self.defaults.think) or None,
        )

    def set_tools(self, conversation: Conversation, chosen: list[str] | None) -> Conversation:
        """Turn the conversation's tools on (servers or server.tool names) or off (None)."""
        from tui.tools.service import TOOLS_PARAM

        params = {key: value for key, value in conversation.params.items() if key != TOOLS_PARAM}
        if chosen is not None:
            params[TOOLS_PARAM] = list(chosen)
        self.store.set_conversation_settings(conversation.id, system_prompt=conversation.system_prompt, params=params)
        return replace(conversation, params=params)

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

    def send(
        self,
        conversation_id: int,
        text: str,
        model: ModelChoice,
        *,
        attachments: Sequence[Attachment] = (),
        approver: Approver = refuse_all,
    ) -> AsyncGenerator[ChatUpdate, None]:
        """Commit `text` (and its attachments) as the user's message, then stream and commit
        the answer; `approver` asks the user about each tool call not allowed already (the
        default refuses them).

        Use it inside `contextlib.aclosing` so that a cancelled consumer marks the
        answer interrupted at once rather than when the generator is collected.
        """
        # The one generator itself is returned, so closing it (aclosing) reaches the answer at once.
        return self._answer(conversation_id, model, question=text, attachments=attachments, approver=approver)

    def regenerate(
        self, conversation_id: int, answer_id: int, model: ModelChoice, *, approver: Approver = refuse_all
    ) -> AsyncGenerator[ChatUpdate, None]:
        """Answer the question of `answer_id` again; the new answer is a branch beside the old."""
        return self._answer(conversation_id, model, replacing_answer=answer_id, approver=approver)

    def resend(
        self, conversation_id: int, message_id: int, text: str, model: ModelChoice, *, approver: Approver = refuse_all
    ) -> AsyncGenerator[ChatUpdate, None]:
        """Send `text` in place of the earlier question `message_id`, as a new branch, and answer it."""
        return self._answer(conversation_id, model, question=text, replacing_question=message_id, approver=approver)

    async def _answer(
        self,
        conversation_id: int,
        model: ModelChoice,
        *,
        question: str | None = None,
        attachments: Sequence[Attachment] = (),
        replacing_question: int | None = None,
        replacing_answer: int | None = None,
        approver: Approver = refuse_all,
    ) -> AsyncGenerator[ChatUpdate, None]:
        """The one path of every answer: store the question (unless an answer is redone), open
        the answer's row, stream into it."""
        self.save_unsaved()
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None:
            raise EngineError(f"conversation {conversation_id} no longer exists")
        if question is not None:
            self.check_images_seen(model, attachments)
            self._check_attachments_fit(conversation, model, question, attachments)
            if not conversation.title:
                self.store.rename_conversation(conversation_id, title_from(question))
            if (conversation.backend, conversation.model) != (model.backend, model.name):
                self.store.set_conversation_model(conversation_id, model.name, model.backend)
            saved = self.store.add_message(
                conversation_id,
                Role.USER,
                question,
                sibling_of=replacing_question,
                parts=[attachment_part(attachment) for attachment in attachments],
            )
            yield QuestionSaved(saved)
            asked_id = saved.id
        else:
            old = self.store.get_message(replacing_answer) if replacing_answer is not None else None
            if old is None or old.parent_id is None:
                raise EngineError("that answer no longer exists")
            asked_id = old.parent_id
        turns, context = self.fitted_turns(conversation, asked_id, model)
        answer = self.store.add_message(
            conversation_id,
            Role.ASSISTANT,
            "",
            status=MessageStatus.STREAMING,
            model=model.name,
            backend=model.backend,
            sibling_of=replacing_answer,
        )
        yield AnswerStarted(answer, context)
        async with aclosing(self._stream_answer(answer, model, turns, conversation, approver)) as updates:
            async for update in updates:
                yield update

    def _check_attachments_fit(
        self, conversation: Conversation, model: ModelChoice, question: str, attachments: Sequence[Attachment]
    ) -> None:
        """Refuse, before anything is stored or sent, attachments that cannot fit the context."""
        limit = self.context_limit(conversation, model)
        if not attachments or not limit:
            return
        needed = estimate_tokens(question) + total_tokens(attachments)
        if needed > limit:
            raise BadRequest(
                f"The message with its attachments needs about {needed:,} tokens, more than the "
                f"{limit:,}-token context of {model.name}; nothing was sent."
            )

    def check_images_seen(self, model: ModelChoice, attachments: Sequence[Attachment]) -> None:
        """Refuse, before anything is stored or sent, images for a model its engine knows to be
        blind; a model the engine cannot judge (None: an OpenAI-compatible server) gets them."""
        blind = self.blind_model(model)
        if blind is not None and any(attachment.is_image for attachment in attachments):
            raise BadRequest(f"{one_line(blind, 80)} does not take images; nothing was sent.")

    def blind_model(self, model: ModelChoice | None) -> str | None:
        """`model`'s name as shown when its engine knows it takes no images (so an image for it is
        refused before it is decoded); None when it does, or when that is not known."""
        engine = self.engines.get(model.backend) if model is not None else None
        if model is None or engine is None or engine.supports_images(model.name) is not False:
            return None
        return Path(model.name).name if Path(model.name).is_absolute() else model.name  # A GGUF's path

    async def _tool_runner(
        self, conversation: Conversation, approver: Approver
    ) -> tuple[ToolRunner | None, list[ToolNotice]]:
        """The runner for this conversation's tools (servers started now), and a notice per failed server."""
        if self.tools is None or self.tools.chosen(conversation) is None:
            return None, []
        tools = await self.tools.for_conversation(conversation)
        problems = [*self.tools.problems.values(), *self.tools.allow_notices()]
        notices = [ToolNotice(problem) for problem in problems]
        return (self.tools.runner(conversation.id, tools, approver) if tools else None), notices

    async def _stream_answer(
        self,
        answer: ChatMessage,
        model: ModelChoice,
        turns: list[ChatTurn],
        conversation: Conversation,
        approver: Approver,
    ) -> AsyncGenerator[ChatUpdate, None]:
        options = self.options_for(conversation)
        draft = AnswerDraft(self.store, answer)
        autosave = _Autosave(draft.save, self.commit_interval)
        stats: Finished | None = None
        measurement = self.energy.begin() if self.energy is not None and self._runs_here(model) else None
        status, error = MessageStatus.COMPLETE, ""
        self._streaming[answer.id] = draft
        try:
            engine = self.engine(model.backend)
            runner, notices = await self._tool_runner(conversation, approver)
            for notice in notices:
                yield notice
            rounds = with_tools(engine.chat, model.name, turns, options, runner, draft, lambda: draft.text)
            async with aclosing(rounds) as events:
                async for event in events:
                    if isinstance(event, TextPiece):
                        draft.add_text(event.text)
                        yield AnswerPiece(event.text)
                        autosave.changed()
                    elif isinstance(event, ReasoningPiece):
                        draft.add_reasoning(event.text)
                        yield ReasoningUpdate(event.text)
                        autosave.changed()
                    elif isinstance(event, ToolCallShown | ToolResultShown):
                        yield event
                    elif isinstance(event, Finished):
                        stats = with_reasoning_figures(event, draft)
        except EngineError as engine_error:
            status, error = MessageStatus.ERROR, str(engine_error)
        except Exception as unexpected:  # noqa: BLE001 - a bug must not lose the answer either
            logger.exception("answer %s failed unexpectedly", answer.id)
            status, error = MessageStatus.ERROR, f"unexpected error: {type(unexpected).__name__}: {unexpected}"
        except (asyncio.CancelledError, GeneratorExit):
            # Keep what was shown, marked: the user stopped it, nothing failed.
            self._finish(draft, MessageStatus.INTERRUPTED, "", None, _wh(measurement))
            raise
        finally:
            autosave.stop()
            self._streaming.pop(answer.id, None)
        final, finish_error = self._finish(draft, status, error, stats, _wh(measurement))
        yield AnswerEnded(final, stats if status is MessageStatus.COMPLETE else None, finish_error)

    def _runs_here(self, model: ModelChoice) -> bool:
        """Whether `model` runs on this machine, so this machine's power is what it draws."""
        engine = self.engines.get(model.backend)
        return engine is not None and engine.local

    def _finish(
        self,
        draft: AnswerDraft,
        status: MessageStatus,
        error: str,
        stats: Finished | None,
        energy_wh: float | None = None,
    ) -> tuple[ChatMessage, str]:
        """Store the answer's final state; if that fails, the answer lives on in memory."""
        if stats is None and draft.reasoning_chars:  # Interrupted or failed: keep what is known.
            stats_figures: dict[str, Any] = dict(reasoning_ttft_s=draft.first_reasoning_s)
        else:
            stats_figures = dict(
                prompt_tokens=stats.prompt_tokens if stats else None,
                completion_tokens=stats.completion_tokens if stats else None,
                ttft_s=stats.ttft_s if stats else None,
                gen_s=stats.gen_s if stats else None,
                reasoning_tokens=stats.reasoning_tokens if stats else None,
                reasoning_estimated=stats.reasoning_estimated if stats else False,
                reasoning_ttft_s=stats.reasoning_ttft_s if stats else None,
            )
        final = dict(
            content=draft.text, status=status, error=error, energy_wh=energy_wh, parts=draft.parts, **stats_figures
        )
        answer_id = draft.message.id
        try:
            return self.store.finish_message(answer_id, **final), ""
        except StoreError as store_error:
            logger.warning("could not save answer %s: %s", answer_id, store_error)
            self._unsaved[answer_id] = final
            shown = {key: value for key, value in final.items() if key != "parts"}
            return replace(draft.message, parts=tuple(draft.parts), **shown), str(store_error)

    def interrupt_streaming(self) -> None:
        """Store every answer still arriving as interrupted, with all that arrived: for closing
        without the event loop's help (a hung-up terminal), where no cancellation can run."""
        for draft in list(self._streaming.values()):
            self._finish(draft, MessageStatus.INTERRUPTED, "", None)
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


def with_reasoning_figures(stats: Finished, draft: AnswerDraft) -> Finished:
    """The engine's figures, completed from what lchat saw where the engine is silent: when the
    first reasoning arrived, and the reasoning's share of the tokens (marked as estimated)."""
    if not draft.reasoning_chars:
        return stats
    reasoning_ttft = stats.reasoning_ttft_s if stats.reasoning_ttft_s is not None else draft.first_reasoning_s
    tokens, estimated = stats.reasoning_tokens, stats.reasoning_estimated
    if tokens is None and stats.completion_tokens:
        share = draft.reasoning_chars / (draft.reasoning_chars + len(draft.text))
        tokens, estimated = round(stats.completion_tokens * share), True
    return replace(stats, reasoning_ttft_s=reasoning_ttft, reasoning_tokens=tokens, reasoning_estimated=estimated)


def attachment_part(attachment: Attachment) -> tuple[MessagePart, bytes]:
    """A user's attachment as the part (and bytes) the history keeps."""
    data = {"name": attachment.name, "mime": attachment.mime, "size": len(attachment.data)}
    return MessagePart(PartKind.ATTACHMENT, data=data), attachment.data


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
