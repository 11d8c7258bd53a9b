"""The main screen's controllers, built once as siblings that share one `ChatState`.

Who owns what: the ConversationsController alone writes the conversation shown (the others read
`state.conversation` and subscribe with `state.on_conversation`); the ModelsController alone fills
the catalog (`state.on_models` follows it); every other controller owns only its own part (the
answer in flight, the header, the pending attachments...). No controller holds another: where one
needs another's action, it is handed that one bound method below.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.screen import Screen
from textual.widgets import Static

from tui.models.catalog import Catalog
from tui.services import Services
from tui.ui.controllers.answer_controller import AnswerController
from tui.ui.controllers.answer_painter import AnswerPainter
from tui.ui.controllers.attach_controller import AttachController
from tui.ui.controllers.conversations import ConversationsController
from tui.ui.controllers.message_controller import MessageController
from tui.ui.controllers.model_manager import ModelManager
from tui.ui.controllers.models_controller import ModelsController
from tui.ui.controllers.settings_controller import SettingsController
from tui.ui.controllers.state import ChatState
from tui.ui.controllers.stats_feed import StatsFeed
from tui.ui.controllers.tools_controller import ToolsController
from tui.ui.widgets.attachment_chips import AttachmentChips
from tui.ui.widgets.chat_view import ChatView
from tui.ui.widgets.composer import Composer
from tui.ui.widgets.conversation_list import ConversationList
from tui.ui.widgets.model_pane import ModelPane
from tui.ui.widgets.stats_line import StatsLine
from tui.ui.widgets.stats_pane import StatsPane


@dataclass(frozen=True)
class Controllers:
    """What the screen routes keys and widget messages to, and the state they share."""

    state: ChatState
    conversations: ConversationsController
    models: ModelsController
    manager: ModelManager
    settings: SettingsController
    tools: ToolsController
    attach: AttachController
    answers: AnswerController
    messages: MessageController
    stats_feed: StatsFeed


def build_controllers(screen: Screen, services: Services) -> Controllers:
    """The controllers of `screen` (mounted: they are handed its widgets), wired to each other
    only through `state` and single callables."""
    chat, composer = screen.query_one(ChatView), screen.query_one(Composer)
    model_pane, stats_pane = screen.query_one(ModelPane), screen.query_one(StatsPane)
    state = ChatState(Catalog.of(services.config, services.engines), services.chat.models.default_model)
    conversations = ConversationsController(
        screen=screen,
        services=services,
        state=state,
        listing=screen.query_one(ConversationList),
        chat=chat,
        deleting=lambda conversation_id: answers.cancel_for(conversation_id),
    )
    ensure, changed = conversations.ensure, conversations.show_changed
    tools = ToolsController(screen, services.tools, services.chat.settings, ensure=ensure, changed=changed)
    models = ModelsController(
        screen=screen,
        services=services,
        state=state,
        pane=model_pane,
        stats_pane=stats_pane,
        composer=composer,
        chat=chat,
        ensure=ensure,
        changed=changed,
    )
    manager = ModelManager(
        screen=screen,
        services=services,
        state=state,
        pane=model_pane,
        reload_models=models.load,
        details=models.details,
        toggle_favourite=models.toggle_favourite,
        memory_now=models.memory_now,
        use=models.use,
        changed=changed,
    )
    settings = SettingsController(
        screen=screen,
        services=services,
        state=state,
        header=screen.query_one("#chat-title", Static),
        ensure=ensure,
        changed=changed,
        tools_note=tools.header_note,
    )
    attach = AttachController(
        screen=screen,
        chips=screen.query_one(AttachmentChips),
        composer=composer,
        max_bytes=services.config.chat.attachment_max_mb * 1_000_000,
        blind_model=lambda: services.chat.models.blind_model(state.model),
    )
    painter = AnswerPainter(
        screen=screen,
        state=state,
        chat=chat,
        model_pane=model_pane,
        attachments_sent=attach.sent,
        changed=changed,
        reload_list=conversations.reload_list,
        context_shown=settings.context_shown,
        answer_context=settings.answer_context,
    )
    answers = AnswerController(
        screen=screen,
        services=services,
        state=state,
        chat=chat,
        composer=composer,
        painter=painter,
        ensure=ensure,
        show_latest=conversations.show_latest,
        model_to_answer=models.model_to_answer,
        reload_backend=models.reload_backend,
        approve=tools.approve,
    )
    messages = MessageController(
        screen=screen,
        services=services,
        state=state,
        chat=chat,
        answering=answers.refuse_while_generating,
        open_at=conversations.open_at,
    )
    stats_feed = StatsFeed(screen, services.stats, services.config.stats, [stats_pane, screen.query_one(StatsLine)])

    return Controllers(
        state=state,
        conversations=conversations,
        models=models,
        manager=manager,
        settings=settings,
        tools=tools,
        attach=attach,
        answers=answers,
        messages=messages,
        stats_feed=stats_feed,
    )
