"""The conversations controller: which conversation is shown, the list beside it, and what the
list asks for (paging, rename, pin, archive, export, delete, search).

It is the only writer of `ChatState.conversation`: the other controllers read the state and
subscribe to it; those that must make a fresh conversation real (`ensure`) or show one whose
settings they changed (`show_changed`, with the conversation a service call returned) are handed
that method alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from textual.screen import Screen

from tui import portable
from tui.domain import Conversation
from tui.guard.safe_text import one_line
from tui.models.names import ModelChoice
from tui.services import Services
from tui.store import StoreError
from tui.ui.controllers.state import ChatState
from tui.ui.screens.confirm import ConfirmScreen
from tui.ui.screens.prompts import InputQuestion
from tui.ui.screens.search_screen import SearchScreen
from tui.ui.toast import tell
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.conversation_list import ConversationList

PAGE_SIZE = 30
"""Messages mounted at a time: a few screenfuls."""
LIST_PAGE = 100
"""Conversations fetched at a time: the first page is what the first paint waits for."""
RELOAD_MAX = 1000
"""A reload keeps at most this many rows the user has scrolled through."""
CONTEXT_BEFORE = 6
"""Messages shown above one opened from a search hit."""
WINDOW_AFTER = 30
"""Messages mounted below it (more load on scrolling down)."""
DIALOGS = "dialogs"
OUTSIDE_POLL_S = 2.0
"""Seconds between two looks for conversations that other lchat processes wrote (`lchat ask` beside the TUI)."""


class ConversationsController:
    """Owns the conversation shown and the rows of the list; the list widget only asks."""

    def __init__(
        self,
        *,
        screen: Screen,
        services: Services,
        state: ChatState,
        listing: ConversationList,
        chat: ChatView,
        deleting: Callable[[int], None],
    ) -> None:
        """`deleting(id)` runs before a conversation is deleted (to stop an answer streaming into it)."""
        self.screen = screen
        self.services = services
        self.store = services.store
        self.state = state
        self.listing = listing
        self.chat = chat
        self.deleting = deleting
        self.archived = False
        """Whether the list shows the archive instead of the live conversations."""
        self._rows: list[Conversation] = []
        self._outside_seen = self._outside_changes()

    # The conversation shown

    @property
    def current(self) -> Conversation | None:
        """The conversation shown (the state's; this controller alone writes it)."""
        return self.state.conversation

    @current.setter
    def current(self, conversation: Conversation | None) -> None:
        """Make `conversation` the one shown without reading the store (tests set one up this way)."""
        self.state.show(conversation)

    async def open(self, conversation_id: int | None) -> None:
        """Show a conversation (None: a fresh, not yet saved one)."""
        self.state.show(self.store.get_conversation(conversation_id) if conversation_id else None, announce=False)
        messages = self.store.list_messages(conversation_id, limit=PAGE_SIZE) if conversation_id else []
        await self.chat.show_messages(messages, has_older=len(messages) == PAGE_SIZE)
        self.reload_list()
        self.state.announce()

    async def open_at(self, conversation_id: int, message_id: int, *, found: bool = False) -> None:
        """Show a conversation around one message, making the branch it is on current."""
        try:
            self.store.select_message(message_id)
        except StoreError as error:
            tell(self.screen, str(error), severity="warning")
            return
        self.state.show(self.store.get_conversation(conversation_id), announce=False)
        target = self.store.get_message(message_id)
        if self.current is None or target is None:
            return
        before = self.store.list_messages(conversation_id, before_id=message_id, limit=CONTEXT_BEFORE)
        after = self.store.messages_after(message_id, limit=WINDOW_AFTER + 1)
        await self.chat.show_messages(
            [*before, target, *after[:WINDOW_AFTER]],
            has_older=len(before) == CONTEXT_BEFORE,
            has_newer=len(after) > WINDOW_AFTER,
            focus_id=message_id,
        )
        view = self.chat.view_for(message_id)
        if view is not None and found:
            view.add_class("-found")
        self.reload_list()
        self.state.announce()

    async def show_latest(self) -> None:
        """Reopen the conversation at its end when a window in its middle is shown."""
        if self.current is not None and self.chat.has_newer:
            await self.open(self.current.id)

    async def load_older(self, before_id: int) -> None:
        if self.current is None:
            return
        older = self.store.list_messages(self.current.id, before_id=before_id, limit=PAGE_SIZE)
        await self.chat.prepend_messages(older, has_older=len(older) == PAGE_SIZE)

    async def load_newer(self, after_id: int) -> None:
        newer = self.store.messages_after(after_id, limit=WINDOW_AFTER + 1)
        await self.chat.append_messages(newer[:WINDOW_AFTER], has_newer=len(newer) > WINDOW_AFTER)

    def ensure(
        self, model: ModelChoice | None, *, refused: str = "", timeout: float | None = None
    ) -> Conversation | None:
        """The conversation shown; a fresh one is saved first (with `model`) so it can hold settings.
        When that fails, a toast says `refused` followed by the error, and None is returned."""
        if self.current is None:
            try:
                conversation = self.services.chat.settings.new_conversation(model)
            except StoreError as error:
                tell(self.screen, f"{refused}{error}", severity="error", timeout=timeout)
                return None
            self.state.show(conversation)
            self.reload_list()
        return self.current

    def show_changed(self, conversation: Conversation) -> None:
        """`conversation` as a call just changed it (title, model, settings, flags): shown when it is
        the one on screen, and in the list; never read again from the store."""
        if self.current is not None and self.current.id == conversation.id:
            self.state.show(conversation, announce=False)
        self.reload_list()
        self.state.announce()

    # The list

    def reload_list(self, *, highlight: int | None = None) -> None:
        """Show the list from the top again, keeping as many rows as were loaded; the row of
        `highlight` (default: the conversation shown) is highlighted."""
        want = max(LIST_PAGE, min(self.listing.option_count, RELOAD_MAX))
        page = self.store.list_conversation_page(archived=self.archived, limit=want + 1)
        self._rows = page[:want]
        if highlight is None and self.current is not None:
            highlight = self.current.id
        self.listing.show(self._rows, current_id=highlight, has_more=len(page) > want)
        self.listing.border_title = "Archive" if self.archived else "Chats"

    def notice_outside_changes(self) -> None:
        """Show what other lchat processes wrote since the last look; a timer calls this. The
        conversation shown and the row highlighted stay as they are."""
        seen = self._outside_changes()
        if seen is None or seen == self._outside_seen:
            return
        try:
            self.reload_list(highlight=self.listing.highlighted_id)
        except StoreError:
            return  # Looked at again on the next tick.
        self._outside_seen = seen

    def _outside_changes(self) -> int | None:
        try:
            return self.store.outside_changes()
        except StoreError:  # Closed while quitting, or the disk refused: look again next time.
            return None

    def load_more(self) -> None:
        page = self.store.list_conversation_page(
            archived=self.archived, after=self._rows[-1] if self._rows else None, limit=LIST_PAGE + 1
        )
        self._rows.extend(page[:LIST_PAGE])
        self.listing.append(page[:LIST_PAGE], has_more=len(page) > LIST_PAGE)

    def request(self, verb: str, conversation_id: int | None) -> None:
        """What a key in the list asked for: rename, pin, archive, archive_view, export, search."""
        if verb == "archive_view":
            self.archived = not self.archived
            self.reload_list()
            return
        if verb == "search":
            self.search()
            return
        conversation = self.store.get_conversation(conversation_id) if conversation_id else None
        if conversation is None:
            return
        changed = conversation
        try:
            if verb == "rename":
                self.screen.run_worker(self._rename(conversation), group=DIALOGS)
            elif verb == "pin":
                self.store.set_pinned(conversation.id, not conversation.pinned)
                changed = replace(conversation, pinned=not conversation.pinned)
                tell(self.screen, f"{'Unpinned' if conversation.pinned else 'Pinned'} “{_title(conversation)}”.")
            elif verb == "archive":
                self.store.set_archived(conversation.id, not conversation.archived)
                changed = replace(conversation, archived=not conversation.archived)
                where = "back in the list" if conversation.archived else "archived (A shows the archive)"
                tell(self.screen, f"“{_title(conversation)}” is {where}.")
            elif verb == "export":
                self.export(conversation.id)
        except StoreError as error:
            tell(self.screen, str(error), severity="error", timeout=10)
        self.show_changed(changed)

    async def _rename(self, conversation: Conversation) -> None:
        title = await self.screen.app.push_screen_wait(InputQuestion("New title:", value=conversation.title))
        if title is None or not title.strip():
            return
        try:
            self.store.rename_conversation(conversation.id, title.strip())
        except StoreError as error:
            tell(self.screen, str(error), severity="error", timeout=10)
            return
        self.show_changed(replace(conversation, title=title.strip()))

    def export(self, conversation_id: int) -> None:
        """Write the conversation as Markdown and JSON into the data dir's exports/."""
        folder = self.services.paths.data_dir / "exports"
        try:
            written = portable.export_files(self.store, conversation_id, folder)
        except (OSError, LookupError) as error:
            tell(self.screen, f"Export failed: {error}", severity="error", timeout=10)
            return
        tell(self.screen, "Exported to " + " and ".join(str(path) for path in written), timeout=10)

    def delete(self, conversation_id: int) -> None:
        """Delete a conversation and its messages, after asking."""
        self.screen.run_worker(self._delete(conversation_id), group=DIALOGS)

    async def _delete(self, conversation_id: int) -> None:
        conversation = self.store.get_conversation(conversation_id)
        if conversation is None:
            return
        title = _title(conversation)
        if not await self.screen.app.push_screen_wait(ConfirmScreen(f"Delete “{title}” and all its messages?")):
            return
        self.deleting(conversation.id)
        self.store.delete_conversation(conversation.id)
        if self.current and self.current.id == conversation.id:
            latest = self.store.list_conversation_page(limit=1)
            await self.open(latest[0].id if latest else None)
        else:
            self.reload_list()
        tell(self.screen, f"Deleted “{title}”.")

    # Search, and opening a conversation at one message

    def search(self) -> None:
        self.screen.run_worker(self._search(), group=DIALOGS)

    async def _search(self) -> None:
        hit = await self.screen.app.push_screen_wait(SearchScreen(self.store.search))
        if hit is not None:
            await self.open_at(hit.conversation_id, hit.message_id, found=True)


def _title(conversation: Conversation) -> str:
    return one_line(conversation.title or "New conversation", 50)
