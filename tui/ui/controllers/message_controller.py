"""The message controller: picking a message in the chat, moving between its branches, and copying
a message or a code block.

It reads the conversation shown from `ChatState`; to show another branch it is handed the
conversations controller's `open_at`, the one writer of that conversation."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable

from textual.screen import Screen

from tui.domain import Role
from tui.services import Services
from tui.ui.clipboard import cannot_copy, code_blocks, copyable, osc52, passthrough
from tui.ui.controllers.state import ChatState
from tui.ui.textual_compat import terminal_driver
from tui.ui.toast import tell
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.message_view import MessageView


def target_view(chat: ChatView, role: Role | None = None) -> MessageView | None:
    """The message an action applies to: the selected one if it fits `role`, else the last that does."""
    selected = chat.selected_view
    if selected is not None and role in (None, selected.message.role):
        return selected
    return next((v for v in reversed(chat.message_views) if role in (None, v.message.role)), None)


class MessageController:
    """Owns which code block was copied last (pressing again copies the next one)."""

    def __init__(
        self,
        *,
        screen: Screen,
        services: Services,
        state: ChatState,
        chat: ChatView,
        answering: Callable[[], bool],
        open_at: Callable[[int, int], Awaitable[None]],
    ) -> None:
        """`answering()` says (and returns True) when an answer is streaming, which blocks moving branches;
        `open_at(conversation_id, message_id)` shows a conversation around one message."""
        self.screen = screen
        self.services = services
        self.state = state
        self.chat = chat
        self.open_at = open_at
        self.answering = answering
        self._code_copy: tuple[int, int] | None = None

    def select(self, step: int) -> None:
        self.chat.select_step(step)

    def toggle_reasoning(self) -> None:
        """Show or fold the reasoning of the selected answer (else the last that has some)."""
        selected = self.chat.selected_view
        views = [selected] if selected is not None else list(reversed(self.chat.message_views))
        if not any(view.toggle_reasoning() for view in views if view.message.role is Role.ASSISTANT):
            tell(self.screen, "No reasoning to show: this answer came without any.", severity="warning")

    def toggle_tool_calls(self) -> None:
        """Unfold or fold the tool calls of the selected answer (else the last that made some)."""
        selected = self.chat.selected_view
        views = [selected] if selected is not None else list(reversed(self.chat.message_views))
        if not any(view.toggle_tool_calls() for view in views if view.message.role is Role.ASSISTANT):
            tell(self.screen, "No tool calls to show: this answer made none.", severity="warning")

    # Branches

    async def switch_branch(self, step: int) -> None:
        conversation = self.state.conversation
        if self.answering() or conversation is None:
            return
        selected = self.chat.selected_view
        view = (
            selected
            if selected is not None and selected.branch and selected.branch[1] > 1
            else next((v for v in reversed(self.chat.message_views) if v.branch and v.branch[1] > 1), None)
        )
        if view is None:
            tell(self.screen, "No other branches here: ctrl+r regenerates an answer, ctrl+o edits a question.")
            return
        moved = self.services.store.switch_branch(view.message_id, step)
        if moved is None:
            tell(self.screen, "That is the " + ("first" if step < 0 else "last") + " branch.")
            return
        await self.open_at(conversation.id, moved)
        self.chat.select(moved)

    def show_branch_marks(self, message_ids: list[int], *, replaced: bool) -> None:
        """Mark the messages just shown that have other branches with their place among them."""
        ids = [view.message_id for view in self.chat.message_views] if replaced else message_ids
        self.chat.show_branches(self.services.store.branch_positions(ids))

    # Copy

    def copy_message(self) -> None:
        view = target_view(self.chat)
        if view is None:
            tell(self.screen, "Nothing to copy yet.", severity="warning")
            return
        self.copy_text(view.message.content, "message")

    def copy_code(self) -> None:
        selected = self.chat.selected_view
        views = [selected] if selected else list(reversed(self.chat.message_views))
        for view in views:
            blocks = code_blocks(view.message.content)
            if blocks:
                break
        else:
            tell(self.screen, "No code block in " + ("this message." if selected else "the chat."), severity="warning")
            return
        last = self._code_copy
        index = (last[1] + 1) % len(blocks) if last and last[0] == view.message_id else 0
        self._code_copy = (view.message_id, index)
        self.copy_text(blocks[index].code, f"code block {index + 1} of {len(blocks)}")

    def copy_text(self, text: str, what: str) -> None:
        """Put `text` on the clipboard through the terminal, or save it and say why not; the
        text only, never the terminal codes an answer may hold."""
        text = copyable(text)
        problem = cannot_copy(text, os.environ)
        app = self.screen.app
        if problem is None:
            app.copy_to_clipboard(text)  # Plain OSC 52 (and Textual's own paste buffer).
            driver = terminal_driver(app)
            for wrapped in passthrough(osc52(text), os.environ):
                if driver is not None:
                    driver.write(wrapped)
            tell(self.screen, f"Copied the {what} ({len(text):,} characters) to the clipboard through the terminal.")
            return
        path = self.services.paths.data_dir / "clipboard.txt"
        try:
            path.write_text(text, encoding="utf-8")
            os.chmod(path, 0o600)
        except OSError as error:
            tell(
                self.screen, f"Could not copy the {what}: {problem}; saving it failed too ({error}).", severity="error"
            )
            return
        tell(
            self.screen, f"Could not copy the {what}: {problem}. It is saved in {path}.", severity="warning", timeout=10
        )
