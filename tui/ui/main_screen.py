"""The main screen: it composes the panes and routes keys and widget messages to its controllers,
each the owner of one part of the state: conversations, the answer in flight, single messages,
models, model changes (transfers), settings and the stats feed."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import DescendantFocus
from textual.screen import Screen
from textual.widgets import Footer, Static

from tui.services import Services
from tui.ui.answer_controller import AnswerController
from tui.ui.attach_controller import AttachController
from tui.ui.conversations import OUTSIDE_POLL_S, PAGE_SIZE, ConversationsController
from tui.ui.main_bindings import MAIN_BINDINGS
from tui.ui.message_controller import MessageController
from tui.ui.model_manager import ModelManager
from tui.ui.models_controller import ModelsController
from tui.ui.settings_controller import SettingsController
from tui.ui.stats_feed import StatsFeed
from tui.ui.toast import tell
from tui.ui.tools_controller import ToolsController
from tui.ui.widgets.attachment_chips import AttachmentChips
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.conversation_list import ConversationList
from tui.ui.widgets.model_pane import ModelPane
from tui.ui.widgets.stats_line import StatsLine
from tui.ui.widgets.stats_pane import StatsPane

__all__ = ["PAGE_SIZE", "MainScreen"]


class MainScreen(Screen):
    """Conversations on the left, the chat in the middle, models on the right."""

    BINDINGS = MAIN_BINDINGS

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def compose(self) -> ComposeResult:
        with Horizontal(id="panes"):
            yield ConversationList(id="conversations", classes="pane")
            with Vertical(id="chat-pane", classes="pane"):
                yield Static("", id="chat-title")
                yield StatsLine(id="stats-line")
                yield ChatView(id="chat")
                yield AttachmentChips(id="attachments")
                yield Composer(id="composer")
            with Vertical(id="side"):
                yield ModelPane(id="models", classes="pane")
                yield StatsPane(id="stats", classes="pane")
        yield Footer(compact=True, show_command_palette=False)  # All its keys fit at 80 columns (F1 lists ^p).

    async def on_mount(self) -> None:
        for pane, title in (("#chat-pane", "Chat"), ("#models", "Models"), ("#stats", "Stats")):
            self.query_one(pane).border_title = title
        self._build_controllers()
        self.stats_feed.start()
        store = self.services.store
        if store.recovered:
            tell(
                self,
                f"{store.recovered} answer(s) were cut off when lchat last stopped; they are kept, marked interrupted.",
                severity="warning",
            )
        for warning in self.services.warnings:
            tell(self, warning, severity="warning", timeout=10)
        latest = store.list_conversation_page(limit=1)
        await self.open_conversation(latest[0].id if latest else None)
        self.query_one(Composer).focus()
        self.models.load()
        self.set_interval(OUTSIDE_POLL_S, self.conversations.notice_outside_changes)

    def _build_controllers(self) -> None:
        services, chat, composer = self.services, self.query_one(ChatView), self.query_one(Composer)
        model_pane, stats_pane = self.query_one(ModelPane), self.query_one(StatsPane)
        self.tools = ToolsController(self, services.tools, services.chat.settings)
        self.conversations = ConversationsController(
            screen=self,
            services=services,
            listing=self.query_one(ConversationList),
            chat=chat,
            changed=self._conversation_changed,
            deleting=lambda conversation_id: self.answers.cancel_for(conversation_id),
        )
        self.models = ModelsController(
            screen=self,
            services=services,
            conversations=self.conversations,
            pane=model_pane,
            stats_pane=stats_pane,
            composer=composer,
        )
        self.manager = ModelManager(
            screen=self, services=services, models=self.models, conversations=self.conversations, pane=model_pane
        )
        self.settings = SettingsController(
            screen=self,
            services=services,
            conversations=self.conversations,
            models=self.models,
            tools=self.tools,
            header=self.query_one("#chat-title", Static),
        )
        self.attach = AttachController(
            screen=self,
            chips=self.query_one(AttachmentChips),
            composer=composer,
            max_bytes=services.config.chat.attachment_max_mb * 1_000_000,
            blind_model=lambda: services.chat.models.blind_model(self.models.current()),
        )
        self.answers = AnswerController(
            screen=self,
            services=services,
            conversations=self.conversations,
            models=self.models,
            settings=self.settings,
            chat=chat,
            composer=composer,
            model_pane=model_pane,
            tools=self.tools,
            attachments_sent=self.attach.sent,
        )
        self.messages = MessageController(
            screen=self,
            services=services,
            conversations=self.conversations,
            chat=chat,
            answering=self.answers.refuse_while_generating,
        )
        self.stats_feed = StatsFeed(
            self, services.stats, services.config.stats, [stats_pane, self.query_one(StatsLine)]
        )

    def _conversation_changed(self) -> None:
        self.settings.show_title()
        self.models.show_current()

    async def open_conversation(self, conversation_id: int | None) -> None:
        """Show a conversation (None: a fresh, not yet saved one)."""
        await self.conversations.open(conversation_id)

    # Widget messages

    @on(Composer.Submitted)
    async def send(self, event: Composer.Submitted) -> None:
        await self.answers.submit(event.text, self.attach.pending)

    def on_composer_path_pasted(self, event: Composer.PathPasted) -> None:
        self.attach.offer(event.path, event.text)

    @on(AttachmentChips.Removed)
    @on(Composer.LastAttachmentRemoved)
    def remove_attachment(self, event: AttachmentChips.Removed | Composer.LastAttachmentRemoved) -> None:
        self.attach.remove(event.index)

    @on(ConversationList.Opened)
    async def conversation_opened(self, event: ConversationList.Opened) -> None:
        await self.open_conversation(event.conversation_id)
        self.query_one(Composer).focus()

    @on(ConversationList.MoreWanted)
    def more_conversations(self) -> None:
        self.conversations.load_more()

    @on(ConversationList.Requested)
    def conversation_requested(self, event: ConversationList.Requested) -> None:
        self.conversations.request(event.verb, event.conversation_id)

    @on(ConversationList.DeleteRequested)
    def delete_conversation(self, event: ConversationList.DeleteRequested) -> None:
        self.conversations.delete(event.conversation_id)

    @on(ChatView.OlderWanted)
    async def load_older(self, event: ChatView.OlderWanted) -> None:
        await self.conversations.load_older(event.before_id)

    @on(ChatView.NewerWanted)
    async def load_newer(self, event: ChatView.NewerWanted) -> None:
        await self.conversations.load_newer(event.after_id)

    @on(ChatView.Shown)
    def messages_shown(self, event: ChatView.Shown) -> None:
        self.messages.show_branch_marks(event.message_ids, replaced=event.replaced)
        if event.replaced:
            self.settings.context_on_open(event.chat_view)

    @on(ModelPane.Chosen)
    def model_chosen(self, event: ModelPane.Chosen) -> None:
        self.models.use(event.backend, event.name)

    @on(ModelPane.Requested)
    def model_requested(self, event: ModelPane.Requested) -> None:
        self.manager.request(event.action, event.backend, event.name)

    # Actions (bindings and the command palette)

    async def action_new_conversation(self) -> None:
        await self.open_conversation(None)
        self.query_one(Composer).focus()

    def action_cancel_answer(self) -> None:
        self.answers.cancel()

    def action_open_search(self) -> None:
        self.conversations.search()

    def action_select_message(self, step: int) -> None:
        self.messages.select(step)

    async def action_regenerate(self) -> None:
        await self.answers.regenerate()

    def action_edit_message(self) -> None:
        self.answers.edit()

    async def action_switch_branch(self, step: int) -> None:
        await self.messages.switch_branch(step)

    def action_copy_message(self) -> None:
        self.messages.copy_message()

    def action_copy_code(self) -> None:
        self.messages.copy_code()

    def action_toggle_reasoning(self) -> None:
        self.messages.toggle_reasoning()

    def action_toggle_tool_calls(self) -> None:
        self.messages.toggle_tool_calls()

    def action_cycle_think(self) -> None:
        self.settings.cycle_think()

    def action_choose_tools(self) -> None:
        """Pick the tools this conversation offers the model (starting the servers)."""
        self.run_worker(self.tools.choose_for(self.conversations, self.models.current()), group="dialogs")

    def action_edit_settings(self) -> None:
        self.settings.edit()

    def action_pick_preset(self) -> None:
        self.settings.pick_preset()

    def action_attach(self) -> None:
        self.attach.ask()

    def action_switch_model(self) -> None:
        self.models.switch()

    def action_use_favourite(self, number: int) -> None:
        self.models.use_favourite(number)

    def action_toggle_stats(self) -> None:
        self.stats_feed.toggle()

    def action_focus_pane(self, pane: str) -> None:
        """Focus a pane; on a narrow terminal a folded pane unfolds until focus leaves it."""
        if pane != "composer":
            self.query_one(f"#{pane}").add_class("-shown")
        target = {"conversations": "#conversations", "composer": "#composer", "models": "#model-list"}[pane]
        self.query_one(target).focus()

    def on_descendant_focus(self, event: DescendantFocus) -> None:
        for pane in self.query(".pane.-shown"):
            if event.widget is not pane and pane not in event.widget.ancestors:
                pane.remove_class("-shown")

    def action_scroll_chat(self, pages: int) -> None:
        chat = self.query_one(ChatView)
        chat.scroll_relative(y=pages * max(1, chat.scrollable_content_region.height - 2), animate=False)

    def on_unmount(self) -> None:
        self.stats_feed.stop()
