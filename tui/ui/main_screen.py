"""The main screen: it owns the workers and feeds the panes from the services."""

from __future__ import annotations

import asyncio
from contextlib import aclosing

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from tui.chat_service import (
    AnswerEnded,
    AnswerPiece,
    AnswerStarted,
    ModelChoice,
    QuestionSaved,
    ReasoningUpdate,
    ToolNotice,
)
from tui.domain import Conversation, ModelInfo
from tui.model_names import Waiting
from tui.safe_text import one_line
from tui.services import Services
from tui.store import StoreError
from tui.tools.loop import ToolCallShown, ToolResultShown
from tui.ui.confirm import ConfirmScreen
from tui.ui.conversation_actions import ConversationActions
from tui.ui.message_actions import MessageActions
from tui.ui.settings_actions import SettingsActions
from tui.ui.stats_feed import StatsFeed
from tui.ui.tools_controller import ToolsController
from tui.ui.model_management import ModelManagementScreen
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.conversation_list import ConversationList
from tui.ui.widgets.message_view import MessageView
from tui.ui.widgets.model_pane import ModelPane
from tui.ui.widgets.stats_line import StatsLine
from tui.ui.widgets.stats_pane import StatsPane

PAGE_SIZE = 30
"""Messages mounted at a time: a few screenfuls."""
GENERATION = "generation"


class MainScreen(ConversationActions, MessageActions, SettingsActions, ModelManagementScreen):
    """Conversations on the left, the chat in the middle, models on the right."""

    BINDINGS = [
        Binding("ctrl+n", "new_conversation", "New chat", id="conversations.new"),
        Binding("escape", "cancel_answer", "Cancel answer", id="chat.cancel"),
        Binding("f2", "focus_pane('conversations')", "Chats", id="panes.conversations"),
        Binding("f3", "focus_pane('composer')", "Chat", id="panes.chat"),
        Binding("f4", "focus_pane('models')", "Models", id="panes.models"),
        Binding("f5", "toggle_stats", "Stats", id="stats.toggle"),
        Binding("f10", "choose_tools", "Tools", id="tools.choose"),  # the composer keeps F6 and F7
        Binding("shift+pageup", "scroll_chat(-1)", "Chat page up", show=False, id="chat.page_up"),
        Binding("shift+pagedown", "scroll_chat(1)", "Chat page down", show=False, id="chat.page_down"),
    ]

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services
        self.conversation: Conversation | None = None
        self.models: list[ModelInfo] = []
        self.models_loaded = asyncio.Event()
        """Set once every backend has been asked for its models."""
        self.tools = ToolsController(self, services.chat)
        """Asks before each tool call; picks the conversation's tools (F10)."""

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield ConversationList(id="conversations", classes="pane")
            with Vertical(id="chat-pane", classes="pane"):
                yield Static("", id="chat-title")
                yield StatsLine(id="stats-line")
                yield ChatView(id="chat")
                yield Composer(id="composer")
            with Vertical(id="side"):
                yield ModelPane(id="models", classes="pane")
                yield StatsPane(id="stats", classes="pane")
        yield Footer()

    async def on_mount(self) -> None:
        self.query_one("#conversations").border_title = "Chats"
        self.query_one("#chat-pane").border_title = "Chat"
        self.query_one("#models").border_title = "Models"
        self.query_one("#stats").border_title = "Stats"
        self.stats_feed = StatsFeed(self, self.services.stats, self.services.config.stats,
                                    [self.query_one(StatsPane), self.query_one(StatsLine)])
        self.stats_feed.start()
        store = self.services.store
        if store.recovered:
            self.notify(
                f"{store.recovered} answer(s) were cut off when lchat last stopped; they are kept, marked interrupted.",
                severity="warning",
            )
        for warning in self.services.warnings:
            self.notify(warning, severity="warning", timeout=10)
        latest = store.list_conversation_page(limit=1)
        if latest:
            await self.open_conversation(latest[0].id)
        else:
            await self.open_conversation(None)
        self.query_one(Composer).focus()
        self.load_models()

    # Conversations

    def refresh_conversation_list(self) -> None:
        self.reload_conversation_list()  # Paged: see ConversationActions.

    async def open_conversation(self, conversation_id: int | None) -> None:
        """Show a conversation (None: a fresh, not yet saved one)."""
        store = self.services.store
        self.conversation = store.get_conversation(conversation_id) if conversation_id else None
        messages = store.list_messages(conversation_id, limit=PAGE_SIZE) if conversation_id else []
        await self.query_one(ChatView).show_messages(messages, has_older=len(messages) == PAGE_SIZE)
        self.refresh_conversation_list()
        self.show_title()
        self.show_model()

    def show_title(self) -> None:
        title = self.conversation.title if self.conversation else ""
        self.query_one("#chat-title", Static).update(self.title_line(title or "New conversation"))

    @on(ConversationList.Opened)
    async def conversation_opened(self, event: ConversationList.Opened) -> None:
        await self.open_conversation(event.conversation_id)
        self.query_one(Composer).focus()

    @on(ChatView.OlderWanted)
    async def load_older(self, event: ChatView.OlderWanted) -> None:
        if self.conversation is None:
            return
        older = self.services.store.list_messages(
            self.conversation.id, before_id=event.before_id, limit=PAGE_SIZE
        )
        await event.chat_view.prepend_messages(older, has_older=len(older) == PAGE_SIZE)

    async def action_new_conversation(self) -> None:
        await self.open_conversation(None)
        self.query_one(Composer).focus()

    @on(ConversationList.DeleteRequested)
    @work(group="dialogs")
    async def delete_conversation(self, event: ConversationList.DeleteRequested) -> None:
        conversation = self.services.store.get_conversation(event.conversation_id)
        if conversation is None:
            return
        title = one_line(conversation.title or "New conversation", 50)
        if not await self.app.push_screen_wait(ConfirmScreen(f"Delete “{title}” and all its messages?")):
            return
        if self.generating and self.conversation and self.conversation.id == conversation.id:
            self.action_cancel_answer()
        self.services.store.delete_conversation(conversation.id)
        if self.conversation and self.conversation.id == conversation.id:
            latest = self.services.store.list_conversation_page(limit=1)
            await self.open_conversation(latest[0].id if latest else None)
        else:
            self.refresh_conversation_list()
        self.notify(f"Deleted “{title}”.")

    # Models: see ModelScreen (load_models, current_model, show_model, switching, management).

    # Chat

    @property
    def generating(self) -> bool:
        return any(worker.group == GENERATION and worker.is_running for worker in self.workers)

    @on(Composer.Submitted)
    async def send(self, event: Composer.Submitted) -> None:
        if self.editing_id is not None:  # An earlier question, edited: see MessageActions.
            await self.resend_edited(event.text)
            return
        if self.generating:
            self.notify("An answer is still being written: Esc cancels it.", severity="warning")
            return
        chosen = self.model_to_answer()
        if chosen is None:
            return
        if isinstance(chosen, Waiting) and chosen.name:  # The configured model's backend is still asked.
            self.notify(str(chosen), markup=False)
        model = chosen if isinstance(chosen, ModelChoice) else None
        try:
            if self.conversation is None:
                self.conversation = self.services.chat.new_conversation(model)
        except StoreError as error:
            self.notify(f"Nothing was sent: {error}", severity="error", timeout=10)
            return
        event.composer.clear()
        self.generate(self.conversation.id, event.text, model)

    @work(group=GENERATION, exclusive=True, exit_on_error=False)
    async def generate(self, conversation_id: int, text: str, model: ModelChoice | None, stream_for=None) -> None:
        """Stream one answer into the chat; the service commits it as it comes.

        `stream_for(model)`, when given, supplies the updates instead of sending `text`
        (regenerate, edit and resend: see MessageActions)."""
        chat_view = self.query_one(ChatView)
        view: MessageView | None = None
        question_saved = False
        if model is None:  # Sent before the model list arrived: wait for it.
            await self.models_loaded.wait()
            chosen = self.model_to_answer()
            if not isinstance(chosen, ModelChoice):  # Said why; the question is not lost.
                composer = self.query_one(Composer)
                composer.text = composer.text or text
                return
            model = chosen
        try:
            await self.show_latest()
            stream = stream_for(model) if stream_for else self.services.chat.send(
                conversation_id, text, model, approver=self.tools.approve)
            async with aclosing(stream) as updates:
                async for update in updates:
                    showing = self.conversation is not None and self.conversation.id == conversation_id
                    if isinstance(update, AnswerPiece):
                        if view is not None and view.is_attached:
                            await view.write(update.text)
                    elif isinstance(update, ReasoningUpdate):
                        if view is not None and view.is_attached:
                            await view.write_reasoning(update.text)
                    elif isinstance(update, QuestionSaved):
                        question_saved = True
                        self.conversation = self.services.store.get_conversation(conversation_id)
                        self.refresh_conversation_list()
                        self.show_title()
                        if showing:
                            await chat_view.add_message(update.message)
                    elif isinstance(update, ToolCallShown | ToolResultShown):
                        if view is not None and view.is_attached:
                            view.show_tool_part(update.part)
                    elif isinstance(update, ToolNotice):
                        self.notify(one_line(update.text, 300), severity="warning", timeout=10)
                    elif isinstance(update, AnswerStarted) and showing:
                        view = await chat_view.add_message(update.message)
                        view.start_stream()
                        self.context_shown(update.context)
                    elif isinstance(update, AnswerEnded):
                        if view is not None and view.is_attached:
                            await view.finish(update.message)
                        view = None
                        self.answer_context(update)
                        if update.save_error:
                            self.notify(
                                f"The answer is shown but could not be saved: {update.save_error}. "
                                "lchat tries again before your next message and when it quits.",
                                severity="error", timeout=15,
                            )
                        if update.stats and update.stats.tokens_per_s:
                            loaded = f" (model loaded in {update.stats.load_s:.1f} s)" if update.stats.load_s else ""
                            self.query_one(ModelPane).show_status(
                                f"Last answer: {update.stats.completion_tokens} tokens, "
                                f"{update.stats.tokens_per_s:.1f} tok/s{loaded}"
                            )
            self.reload_backend(model.backend)  # Its model is loaded now: the pane says so.
        except StoreError as error:
            if question_saved:
                self.notify(f"Your message is saved but no answer could be started: {error}", severity="error")
            else:  # Nothing was sent, so give the text back.
                self.notify(f"Nothing was sent, your message could not be saved: {error}", severity="error", timeout=15)
                composer = self.query_one(Composer)
                if not composer.text:
                    composer.text = text
        finally:
            if view is not None and view.is_attached:
                stored = self.services.store.list_messages(conversation_id, limit=1)
                if stored:
                    await view.finish(stored[-1])

    @work(group="dialogs")
    async def action_choose_tools(self) -> None:
        """Pick the tools this conversation offers the model (starting the servers)."""
        if self.conversation is None:
            if not self.tools.configured:
                await self.tools.choose(None)  # type: ignore[arg-type]  # it only explains
                return
            self.conversation = self.services.chat.new_conversation(self.current_model())
            self.refresh_conversation_list()
        changed = await self.tools.choose(self.conversation)
        if changed is not None:
            self.conversation = changed
            self.show_title()

    def action_cancel_answer(self) -> None:
        if self.generating:
            self.workers.cancel_group(self, GENERATION)
            self.notify("Answer cancelled; what arrived is kept.")
        elif self.editing_id is not None:
            self.cancel_edit()

    def action_focus_pane(self, pane: str) -> None:
        """Focus a pane; on a narrow terminal a folded pane unfolds until focus leaves it."""
        if pane != "composer":
            self.query_one(f"#{pane}").add_class("-shown")
        target = {"conversations": "#conversations", "composer": "#composer", "models": "#model-list"}[pane]
        self.query_one(target).focus()

    def on_descendant_focus(self, event) -> None:
        for pane in self.query(".pane.-shown"):
            if event.widget is not pane and pane not in event.widget.ancestors:
                pane.remove_class("-shown")

    def action_scroll_chat(self, pages: int) -> None:
        chat = self.query_one(ChatView)
        chat.scroll_relative(y=pages * max(1, chat.scrollable_content_region.height - 2), animate=False)

    # Stats

    def action_toggle_stats(self) -> None:
        self.stats_feed.toggle()

    def on_unmount(self) -> None:
        self.stats_feed.stop()
