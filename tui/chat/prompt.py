"""What a model is sent: the path to a message as turns, fitted into the context, and the
checks that refuse a question before anything is stored or sent."""

from __future__ import annotations

from collections.abc import Sequence

from tui.chat.attachments import total_tokens
from tui.chat.context_window import estimate_tokens, fit, message_tokens
from tui.chat.events import ContextInfo
from tui.chat.model_directory import ModelDirectory
from tui.chat.sent_turns import message_turns
from tui.chat.settings import SettingsService
from tui.domain import Attachment, ChatMessage, ChatTurn, Conversation, PartKind
from tui.domain.parts import attachment_of
from tui.engines.base import BadRequest
from tui.guard.safe_text import one_line
from tui.models.names import ModelChoice
from tui.store import HistoryStore


class PromptBuilder:
    """Builds the turns of an answer from the history, within the model's context."""

    def __init__(self, store: HistoryStore, models: ModelDirectory, settings: SettingsService) -> None:
        self.store = store
        self.models = models
        self.settings = settings

    def fitted_turns(
        self, conversation: Conversation, end_id: int, model: ModelChoice
    ) -> tuple[list[ChatTurn], ContextInfo]:
        """The turns to send for the path ending at `end_id`, its oldest dropped if the
        context is too small. Only the end of a long path is read: as much as could fit."""
        options = self.settings.options_for(conversation)
        limit = self.models.context_limit(conversation, model)
        reserve = min(options.max_tokens or 0, limit // 2) if limit else 0
        window, path = 64, []
        while True:
            path = self.store.path_to(end_id, limit=window if limit else None)
            if not limit or len(path) < window or sum(map(message_tokens, path)) > limit:
                break
            window *= 4
        fitted = fit(conversation.system_prompt, path, limit=limit, reserve=reserve, turns_of=self.turns_of)
        dropped = fitted.dropped
        if limit and len(path) == window:  # The part never read was left out too.
            dropped += self.store.path_length(end_id) - len(path)
        return fitted.turns, ContextInfo(fitted.tokens, limit, dropped)

    def turns_of(self, message: ChatMessage) -> list[ChatTurn]:
        """A stored message as the engine is sent it: with its attachments' bytes (an
        attachment whose bytes are gone is left out) and its tool calls and results, without
        its reasoning."""
        attachments = []
        for file in map(attachment_of, message.parts_of(PartKind.ATTACHMENT)):
            data = self.store.get_blob(file.sha256)
            if data is not None:
                attachments.append(Attachment(file.name or "file", file.mime, data))
        return message_turns(message, attachments)

    def check_attachments_fit(
        self, conversation: Conversation, model: ModelChoice, question: str, attachments: Sequence[Attachment]
    ) -> None:
        """Refuse, before anything is stored or sent, attachments that cannot fit the context."""
        limit = self.models.context_limit(conversation, model)
        if not attachments or not limit:
            return
        needed = estimate_tokens(question) + total_tokens(attachments)
        if needed > limit:
            raise BadRequest(
                f"The message with its attachments needs about {needed:,} tokens, more than the "
                f"{limit:,}-token context of {model.name}; nothing was sent."
            )

    def check_images_seen(self, model: ModelChoice, attachments: Sequence[Attachment]) -> None:
        """Refuse, before anything is stored or sent, images for a model its engine knows to be
        blind; a model the engine cannot judge (None: an OpenAI-compatible server) gets them."""
        blind = self.models.blind_model(model)
        if blind is not None and any(attachment.is_image for attachment in attachments):
            raise BadRequest(f"{one_line(blind, 80)} does not take images; nothing was sent.")
