"""The conversation list's side of the main screen: paging, rename, pin, archive, export."""

from __future__ import annotations

from textual import on, work
from textual.binding import Binding
from textual.screen import Screen

from tui import portable
from tui.domain import Conversation
from tui.safe_text import one_line
from tui.store import StoreError
from tui.ui.prompts import InputQuestion
from tui.ui.search_screen import SearchScreen
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.conversation_list import ConversationList

LIST_PAGE = 100
"""Conversations fetched at a time: the first page is what the first paint waits for."""
RELOAD_MAX = 1000
"""A reload keeps at most this many rows the user has scrolled through."""
CONTEXT_BEFORE = 6
"""Messages shown above one opened from a search hit."""
WINDOW_AFTER = 30
"""Messages mounted below it (more load on scrolling down)."""


class ConversationActions(Screen):
    """Mixed into the main screen, which provides `services`, `conversation` and
    `open_conversation`; only the screen touches the store, the list just asks."""

    BINDINGS = [Binding("ctrl+f", "open_search", "Search", show=False, id="search.open")]

    list_archived: bool = False
    """Whether the list shows the archive instead of the live conversations."""

    def reload_conversation_list(self) -> None:
        """Show the list from the top again, keeping as many rows as were loaded."""
        widget = self.query_one(ConversationList)
        want = max(LIST_PAGE, min(widget.option_count, RELOAD_MAX))
        page = self.services.store.list_conversation_page(archived=self.list_archived, limit=want + 1)
        self._list_rows: list[Conversation] = page[:want]
        current = self.conversation.id if self.conversation else None
        widget.show(self._list_rows, current_id=current, has_more=len(page) > want)
        widget.border_title = "Archive" if self.list_archived else "Chats"

    @on(ConversationList.MoreWanted)
    def load_more_conversations(self, event: ConversationList.MoreWanted) -> None:
        rows = getattr(self, "_list_rows", [])
        page = self.services.store.list_conversation_page(
            archived=self.list_archived, after=rows[-1] if rows else None, limit=LIST_PAGE + 1
        )
        rows.extend(page[:LIST_PAGE])
        self.query_one(ConversationList).append(page[:LIST_PAGE], has_more=len(page) > LIST_PAGE)

    @on(ConversationList.Requested)
    async def conversation_requested(self, event: ConversationList.Requested) -> None:
        if event.verb == "archive_view":
            self.list_archived = not self.list_archived
            self.reload_conversation_list()
            return
        if event.verb == "search":
            self.action_open_search()
            return
        conversation = self.services.store.get_conversation(event.conversation_id) if event.conversation_id else None
        if conversation is None:
            return
        try:
            if event.verb == "rename":
                self.rename_conversation(conversation)
            elif event.verb == "pin":
                self.services.store.set_pinned(conversation.id, not conversation.pinned)
                self.notify(f"{'Unpinned' if conversation.pinned else 'Pinned'} “{_title(conversation)}”.")
            elif event.verb == "archive":
                self.services.store.set_archived(conversation.id, not conversation.archived)
                where = "back in the list" if conversation.archived else "archived (A shows the archive)"
                self.notify(f"“{_title(conversation)}” is {where}.")
            elif event.verb == "export":
                self.export_conversation(conversation.id)
        except StoreError as error:
            self.notify(str(error), severity="error", timeout=10)
        self._refresh_current()
        self.reload_conversation_list()

    @work(group="dialogs")
    async def rename_conversation(self, conversation: Conversation) -> None:
        title = await self.app.push_screen_wait(InputQuestion("New title:", value=conversation.title))
        if title is None or not title.strip():
            return
        try:
            self.services.store.rename_conversation(conversation.id, title.strip())
        except StoreError as error:
            self.notify(str(error), severity="error", timeout=10)
            return
        self._refresh_current()
        self.reload_conversation_list()
        self.show_title()

    def export_conversation(self, conversation_id: int) -> None:
        """Write the conversation as Markdown and JSON into the data dir's exports/."""
        folder = self.services.paths.data_dir / "exports"
        try:
            written = portable.export_files(self.services.store, conversation_id, folder)
        except (OSError, LookupError) as error:
            self.notify(f"Export failed: {error}", severity="error", timeout=10)
            return
        self.notify("Exported to " + " and ".join(str(path) for path in written), timeout=10)

    def action_export_current(self) -> None:
        if self.conversation is None:
            self.notify("Nothing to export yet.", severity="warning")
            return
        self.export_conversation(self.conversation.id)

    # Search, and opening a conversation at one message

    def action_open_search(self) -> None:
        self.search_and_open()

    @work(group="dialogs")
    async def search_and_open(self) -> None:
        hit = await self.app.push_screen_wait(SearchScreen(self.services.store.search))
        if hit is not None:
            await self.open_at_message(hit.conversation_id, hit.message_id, found=True)

    async def open_at_message(self, conversation_id: int, message_id: int, *, found: bool = False) -> None:
        """Show a conversation around one message, making the branch it is on current."""
        store = self.services.store
        try:
            store.select_message(message_id)
        except StoreError as error:
            self.notify(str(error), severity="warning")
            return
        self.conversation = store.get_conversation(conversation_id)
        target = store.get_message(message_id)
        if self.conversation is None or target is None:
            return
        before = store.list_messages(conversation_id, before_id=message_id, limit=CONTEXT_BEFORE)
        after = store.messages_after(message_id, limit=WINDOW_AFTER + 1)
        chat = self.query_one(ChatView)
        await chat.show_messages(
            [*before, target, *after[:WINDOW_AFTER]], has_older=len(before) == CONTEXT_BEFORE,
            has_newer=len(after) > WINDOW_AFTER, focus_id=message_id,
        )
        view = chat.view_for(message_id)
        if view is not None and found:
            view.add_class("-found")
        self.reload_conversation_list()
        self.show_title()
        self.show_model()

    @on(ChatView.NewerWanted)
    async def load_newer(self, event: ChatView.NewerWanted) -> None:
        newer = self.services.store.messages_after(event.after_id, limit=WINDOW_AFTER + 1)
        await event.chat_view.append_messages(newer[:WINDOW_AFTER], has_newer=len(newer) > WINDOW_AFTER)

    async def show_latest(self) -> None:
        """Reopen the conversation at its end when a window in its middle is shown."""
        if self.conversation is not None and self.query_one(ChatView).has_newer:
            await self.open_conversation(self.conversation.id)

    def _refresh_current(self) -> None:
        if self.conversation is not None:
            self.conversation = self.services.store.get_conversation(self.conversation.id) or self.conversation


def _title(conversation: Conversation) -> str:
    return one_line(conversation.title or "New conversation", 50)
