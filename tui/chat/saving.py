"""Keeping an answer on disk: committed as it streams, finished once, and held in memory
when the disk refuses it until there is room again."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TypedDict

from tui.chat.answer_draft import AnswerDraft
from tui.domain import ChatMessage, MessagePart, MessageStatus
from tui.engines.base import Finished
from tui.store import HistoryStore, NotFound, StoreError

logger = logging.getLogger(__name__)

COMMIT_INTERVAL_S = 0.25
"""How often a streaming answer is written to the history: often enough that a kill loses
a quarter second at most, rarely enough that SQLite never shows in a profile."""


class _Figures(TypedDict, total=False):
    """An answer's figures as the store's finish_message takes them; a figure left out is not known."""

    prompt_tokens: int | None
    completion_tokens: int | None
    ttft_s: float | None
    gen_s: float | None
    reasoning_tokens: int | None
    reasoning_estimated: bool
    reasoning_ttft_s: float | None


class _Final(_Figures):
    """An answer's final state: what finish_message is given, and what a refused save keeps."""

    content: str
    status: MessageStatus
    error: str
    energy_wh: float | None
    parts: tuple[MessagePart, ...]


class AnswerSaver:
    """Writes answers' final states, knows the answers still arriving, and keeps the ones
    the store refused (disk full) to write later."""

    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self._unsaved: dict[int, _Final] = {}
        """Final states of answers the store refused (disk full), by message id, to write later."""
        self.streaming: dict[int, AnswerDraft] = {}
        """Answers arriving now, with what has arrived, for interrupt_streaming. (One closed before
        it got here is still "streaming" on disk, empty; the next start marks it interrupted.)"""

    def finish(
        self,
        draft: AnswerDraft,
        status: MessageStatus,
        error: str,
        stats: Finished | None,
        energy_wh: float | None = None,
    ) -> tuple[ChatMessage, str]:
        """Store the answer's final state; if that fails, the answer lives on in memory."""
        if stats is None and draft.reasoning_chars:  # Interrupted or failed: keep what is known.
            stats_figures = _Figures(reasoning_ttft_s=draft.first_reasoning_s)
        else:
            stats_figures = _Figures(
                prompt_tokens=stats.prompt_tokens if stats else None,
                completion_tokens=stats.completion_tokens if stats else None,
                ttft_s=stats.ttft_s if stats else None,
                gen_s=stats.gen_s if stats else None,
                reasoning_tokens=stats.reasoning_tokens if stats else None,
                reasoning_estimated=stats.reasoning_estimated if stats else False,
                reasoning_ttft_s=stats.reasoning_ttft_s if stats else None,
            )
        final = _Final(
            content=draft.text,
            status=status,
            error=error,
            energy_wh=energy_wh,
            parts=tuple(draft.parts),
            **stats_figures,
        )
        answer_id = draft.message.id
        try:
            return self.store.finish_message(answer_id, **final), ""
        except StoreError as store_error:
            logger.warning("could not save answer %s: %s", answer_id, store_error)
            self._unsaved[answer_id] = final
            return replace(draft.message, **final), str(store_error)

    def interrupt_streaming(self) -> None:
        """Store every answer still arriving as interrupted, with all that arrived: for closing
        without the event loop's help (a hung-up terminal), where no cancellation can run."""
        for draft in list(self.streaming.values()):
            self.finish(draft, MessageStatus.INTERRUPTED, "", None)
        self.streaming.clear()

    def save_unsaved(self) -> int:
        """Write the answers whose final save failed, now that there may be room again; returns
        how many are still unsaved. Runs before each new question and when lchat closes."""
        for answer_id, final in list(self._unsaved.items()):
            try:
                self.store.finish_message(answer_id, **final)
            except NotFound:
                pass  # Its conversation was deleted meanwhile.
            except StoreError as error:
                logger.warning("answer %s still cannot be saved: %s", answer_id, error)
                break
            del self._unsaved[answer_id]
        return len(self._unsaved)


class Autosave:
    """Commits an answer at most every `interval` seconds while it streams, and once more
    `interval` after the last piece: an engine that stalls must not hold text back from disk."""

    def __init__(self, save: Callable[[], object], interval: float) -> None:
        self._save = save
        self._interval = interval
        self._last = time.monotonic()
        self._timer: asyncio.TimerHandle | None = None

    def changed(self) -> None:
        wait = self._last + self._interval - time.monotonic()
        if wait <= 0:
            self.save()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(wait, self.save)

    def save(self) -> None:
        self.stop()
        self._last = time.monotonic()
        self._save()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def with_reasoning_figures(stats: Finished, draft: AnswerDraft) -> Finished:
    """The engine's figures, completed from what lchat saw where the engine is silent: when the
    first reasoning arrived, and the reasoning's share of the tokens (marked as estimated)."""
    if not draft.reasoning_chars:
        return stats
    reasoning_ttft = stats.reasoning_ttft_s if stats.reasoning_ttft_s is not None else draft.first_reasoning_s
    tokens, estimated = stats.reasoning_tokens, stats.reasoning_estimated
    if tokens is None and stats.completion_tokens:
        share = draft.reasoning_chars / (draft.reasoning_chars + len(draft.text))
        tokens, estimated = round(stats.completion_tokens * share), True
    return replace(stats, reasoning_ttft_s=reasoning_ttft, reasoning_tokens=tokens, reasoning_estimated=estimated)
