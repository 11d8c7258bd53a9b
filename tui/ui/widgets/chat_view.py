"""The scrolling list of a conversation's messages, mounted a page at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from tui.domain import ChatMessage
from tui.ui.widgets.message_view import MessageView


class ChatView(VerticalScroll, can_focus=True):
    """Messages of one conversation; asks for older ones when scrolled to the top.

    Mounting is what costs (about 50 ms a Markdown widget), so only the newest page is
    mounted on open and older pages on demand.
    """

    DEFAULT_CSS = """
    ChatView { height: 1fr; }
    ChatView > .older { color: $text-muted; text-align: center; width: 100%; }
    ChatView > .empty { color: $text-muted; padding: 1 2; }
    """

    BINDINGS = [
        Binding("home,g", "scroll_home", "Top", show=False, id="chat.top"),
        Binding("end,G", "scroll_end", "Bottom", show=False, id="chat.bottom"),
        Binding("ctrl+u", "scroll_half_page(-1)", "Half page up", show=False, id="chat.half_page_up"),
        Binding("ctrl+d", "scroll_half_page(1)", "Half page down", show=False, id="chat.half_page_down"),
        Binding("j", "scroll_down", "Down", show=False, id="chat.down"),
        Binding("k", "scroll_up", "Up", show=False, id="chat.up"),
    ]

    @dataclass
    class OlderWanted(Message):
        """The user reached the top and older messages exist."""

        chat_view: ChatView
        before_id: int

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.has_older = False
        """Whether older messages than those mounted exist."""
        self._asked_for_older = False

    def action_scroll_half_page(self, direction: int) -> None:
        self.scroll_relative(y=direction * max(1, self.scrollable_content_region.height // 2), animate=False)

    @property
    def message_views(self) -> list[MessageView]:
        return list(self.query_children(MessageView))

    def view_for(self, message_id: int) -> MessageView | None:
        return next((view for view in self.message_views if view.message_id == message_id), None)

    async def show_messages(self, messages: Sequence[ChatMessage], *, has_older: bool) -> None:
        """Replace everything with `messages` (the newest page) and scroll to the end."""
        await self.remove_children()
        self.has_older = has_older
        self._asked_for_older = False
        widgets: list[Static | MessageView] = []
        if has_older:
            widgets.append(Static("↑ older messages load as you scroll up", classes="older"))
        if not messages:
            widgets.append(Static("Type a question below and press Enter.", classes="empty"))
        widgets.extend(MessageView(message) for message in messages)
        await self.mount_all(widgets)
        self.anchor()
        self.scroll_end(animate=False, immediate=True)
        # A page shorter than the screen can't be scrolled up, so ask for more now.
        self.call_after_refresh(self._fill_screen)

    def _fill_screen(self) -> None:
        if self.max_scroll_y == 0:
            self.watch_scroll_y(0, 0)

    async def prepend_messages(self, messages: Sequence[ChatMessage], *, has_older: bool) -> None:
        """Mount an older page above what is shown, keeping the view where it was."""
        self.has_older = has_older
        self._asked_for_older = False
        for marker in self.query_children(".older"):
            if not has_older:
                await marker.remove()
        first = next(iter(self.message_views), None)
        if not messages or first is None:
            return
        old_height = self.virtual_size.height
        await self.mount_all([MessageView(message) for message in messages], before=first)
        self.call_after_refresh(self._keep_position, old_height)
        self.call_after_refresh(self._fill_screen)

    def _keep_position(self, old_height: int) -> None:
        self.scroll_to(y=self.scroll_y + self.virtual_size.height - old_height, animate=False)

    async def add_message(self, message: ChatMessage) -> MessageView:
        """Mount a new message at the bottom and follow it."""
        for empty in self.query_children(".empty"):
            await empty.remove()
        view = MessageView(message)
        await self.mount(view)
        self.anchor()
        return view

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new <= 0 and self.has_older and not self._asked_for_older:
            first = next(iter(self.message_views), None)
            if first is not None:
                self._asked_for_older = True
                self.post_message(self.OlderWanted(self, first.message_id))
