"""Each update of an answer in flight, to the screen: the question and answer views, the reasoning
block, tool parts, the header's context figure and the models pane's last-answer line.

It reads which conversation is shown from `ChatState` and writes none: the conversations
controller's `show_changed`/`reload_list` and the settings controller's context figures are handed to it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from textual.screen import Screen

from tui.chat.events import (
    AnswerEnded,
    AnswerPiece,
    AnswerStarted,
    ChatUpdate,
    ContextInfo,
    QuestionSaved,
    ReasoningUpdate,
    ToolNotice,
)
from tui.domain import Attachment, ChatMessage, Conversation
from tui.tools.loop import ToolCallShown, ToolResultShown
from tui.ui.controllers.state import ChatState
from tui.ui.toast import tell
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.message_view import MessageView
from tui.ui.widgets.model_pane import ModelPane


@dataclass
class InFlight:
    """One answer being written: which conversation it belongs to and how far it got."""

    conversation_id: int
    question: str
    """What the user typed ("" for a regenerated answer); given back when it could not be saved."""
    view: MessageView | None = None
    """The answer's view while it is shown and streaming."""
    question_saved: bool = False
    message: ChatMessage | None = None
    """The answer's row: as started, then as AnswerEnded carries it."""
    attachments: tuple[Attachment, ...] = ()
    """Files and images sent with the question."""


class AnswerPainter:
    """Shows what the chat service reports of one answer; the answer controller owns it."""

    def __init__(
        self,
        *,
        screen: Screen,
        state: ChatState,
        chat: ChatView,
        model_pane: ModelPane,
        attachments_sent: Callable[[Sequence[Attachment]], None],
        changed: Callable[[Conversation], None],
        reload_list: Callable[[], None],
        context_shown: Callable[[ContextInfo | None], None],
        answer_context: Callable[[ChatView], None],
    ) -> None:
        """`changed(conversation)` shows the conversation the saved question's event carries (titled now), `reload_list()`
        the list (an answer elsewhere moved its row); `context_shown(info)` and `answer_context(chat)`
        set the header's token figure when an answer starts and ends."""
        self.screen = screen
        self.state = state
        self.changed = changed
        self.reload_list = reload_list
        self.context_shown = context_shown
        self.answer_context = answer_context
        self.chat = chat
        self.model_pane = model_pane
        self.attachments_sent = attachments_sent

    async def apply(self, answer: InFlight, update: ChatUpdate) -> None:
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
                    await answer.view.show_tool_part(update.part)
            case ToolNotice():
                tell(self.screen, update.text, severity="warning", timeout=10)
            case AnswerEnded():
                await self._answer_ended(answer, update)

    def _showing(self, answer: InFlight) -> bool:
        """Whether the answer's conversation is the one on screen."""
        current = self.state.conversation
        return current is not None and current.id == answer.conversation_id

    async def _question_saved(self, answer: InFlight, update: QuestionSaved) -> None:
        answer.question_saved = True
        if answer.attachments:
            self.attachments_sent(answer.attachments)
        if self._showing(answer):
            self.changed(update.conversation)  # Its title is set now.
            await self.chat.add_message(update.message)
        else:
            self.reload_list()

    async def _answer_started(self, answer: InFlight, update: AnswerStarted) -> None:
        if self._showing(answer):
            answer.message = update.message
            answer.view = await self.chat.add_message(update.message)
            answer.view.start_stream()
            self.context_shown(update.context)

    async def _answer_piece(self, answer: InFlight, update: AnswerPiece) -> None:
        if answer.view is not None and answer.view.is_attached:
            await answer.view.write(update.text)

    async def _reasoning(self, answer: InFlight, update: ReasoningUpdate) -> None:
        if answer.view is not None and answer.view.is_attached:
            await answer.view.write_reasoning(update.text)

    async def _answer_ended(self, answer: InFlight, update: AnswerEnded) -> None:
        answer.message = update.message
        if answer.view is not None and answer.view.is_attached:
            await answer.view.finish(update.message)
        answer.view = None
        if self._showing(answer):
            self.answer_context(self.chat)
        if update.save_error:
            tell(
                self.screen,
                f"The answer is shown but could not be saved: {update.save_error}. "
                "lchat tries again before your next message and when it quits.",
                severity="error",
                timeout=15,
            )
        stats = update.stats
        if stats and stats.notice:  # The engine's word on this answer (fewer GPU layers than asked...).
            tell(self.screen, stats.notice, severity="warning", timeout=10)
        if stats and stats.tokens_per_s:
            loaded = f" (model loaded in {stats.load_s:.1f} s)" if stats.load_s else ""
            self.model_pane.show_status(
                f"Last answer: {stats.completion_tokens} tokens, {stats.tokens_per_s:.1f} tok/s{loaded}"
            )
