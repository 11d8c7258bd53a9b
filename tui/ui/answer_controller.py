"""The answer controller: the answer in flight. Sending, regenerating and resending an edited
question start one; the service commits it as it streams into the chat; Esc cancels it."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass

from textual.screen import Screen

from tui.chat_service import (
    AnswerEnded,
    AnswerPiece,
    AnswerStarted,
    ChatUpdate,
    ModelChoice,
    QuestionSaved,
    ReasoningUpdate,
    ToolNotice,
)
from tui.domain import Attachment, Role
from tui.engines.base import EngineError
from tui.model_names import Waiting
from tui.services import Services
from tui.store import StoreError
from tui.tools.loop import ToolCallShown, ToolResultShown
from tui.ui.conversations import ConversationsController
from tui.ui.message_controller import target_view
from tui.ui.models_controller import ModelsController
from tui.ui.settings_controller import SettingsController
from tui.ui.toast import tell
from tui.ui.tools_controller import ToolsController
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.message_view import MessageView
from tui.ui.widgets.model_pane import ModelPane

GENERATION = "generation"
"""The worker group of the answer being written (one at a time)."""
EDIT_TITLE = "Editing: Enter sends it as a new branch · Esc cancels"
NO_MODEL = "No model to answer with: add a GGUF file (see README)."
STILL_WRITING = "An answer is still being written: Esc cancels it."

StreamFor = Callable[[ModelChoice], AsyncGenerator[ChatUpdate, None]]
"""Gives the updates of an answer for the model chosen (regenerate and resend use one)."""


@dataclass
class InFlight:
    """One answer being written: which conversation it belongs to and how far it got."""

    conversation_id: int
    question: str
    """What the user typed ("" for a regenerated answer); given back when it could not be saved."""
    view: MessageView | None = None
    """The answer's view while it is shown and streaming."""
    question_saved: bool = False
    attachments: tuple[Attachment, ...] = ()
    """Files and images sent with the question."""


class AnswerController:
    """Owns the answer in flight and the question being edited; nothing else writes to the chat."""

    def __init__(
        self,
        *,
        screen: Screen,
        services: Services,
        conversations: ConversationsController,
        models: ModelsController,
        settings: SettingsController,
        chat: ChatView,
        composer: Composer,
        model_pane: ModelPane,
        tools: ToolsController,
        attachments_sent: Callable[[Sequence[Attachment]], None],
    ) -> None:
        self.screen = screen
        self.attachments_sent = attachments_sent  # Told once a question with attachments is saved.
        self.tools = tools
        self.services = services
        self.conversations = conversations
        self.models = models
        self.settings = settings
        self.chat = chat
        self.composer = composer
        self.model_pane = model_pane
        self.editing_id: int | None = None
        """The earlier question being edited in the composer, if any."""
        self._in_flight: InFlight | None = None

    @property
    def generating(self) -> bool:
        return any(worker.group == GENERATION and worker.is_running for worker in self.screen.workers)

    def refuse_while_generating(self) -> bool:
        """Say so and return True while an answer is being written."""
        if self.generating:
            tell(self.screen, STILL_WRITING, severity="warning")
        return self.generating

    # Starting an answer

    async def submit(self, text: str, attachments: Sequence[Attachment] = ()) -> None:
        """The composer's Enter: send `text` with `attachments`, or resend the question being edited."""
        if self.editing_id is not None:
            await self.resend_edited(text)
            return
        if self.refuse_while_generating():
            return
        chosen = self.models.model_to_answer()
        if chosen is None:
            return
        if isinstance(chosen, Waiting) and chosen.name:  # The configured model's backend is still asked.
            tell(self.screen, str(chosen))
        model = chosen if isinstance(chosen, ModelChoice) else None
        try:
            conversation = self.conversations.current or self.services.chat.new_conversation(model)
        except StoreError as error:
            tell(self.screen, f"Nothing was sent: {error}", severity="error", timeout=10)
            return
        self.conversations.current = conversation
        self.composer.clear()
        self.start(conversation.id, text, model, attachments=attachments)

    def start(
        self,
        conversation_id: int,
        text: str,
        model: ModelChoice | None,
        stream_for: StreamFor | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> None:
        """Stream one answer into the chat: to `text` (and attachments), or what `stream_for(model)` gives."""
        answer = InFlight(conversation_id, text, attachments=tuple(attachments))
        self._in_flight = answer
        self.screen.run_worker(
            self._run(answer, model, stream_for), group=GENERATION, exclusive=True, exit_on_error=False
        )

    async def _run(self, answer: InFlight, model: ModelChoice | None, stream_for: StreamFor | None) -> None:
        if model is None:  # Sent before the model list arrived: wait for it.
            await self.models.loaded.wait()
            chosen = self.models.model_to_answer()
            if not isinstance(chosen, ModelChoice):  # Said why; the question is not lost.
                self.composer.text = self.composer.text or answer.question
                return
            model = chosen
        try:
            await self.conversations.show_latest()
            chat = self.services.chat
            stream = (
                stream_for(model)
                if stream_for
                else chat.send(
                    answer.conversation_id,
                    answer.question,
                    model,
                    approver=self.tools.approve,
                    attachments=answer.attachments,
                )
            )
            async with aclosing(stream) as updates:
                async for update in updates:
                    await self._apply(answer, update)
            self.models.reload_backend(model.backend)  # Its model is loaded now: the pane says so.
        except StoreError as error:
            self._not_saved(answer, error)
        except EngineError as refused:  # Refused before anything was sent (images to a blind model...).
            tell(self.screen, str(refused), severity="error", timeout=10)
            if not self.composer.text:
                self.composer.text = answer.question
        finally:
            if answer.view is not None and answer.view.is_attached:
                stored = self.services.store.list_messages(answer.conversation_id, limit=1)
                if stored:
                    await answer.view.finish(stored[-1])

    # Each update of the answer, to the screen

    async def _apply(self, answer: InFlight, update: ChatUpdate) -> None:
        match update:
            case QuestionSaved():
                await self._question_saved(answer, update)
            case AnswerStarted():
                await self._answer_started(answer, update)
            case AnswerPiece():
                await self._answer_piece(answer, update)
            case ReasoningUpdate():
                await self._reasoning(answer, update)
            case ToolCallShown() | ToolResultShown():
                if answer.view is not None and answer.view.is_attached:
                    answer.view.show_tool_part(update.part)
            case ToolNotice():
                tell(self.screen, update.text, severity="warning", timeout=10)
            case AnswerEnded():
                await self._answer_ended(answer, update)

    def _showing(self, answer: InFlight) -> bool:
        """Whether the answer's conversation is the one on screen."""
        current = self.conversations.current
        return current is not None and current.id == answer.conversation_id

    async def _question_saved(self, answer: InFlight, update: QuestionSaved) -> None:
        answer.question_saved = True
        if answer.attachments:
            self.attachments_sent(answer.attachments)
        if self._showing(answer):
            self.conversations.reread()  # Its title is set now.
            await self.chat.add_message(update.message)
        else:
            self.conversations.reload_list()

    async def _answer_started(self, answer: InFlight, update: AnswerStarted) -> None:
        if self._showing(answer):
            answer.view = await self.chat.add_message(update.message)
            answer.view.start_stream()
            self.settings.context_shown(update.context)

    async def _answer_piece(self, answer: InFlight, update: AnswerPiece) -> None:
        if answer.view is not None and answer.view.is_attached:
            await answer.view.write(update.text)

    async def _reasoning(self, answer: InFlight, update: ReasoningUpdate) -> None:
        if answer.view is not None and answer.view.is_attached:
            await answer.view.write_reasoning(update.text)

    async def _answer_ended(self, answer: InFlight, update: AnswerEnded) -> None:
        if answer.view is not None and answer.view.is_attached:
            await answer.view.finish(update.message)
        answer.view = None
        self.settings.answer_context(update)
        if update.save_error:
            tell(
                self.screen,
                f"The answer is shown but could not be saved: {update.save_error}. "
                "lchat tries again before your next message and when it quits.",
                severity="error",
                timeout=15,
            )
        stats = update.stats
        if stats and stats.tokens_per_s:
            loaded = f" (model loaded in {stats.load_s:.1f} s)" if stats.load_s else ""
            self.model_pane.show_status(
                f"Last answer: {stats.completion_tokens} tokens, {stats.tokens_per_s:.1f} tok/s{loaded}"
            )

    def _not_saved(self, answer: InFlight, error: StoreError) -> None:
        if answer.question_saved:
            tell(self.screen, f"Your message is saved but no answer could be started: {error}", severity="error")
            return
        tell(self.screen, f"Nothing was sent, your message could not be saved: {error}", severity="error", timeout=15)
        if not self.composer.text:  # Nothing was sent, so give the text back.
            self.composer.text = answer.question

    # Stopping

    def cancel(self) -> None:
        """Esc: stop the answer being written (what arrived is kept), else leave edit mode."""
        if self.generating:
            self.screen.workers.cancel_group(self.screen, GENERATION)
            tell(self.screen, "Answer cancelled; what arrived is kept.")
        elif self.editing_id is not None:
            self.cancel_edit()

    def cancel_for(self, conversation_id: int) -> None:
        """Stop the answer if it is being written into this conversation (it is being deleted)."""
        if self.generating and self._in_flight is not None and self._in_flight.conversation_id == conversation_id:
            self.cancel()

    # Regenerate, edit and resend

    async def regenerate(self) -> None:
        conversation = self.conversations.current
        if self.refuse_while_generating() or conversation is None:
            return
        view = target_view(self.chat, Role.ASSISTANT)
        model = self.models.current()
        if view is None or model is None:
            tell(
                self.screen,
                "No answer to regenerate." if view is None else "No model to answer with.",
                severity="warning",
            )
            return
        message_id = view.message_id
        await self._replace_and_start(
            message_id,
            lambda model: self.services.chat.regenerate(
                conversation.id, message_id, model, approver=self.tools.approve
            ),
        )

    def edit(self) -> None:
        """Put an earlier question in the composer; Enter sends it as a new branch."""
        if self.refuse_while_generating():
            return
        view = target_view(self.chat, Role.USER)
        if view is None:
            tell(self.screen, "No question to edit.", severity="warning")
            return
        self.composer.text = view.message.content
        self.composer.move_cursor(self.composer.document.end)
        self.composer.border_title = EDIT_TITLE
        self.composer.focus()
        self.editing_id = view.message_id
        self.chat.select(view.message_id)

    def cancel_edit(self) -> None:
        """Leave edit mode; the composer is emptied."""
        self.editing_id = None
        self.composer.border_title = None
        self.composer.clear()
        self.chat.select(None)

    async def resend_edited(self, text: str) -> None:
        """Send the edited question as a new branch beside the original, and answer it."""
        edited, conversation = self.editing_id, self.conversations.current
        if edited is None or conversation is None or self.refuse_while_generating():
            return
        self.cancel_edit()
        await self._replace_and_start(
            edited,
            lambda model: self.services.chat.resend(conversation.id, edited, text, model, approver=self.tools.approve),
        )

    async def _replace_and_start(self, first_replaced: int, stream_for: StreamFor) -> None:
        """Unmount the message being replaced and all below it, then stream the new branch."""
        conversation = self.conversations.current
        if conversation is None:
            return
        await self.conversations.show_latest()
        await self.chat.remove_from(first_replaced)
        self.start(conversation.id, "", self.models.current(), stream_for=stream_for)
