"""The one path of every answer: store the question, open the answer's row, stream into it,
finish it. Both the TUI and `lchat ask` go through here, so what reaches the history is the same."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING

from tui.chat.answer_draft import AnswerDraft
from tui.chat.events import (
    AnswerEnded,
    AnswerPiece,
    AnswerStarted,
    ChatUpdate,
    QuestionSaved,
    ReasoningUpdate,
    ToolNotice,
)
from tui.chat.model_directory import ModelDirectory
from tui.chat.prompt import PromptBuilder
from tui.chat.saving import COMMIT_INTERVAL_S, AnswerSaver, Autosave, with_reasoning_figures
from tui.chat.settings import SettingsService
from tui.domain import Attachment, ChatMessage, ChatTurn, Conversation, MessagePart, MessageStatus, Role
from tui.domain.parts import AttachmentData, attachment_part_of
from tui.engines.base import EngineError, Finished, ReasoningPiece, TextPiece
from tui.models.names import ModelChoice
from tui.stats.energy import EnergySource, Measurement
from tui.store import HistoryStore
from tui.tools.approval import Approver, refuse_all
from tui.tools.loop import ToolCallShown, ToolResultShown, ToolRunner, with_tools

if TYPE_CHECKING:
    from tui.tools.service import ToolService

logger = logging.getLogger(__name__)


class AnswerPipeline:
    """Sends questions and streams answers into the history."""

    def __init__(
        self,
        store: HistoryStore,
        models: ModelDirectory,
        settings: SettingsService,
        prompts: PromptBuilder,
        saver: AnswerSaver,
        *,
        commit_interval: float = COMMIT_INTERVAL_S,
        energy: EnergySource | None = None,
        tools: ToolService | None = None,
    ) -> None:
        self.store = store
        self.models = models
        self.settings = settings
        self.prompts = prompts
        self.saver = saver
        self.commit_interval = commit_interval
        self.energy = energy
        """Measures each answer's energy (tui.stats); None stores no energy figures."""
        self.tools = tools
        """The MCP servers and who may run their tools (the services' own); None when none is configured."""
        self._stopped: dict[int, ChatMessage] = {}
        """Answers stopped by their consumer, by id, as stored, until taken: a closed stream can yield no
        AnswerEnded."""

    def take_stopped(self, answer_id: int) -> ChatMessage | None:
        """The answer `answer_id` as saved when its consumer stopped it (a closed stream cannot yield
        AnswerEnded); given once, None for an answer that was not stopped."""
        return self._stopped.pop(answer_id, None)

    def send(
        self,
        conversation_id: int | None,
        text: str,
        model: ModelChoice,
        *,
        attachments: Sequence[Attachment] = (),
        approver: Approver = refuse_all,
    ) -> AsyncGenerator[ChatUpdate, None]:
        """Commit `text` (and its attachments) as the user's message, then stream and commit
        the answer; `approver` asks the user about each tool call not allowed already (the
        default refuses them). With no conversation, a new one is made for `model` once the
        question passed its checks; QuestionSaved carries it.

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
        conversation_id: int | None,
        model: ModelChoice,
        *,
        question: str | None = None,
        attachments: Sequence[Attachment] = (),
        replacing_question: int | None = None,
        replacing_answer: int | None = None,
        approver: Approver = refuse_all,
    ) -> AsyncGenerator[ChatUpdate, None]:
        """Store the question (unless an answer is redone), open the answer's row, stream into it."""
        self.saver.save_unsaved()
        await self.models.context_length(model)  # Known before anything is fitted to it.
        conversation = self._conversation(conversation_id, model, question)
        if question is not None:
            saved, conversation = self._ask(conversation, model, question, attachments, replacing_question)
            yield QuestionSaved(saved, conversation)
            asked_id = saved.id
        else:
            old = self.store.get_message(replacing_answer) if replacing_answer is not None else None
            if old is None or old.parent_id is None:
                raise EngineError("that answer no longer exists")
            asked_id = old.parent_id
        turns, context = self.prompts.fitted_turns(conversation, asked_id, model)
        answer = self.store.add_message(
            conversation.id,
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

    def _conversation(self, conversation_id: int | None, model: ModelChoice, question: str | None) -> Conversation:
        """The conversation answered in; None with a question: a new one (made after the checks)."""
        if conversation_id is None and question is not None:
            return self.settings.draft_conversation(model)
        conversation = self.store.get_conversation(conversation_id) if conversation_id is not None else None
        if conversation is None:
            raise EngineError(f"conversation {conversation_id} no longer exists")
        return conversation

    def _ask(
        self,
        conversation: Conversation,
        model: ModelChoice,
        question: str,
        attachments: Sequence[Attachment],
        replacing: int | None,
    ) -> tuple[ChatMessage, Conversation]:
        """Check and store the question: the message, and the conversation as it is after it."""
        self.prompts.check_images_seen(model, attachments)
        self.prompts.check_attachments_fit(conversation, model, question, attachments)
        if not conversation.id:
            conversation = self.settings.new_conversation(model)
        if not conversation.title:
            self.store.rename_conversation(conversation.id, title_from(question))
        if (conversation.backend, conversation.model) != (model.backend, model.name):
            self.store.set_conversation_model(conversation.id, model.name, model.backend)
        saved = self.store.add_message(
            conversation.id,
            Role.USER,
            question,
            sibling_of=replacing,
            parts=[attachment_part(attachment) for attachment in attachments],
        )
        return saved, self.store.get_conversation(conversation.id) or conversation

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
        options = self.settings.options_for(conversation)
        draft = AnswerDraft(self.store, answer)
        autosave = Autosave(draft.save, self.commit_interval)
        stats: Finished | None = None
        measurement = self.energy.begin() if self.energy is not None and self.models.runs_here(model) else None
        status, error = MessageStatus.COMPLETE, ""
        self.saver.streaming[answer.id] = draft
        try:
            engine = self.models.engine(model.backend)
            runner, notices = await self._tool_runner(conversation, approver)
            for notice in notices:
                yield notice
            async with aclosing(with_tools(engine.chat, model.name, turns, options, runner, draft)) as events:
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
            self._stopped[answer.id], _ = self.saver.finish(
                draft, MessageStatus.INTERRUPTED, "", None, _wh(measurement)
            )
            raise
        finally:
            autosave.stop()
            self.saver.streaming.pop(answer.id, None)
        final, finish_error = self.saver.finish(draft, status, error, stats, _wh(measurement))
        now = self.store.get_conversation(conversation.id)
        yield AnswerEnded(final, stats if status is MessageStatus.COMPLETE else None, finish_error, now)


def attachment_part(attachment: Attachment) -> tuple[MessagePart, bytes]:
    """A user's attachment as the part (and bytes) the history keeps."""
    data = AttachmentData(attachment.name, attachment.mime, len(attachment.data))
    return attachment_part_of(data), attachment.data


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
