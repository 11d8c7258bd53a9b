"""`lchat ask`: one question, the answer streamed to stdout, and both kept in the history."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from contextlib import aclosing
from typing import TextIO

from tui.chat_service import AnswerEnded, AnswerPiece, ReasoningUpdate
from tui.domain import Attachment, Conversation, MessageStatus
from tui.engines.base import EngineError
from tui.safe_text import terminal_safe
from tui.services import Services

DIM, PLAIN = "\x1b[2m", "\x1b[0m"


async def ask(services: Services, prompt: str, *, model: str | None, as_json: bool,
              out: TextIO = sys.stdout, err: TextIO = sys.stderr,
              attachments: Sequence[Attachment] = (), system: str | None = None,
              conversation_id: int | None = None, continue_latest: bool = False,
              think: str | None = None, show_reasoning: bool = True) -> int:
    """Answer `prompt` (with `attachments`), in a new conversation or, with `conversation_id`
    or `continue_latest`, an existing one; return the process exit code.

    `think` sets the conversation's thinking ("off", "on" or a level). The reasoning goes to
    `err`, dimmed, when that is a terminal and `show_reasoning`; `--json` carries it too.
    """
    chat = services.chat
    conversation = None
    if continue_latest or conversation_id is not None:
        conversation = _existing(services, conversation_id)
        if conversation is None:
            which = f"conversation {conversation_id}" if conversation_id is not None else "conversation to continue"
            print(f"lchat: there is no {which} (see `lchat list`)", file=err)
            return 1
    try:
        models, offline = await chat.list_models()
        choice = chat.find_model(models, model) if model else chat.default_model(models, conversation)
    except EngineError as error:
        print(f"lchat: {terminal_safe(str(error))}", file=err)
        return 1
    if choice is None:  # The reasons quote servers: made safe like every error shown.
        reasons = "; ".join(f"{name}: {why}" for name, why in offline.items())
        print(terminal_safe(f"lchat: no model found. Put a .gguf file in {services.paths.models_dir}. {reasons}"),
              file=err)
        return 1
    # Text for a terminal is made safe; text for a pipe or file stays exactly as generated.
    shown = terminal_safe if out.isatty() else str
    if conversation is None:
        conversation = chat.new_conversation(choice)
    if system is not None or think is not None:
        params = conversation.params | ({"think": think} if think is not None else {})
        services.store.set_conversation_settings(
            conversation.id, system_prompt=conversation.system_prompt if system is None else system, params=params)
    thoughts = _Thoughts(err if show_reasoning and not as_json and err.isatty() else None)
    ended: AnswerEnded | None = None
    try:
        async with aclosing(chat.send(conversation.id, prompt, choice, attachments=attachments)) as updates:
            async for update in updates:
                if isinstance(update, ReasoningUpdate):
                    thoughts.add(update.text)
                elif isinstance(update, AnswerPiece) and not as_json:
                    thoughts.end()
                    out.write(shown(update.text))
                    out.flush()
                elif isinstance(update, AnswerEnded):
                    ended = update
    finally:
        thoughts.end()  # Interrupted mid-reasoning too: the terminal's style is put back.
    assert ended is not None
    message = ended.message
    if not as_json:
        out.write("\n")
    if message.status is MessageStatus.ERROR:
        print(f"lchat: {terminal_safe(message.error)}", file=err)
        return 1
    if ended.stats and ended.stats.notice:
        print(f"lchat: note: {terminal_safe(ended.stats.notice)}", file=err)
    if as_json:
        stats = ended.stats
        print(json.dumps({
            "conversation_id": conversation.id,
            "model": choice.name,
            "backend": choice.backend,
            "answer": message.content,
            "prompt_tokens": message.prompt_tokens,
            "completion_tokens": message.completion_tokens,
            "reasoning": message.reasoning,
            "ttft_s": message.ttft_s,
            "reasoning_ttft_s": message.reasoning_ttft_s,
            "reasoning_tokens": message.reasoning_tokens,
            "reasoning_estimated": message.reasoning_estimated,
            "gen_s": message.gen_s,
            "tokens_per_s": message.tokens_per_s,
            "energy_wh": message.energy_wh,
            "cached_tokens": stats.cached_tokens if stats else None,
            "stop_reason": stats.stop_reason if stats else None,
        }), file=out)
    return 0


def _existing(services: Services, conversation_id: int | None) -> Conversation | None:
    """The conversation named, or with no id the latest one (not archived)."""
    if conversation_id is not None:
        return services.store.get_conversation(conversation_id)
    latest = services.store.list_conversation_page(limit=1)
    return latest[0] if latest else None


class _Thoughts:
    """Shows the answer's reasoning dimmed on a terminal, before the answer."""

    def __init__(self, terminal: TextIO | None) -> None:
        self._terminal = terminal
        self._dim, self._plain = ("", "") if os.environ.get("NO_COLOR") else (DIM, PLAIN)
        self._open = False

    def add(self, text: str) -> None:
        if self._terminal is not None:
            self._terminal.write(("" if self._open else self._dim) + terminal_safe(text))
            self._terminal.flush()
            self._open = True

    def end(self) -> None:
        """The answer begins (or the stream ended): leave the dim style and the reasoning's line."""
        if self._open and self._terminal is not None:
            self._terminal.write(self._plain + "\n\n")
            self._terminal.flush()
        self._open = False
