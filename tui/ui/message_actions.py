"""The main screen's actions on single messages: select, regenerate, edit and resend, move
between branches, copy a message or a code block."""

from __future__ import annotations

import os

from textual import on
from textual.binding import Binding
from textual.screen import Screen

from tui.clipboard import cannot_copy, code_blocks, osc52, passthrough
from tui.domain import Role
from tui.ui.textual_compat import terminal_driver
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.message_view import MessageView

EDIT_TITLE = "Editing: Enter sends it as a new branch · Esc cancels"


class MessageActions(Screen):
    """Mixed into the main screen (which provides `services`, `conversation`, `generating`,
    `current_model`, `generate` and `open_at_message`)."""

    # Listed by F1 and the palette, not the footer: each footer key is a widget that Textual
    # rebuilds at every focus change, and 21 of them cost a fifth of a second at start.
    BINDINGS = [
        Binding("alt+up", "select_message(-1)", "Select previous message", show=False, id="chat.select_previous"),
        Binding("alt+down", "select_message(1)", "Select next message", show=False, id="chat.select_next"),
        Binding("ctrl+r", "regenerate", "Regenerate", show=False, id="chat.regenerate"),
        Binding("ctrl+o", "edit_message", "Edit & resend", show=False, id="chat.edit"),
        Binding("alt+left", "switch_branch(-1)", "Previous branch", show=False, id="chat.branch_previous"),
        Binding("alt+right", "switch_branch(1)", "Next branch", show=False, id="chat.branch_next"),
        Binding("ctrl+t", "copy_message", "Copy message", show=False, id="chat.copy"),
        # alt+b too: inside tmux, ctrl+b is the prefix and never reaches lchat.
        Binding("ctrl+b,alt+b", "copy_code", "Copy code block", show=False, id="chat.copy_code"),
    ]

    editing_id: int | None = None
    """The earlier question being edited in the composer, if any."""
    _code_copy: tuple[int, int] | None = None

    # Which message

    def action_select_message(self, step: int) -> None:
        self.query_one(ChatView).select_step(step)

    def _target(self, role: Role | None = None) -> MessageView | None:
        """The selected message if it fits `role`, else the last message that does."""
        chat = self.query_one(ChatView)
        selected = chat.selected_view
        if selected is not None and role in (None, selected.message.role):
            return selected
        return next((v for v in reversed(chat.message_views) if role in (None, v.message.role)), None)

    def _busy(self) -> bool:
        if self.generating:
            self.notify("An answer is still being written: Esc cancels it.", severity="warning")
            return True
        return False

    # Regenerate, edit and resend

    async def action_regenerate(self) -> None:
        if self._busy() or self.conversation is None:
            return
        view = self._target(Role.ASSISTANT)
        model = self.current_model()
        if view is None or model is None:
            self.notify("No answer to regenerate." if view is None else "No model to answer with.", severity="warning")
            return
        await self._replace_and_generate(
            view.message_id, lambda model: self.services.chat.regenerate(
                self.conversation.id, view.message_id, model, approver=self.tools.approve)
        )

    def action_edit_message(self) -> None:
        if self._busy():
            return
        view = self._target(Role.USER)
        if view is None:
            self.notify("No question to edit.", severity="warning")
            return
        composer = self.query_one(Composer)
        composer.text = view.message.content
        composer.move_cursor(composer.document.end)
        composer.border_title = EDIT_TITLE
        composer.focus()
        self.editing_id = view.message_id
        self.query_one(ChatView).select(view.message_id)

    def cancel_edit(self) -> None:
        """Leave edit mode; the composer is emptied."""
        self.editing_id = None
        composer = self.query_one(Composer)
        composer.border_title = None
        composer.clear()
        self.query_one(ChatView).select(None)

    async def resend_edited(self, text: str) -> None:
        """Send the edited question as a new branch beside the original, and answer it."""
        edited = self.editing_id
        if edited is None or self.conversation is None or self._busy():
            return
        self.cancel_edit()
        conversation_id = self.conversation.id
        await self._replace_and_generate(
            edited, lambda model: self.services.chat.resend(
                conversation_id, edited, text, model, approver=self.tools.approve)
        )

    async def _replace_and_generate(self, first_replaced: int, stream_for) -> None:
        """Unmount the message being replaced and all below it, then stream the new branch."""
        await self.show_latest()
        await self.query_one(ChatView).remove_from(first_replaced)
        self.generate(self.conversation.id, "", self.current_model(), stream_for=stream_for)

    # Branches

    async def action_switch_branch(self, step: int) -> None:
        if self._busy() or self.conversation is None:
            return
        chat = self.query_one(ChatView)
        selected = chat.selected_view
        view = selected if selected is not None and selected.branch and selected.branch[1] > 1 else next(
            (v for v in reversed(chat.message_views) if v.branch and v.branch[1] > 1), None
        )
        if view is None:
            self.notify("No other branches here: ctrl+r regenerates an answer, ctrl+o edits a question.")
            return
        moved = self.services.store.switch_branch(view.message_id, step)
        if moved is None:
            self.notify("That is the " + ("first" if step < 0 else "last") + " branch.")
            return
        await self.open_at_message(self.conversation.id, moved)
        self.query_one(ChatView).select(moved)

    @on(ChatView.Shown)
    def show_branch_marks(self, event: ChatView.Shown) -> None:
        ids = [view.message_id for view in event.chat_view.message_views] if event.replaced else event.message_ids
        event.chat_view.show_branches(self.services.store.branch_positions(ids))

    # Copy

    def action_copy_message(self) -> None:
        view = self._target()
        if view is None:
            self.notify("Nothing to copy yet.", severity="warning")
            return
        self.copy_text(view.message.content, "message")

    def action_copy_code(self) -> None:
        chat = self.query_one(ChatView)
        views = [chat.selected_view] if chat.selected_view else list(reversed(chat.message_views))
        for view in views:
            blocks = code_blocks(view.message.content)
            if blocks:
                break
        else:
            self.notify("No code block in " + ("this message." if chat.selected_view else "the chat."), severity="warning")
            return
        # Pressing again copies the next block of the same message.
        last = self._code_copy
        index = (last[1] + 1) % len(blocks) if last and last[0] == view.message_id else 0
        self._code_copy = (view.message_id, index)
        self.copy_text(blocks[index].code, f"code block {index + 1} of {len(blocks)}")

    def copy_text(self, text: str, what: str) -> None:
        """Put `text` on the clipboard through the terminal, or save it and say why not."""
        problem = cannot_copy(text, os.environ)
        if problem is None:
            self.app.copy_to_clipboard(text)  # Plain OSC 52 (and Textual's own paste buffer).
            driver = terminal_driver(self.app)
            for wrapped in passthrough(osc52(text), os.environ):
                if driver is not None:
                    driver.write(wrapped)
            self.notify(f"Copied the {what} ({len(text):,} characters) to the clipboard through the terminal.")
            return
        path = self.services.paths.data_dir / "clipboard.txt"
        try:
            path.write_text(text, encoding="utf-8")
            os.chmod(path, 0o600)
        except OSError as error:
            self.notify(f"Could not copy the {what}: {problem}; saving it failed too ({error}).", severity="error")
            return
        self.notify(f"Could not copy the {what}: {problem}. It is saved in {path}.", severity="warning", timeout=10)
