"""What an answer reports as it goes: the events `send`, `regenerate` and `resend` yield."""

from __future__ import annotations

from dataclasses import dataclass

from tui.domain import ChatMessage, Conversation
from tui.engines.base import Finished
from tui.tools.loop import ToolCallShown, ToolResultShown


@dataclass(frozen=True)
class QuestionSaved:
    """The user's message is in the history; generation starts next."""

    message: ChatMessage
    conversation: Conversation
    """The conversation as it is now: made for this question, renamed after it, its model set."""


@dataclass(frozen=True)
class ContextInfo:
    """What is sent to the model: estimated prompt tokens against the context length, and
    how many of the oldest messages were left out to fit."""

    tokens: int
    limit: int | None
    dropped: int


@dataclass(frozen=True)
class AnswerStarted:
    """The answer's row exists (status streaming)."""

    message: ChatMessage
    context: ContextInfo | None = None
    """What the model was sent, against its context length."""


@dataclass(frozen=True)
class AnswerPiece:
    """More answer text, as the engine produced it (raw: not yet made terminal-safe)."""

    text: str


@dataclass(frozen=True)
class ReasoningUpdate:
    """More of the answer's reasoning (raw: not yet made terminal-safe)."""

    text: str


@dataclass(frozen=True)
class AnswerEnded:
    """The answer's final row; `stats` is None when it failed."""

    message: ChatMessage
    """The finished answer as stored (or as kept in memory when the store refused it)."""
    stats: Finished | None
    save_error: str = ""
    """Why the answer could not be written to the history (disk full...), or empty."""
    conversation: Conversation | None = None
    """The conversation as it is now (its updated time moved on); None when it was deleted meanwhile."""


@dataclass(frozen=True)
class ToolNotice:
    """Something to tell the user about the tools of this answer: a server that failed (one line)."""

    text: str


ChatUpdate = (
    QuestionSaved
    | AnswerStarted
    | AnswerPiece
    | ReasoningUpdate
    | AnswerEnded
    | ToolCallShown
    | ToolResultShown
    | ToolNotice
)
