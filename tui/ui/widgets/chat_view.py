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
    ChatView > .older, ChatView > .newer { color: $text-muted; text-align: center; width: 100%; }
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

    @dataclass
    class NewerWanted(Message):
        """The user reached the bottom of a window opened in the middle, and newer messages exist."""

        chat_view: ChatView
        after_id: int

    @dataclass
    class Shown(Message):
        """Messages were mounted: all anew (`replaced`), or a page, or one more."""

        chat_view: ChatView
        message_ids: list[int]
        replaced: bool

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.has_older = False
        """Whether older messages than those mounted exist."""
        self.has_newer = False
        """Whether newer messages than those mounted exist (after opening at a search hit)."""
        self.selected_id: int | None = None
        """The message picked with alt+up / alt+down, which message actions apply to."""
        self._asked_for_older = False
        self._asked_for_newer = False
        self.shared_model_names: frozenset[str] = frozenset()
        """Model names two backends serve: answers by them are headed backend/model."""

    def action_scroll_half_page(self, direction: int) -> None:
        self.scroll_relative(y=direction * max(1, self.scrollable_content_region.height // 2), animate=False)

    @property
    def message_views(self) -> list[MessageView]:
        return list(self.query_children(MessageView))

    def view_for(self, message_id: int) -> MessageView | None:
        return next((view for view in self.message_views if view.message_id == message_id), None)

    async def show_messages(
        self,
        messages: Sequence[ChatMessage],
        *,
        has_older: bool,
        has_newer: bool = False,
        focus_id: int | None = None,
    ) -> None:
        """Replace everything with `messages` and scroll to the end, or to `focus_id`."""
        await self.remove_children()
        self.has_older, self.has_newer = has_older, has_newer
        self._asked_for_older = self._asked_for_newer = False
        self.selected_id = None
        widgets: list[Static | MessageView] = []
        if has_older:
            widgets.append(Static("↑ older messages load as you scroll up", classes="older"))
        if not messages:
            widgets.append(Static("Type a question below and press Enter.", classes="empty"))
        widgets.extend(MessageView(message) for message in messages)
        if has_newer:
            widgets.append(Static("↓ newer messages load as you scroll down", classes="newer"))
        await self.mount_all(widgets)
        focused = self.view_for(focus_id) if focus_id is not None else None
        if focused is not None:
            self.anchor(False)
            self.call_after_refresh(self.scroll_to_widget, focused, animate=False, top=True)
        else:
            self.anchor()
            self.scroll_end(animate=False, immediate=True)
        # A page shorter than the screen can't be scrolled up, so ask for more now.
        self.call_after_refresh(self._fill_screen)
        self.post_message(self.Shown(self, [m.id for m in messages], replaced=True))

    async def append_messages(self, messages: Sequence[ChatMessage], *, has_newer: bool) -> None:
        """Mount a newer page below what is shown (the window opened in the middle grows)."""
        self.has_newer = has_newer
        self._asked_for_newer = False
        marker = next(iter(self.query_children(".newer")), None)
        views = [MessageView(message) for message in messages]
        if views:
            await self.mount_all(views, before=marker) if marker else await self.mount_all(views)
        if marker is not None and not has_newer:
            await marker.remove()
        self.post_message(self.Shown(self, [m.id for m in messages], replaced=False))

    async def remove_from(self, message_id: int) -> None:
        """Unmount this message and everything below it (a new branch replaces them)."""
        views = self.message_views
        index = next((i for i, view in enumerate(views) if view.message_id == message_id), len(views))
        await self.remove_children([*views[index:], *self.query_children(".newer")])
        self.has_newer = False
        self.selected_id = None
        self.anchor()

    def show_backends_for(self, names: frozenset[str]) -> None:
        """Answers by a model of one of these names (served by two backends) name the backend too."""
        self.shared_model_names = names
        for view in self.message_views:
            view.show_backend(view.message.model in names)

    def show_branches(self, positions: dict[int, tuple[int, int]]) -> None:
        """Mark each message that has other branches with its place among them (2/3)."""
        for view in self.message_views:
            if view.message_id in positions:
                view.show_branch(positions[view.message_id])

    @property
    def selected_view(self) -> MessageView | None:
        return self.view_for(self.selected_id) if self.selected_id is not None else None

    def select_step(self, step: int) -> MessageView | None:
        """Select the message `step` places from the selected one (from the end if none)."""
        views = self.message_views
        if not views:
            return None
        current = self.selected_view
        index = views.index(current) + step if current in views else (len(views) if step < 0 else -1) + step
        view = views[max(0, min(len(views) - 1, index))]
        self.select(view.message_id)
        return view

    def select(self, message_id: int | None) -> None:
        """Mark `message_id` as selected (None: nothing) and bring it into view."""
        for each in self.message_views:
            each.set_class(each.message_id == message_id, "-selected")
        self.selected_id = message_id
        view = self.selected_view
        if view is not None:
            self.anchor(False)
            self.scroll_to_widget(view, animate=False)

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
        self.post_message(self.Shown(self, [m.id for m in messages], replaced=False))

    def _keep_position(self, old_height: int) -> None:
        self.scroll_to(y=self.scroll_y + self.virtual_size.height - old_height, animate=False)

    async def add_message(self, message: ChatMessage) -> MessageView:
        """Mount a new message at the bottom and follow it."""
        for empty in self.query_children(".empty"):
            await empty.remove()
        view = MessageView(message)
        await self.mount(view)
        self.anchor()
        self.post_message(self.Shown(self, [message.id], replaced=False))
        return view

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if new >= self.max_scroll_y and self.has_newer and not self._asked_for_newer:
            last = next(iter(reversed(self.message_views)), None)
            if last is not None:
                self._asked_for_newer = True
                self.post_message(self.NewerWanted(self, last.message_id))
        if new <= 0 and self.has_older and not self._asked_for_older:
            first = next(iter(self.message_views), None)
            if first is not None:
                self._asked_for_older = True
                self.post_message(self.OlderWanted(self, first.message_id))
