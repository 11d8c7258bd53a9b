"""The answer controller: the answer in flight. Sending, regenerating and resending an edited
question start one; the service commits it as it streams into the chat; Esc cancels it.

It reads the conversation shown, its model and whether the models are listed from `ChatState`;
what it needs of its siblings arrives as single callables (`ensure`, `show_latest`,
`model_to_answer`, `reload_backend`, `approve`), never as the controllers themselves."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing

from textual.screen import Screen

from tui.chat.events import ChatUpdate
from tui.domain import Attachment, Role
from tui.engines.base import EngineError
from tui.models.names import ModelChoice, Waiting
from tui.services import Services
from tui.store import StoreError
from tui.tools.approval import ApprovalRequest, Decision
from tui.ui.controllers.answer_painter import AnswerPainter, InFlight
from tui.ui.controllers.message_controller import target_view
from tui.ui.controllers.state import ChatState, Ensure
from tui.ui.toast import tell
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.composer import Composer

GENERATION = "generation"
"""The worker group of the answer being written (one at a time)."""
EDIT_TITLE = "Editing: Enter sends it as a new branch · Esc cancels"
NO_MODEL = "No model to answer with: add a GGUF file (see README)."
STILL_WRITING = "An answer is still being written: Esc cancels it."

StreamFor = Callable[[ModelChoice], AsyncGenerator[ChatUpdate, None]]
"""Gives the updates of an answer for the model chosen (regenerate and resend use one)."""


class AnswerController:
    """Owns the answer in flight and the question being edited; nothing else writes to the chat."""

    def __init__(
        self,
        *,
        screen: Screen,
        services: Services,
        state: ChatState,
        chat: ChatView,
        composer: Composer,
        painter: AnswerPainter,
        ensure: Ensure,
        show_latest: Callable[[], Awaitable[None]],
        model_to_answer: Callable[[], ModelChoice | Waiting | None],
        reload_backend: Callable[[str], None],
        approve: Callable[[ApprovalRequest], Awaitable[Decision]],
    ) -> None:
        """`painter` shows each update; `ensure(model)` gives the conversation to send into (a fresh
        one saved first); `show_latest()` reopens it at its end; `model_to_answer()` is the model to
        answer with now (None after saying why none can); `reload_backend(name)` reads that
        backend's models again; `approve(request)` asks the user before a tool call."""
        self.screen = screen
        self.services = services
        self.state = state
        self.chat = chat
        self.composer = composer
        self.painter = painter
        self.ensure = ensure
        self.show_latest = show_latest
        self.model_to_answer = model_to_answer
        self.reload_backend = reload_backend
        self.approve = approve
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
        chosen = self.model_to_answer()
        if chosen is None:
            return
        if isinstance(chosen, Waiting) and chosen.name:  # The configured model's backend is still asked.
            tell(self.screen, str(chosen))
        model = chosen if isinstance(chosen, ModelChoice) else None
        conversation = self.ensure(model, refused="Nothing was sent: ", timeout=10)
        if conversation is None:
            return
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
            await self.state.loaded.wait()
            chosen = self.model_to_answer()
            if not isinstance(chosen, ModelChoice):  # Said why; the question is not lost.
                self.composer.text = self.composer.text or answer.question
                return
            model = chosen
        try:
            await self.show_latest()
            chat = self.services.chat
            stream = (
                stream_for(model)
                if stream_for
                else chat.answers.send(
                    answer.conversation_id,
                    answer.question,
                    model,
                    approver=self.approve,
                    attachments=answer.attachments,
                )
            )
            async with aclosing(stream) as updates:
                async for update in updates:
                    await self.painter.apply(answer, update)
            self.reload_backend(model.backend)  # Its model is loaded now: the pane says so.
        except StoreError as error:
            self._not_saved(answer, error)
        except EngineError as refused:  # Refused before anything was sent (images to a blind model...).
            tell(self.screen, str(refused), severity="error", timeout=10)
            if not self.composer.text:
                self.composer.text = answer.question
        finally:
            # Stopped mid-stream: no AnswerEnded came, so the service says what it kept.
            stopped = self.services.chat.answers.take_stopped(answer.message.id) if answer.message else None
            if stopped is not None and answer.view is not None and answer.view.is_attached:
                await answer.view.finish(stopped)

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
        conversation = self.state.conversation
        if self.refuse_while_generating() or conversation is None:
            return
        view = target_view(self.chat, Role.ASSISTANT)
        model = self.state.model
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
            lambda model: self.services.chat.answers.regenerate(
                conversation.id, message_id, model, approver=self.approve
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
        edited, conversation = self.editing_id, self.state.conversation
        if edited is None or conversation is None or self.refuse_while_generating():
            return
        self.cancel_edit()
        await self._replace_and_start(
            edited,
            lambda model: self.services.chat.answers.resend(
                conversation.id, edited, text, model, approver=self.approve
            ),
        )

    async def _replace_and_start(self, first_replaced: int, stream_for: StreamFor) -> None:
        """Unmount the message being replaced and all below it, then stream the new branch."""
        conversation = self.state.conversation
        if conversation is None:
            return
        await self.show_latest()
        await self.chat.remove_from(first_replaced)
        self.start(conversation.id, "", self.state.model, stream_for=stream_for)
