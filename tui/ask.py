"""`lchat ask`: one question, the answer streamed to stdout, and both kept in the history."""

from __future__ import annotations

import json
import sys
from contextlib import aclosing
from typing import TextIO

from tui.chat_service import AnswerEnded, AnswerPiece
from tui.domain import MessageStatus
from tui.engines.base import EngineError
from tui.safe_text import terminal_safe
from tui.services import Services


async def ask(services: Services, prompt: str, *, model: str | None, as_json: bool,
              out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Answer `prompt`; return the process exit code."""
    chat = services.chat
    try:
        models, offline = await chat.list_models()
        choice = chat.find_model(models, model) if model else chat.default_model(models)
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
    conversation = chat.new_conversation(choice)
    ended: AnswerEnded | None = None
    async with aclosing(chat.send(conversation.id, prompt, choice)) as updates:
        async for update in updates:
            if isinstance(update, AnswerPiece) and not as_json:
                out.write(shown(update.text))
                out.flush()
            elif isinstance(update, AnswerEnded):
                ended = update
    assert ended is not None
    message = ended.message
    if not as_json:
        out.write("\n")
    if message.status is MessageStatus.ERROR:
        print(f"lchat: {terminal_safe(message.error)}", file=err)
        return 1
    if as_json:
        stats = ended.stats
        running = await _running(services, choice.backend, choice.name)
        print(json.dumps({
            "conversation_id": conversation.id,
            "model": choice.name,
            "backend": choice.backend,
            "answer": message.content,
            "prompt_tokens": message.prompt_tokens,
            "completion_tokens": message.completion_tokens,
            "ttft_s": message.ttft_s,
            "gen_s": message.gen_s,
            "tokens_per_s": message.tokens_per_s,
            "energy_wh": message.energy_wh,
            "cached_tokens": stats.cached_tokens if stats else None,
            "stop_reason": stats.stop_reason if stats else None,
            "gpu_layers": running.get("gpu_layers"),
            "gpu_backend": running.get("gpu_backend"),
        }), file=out)
    return 0


async def _running(services: Services, backend: str, name: str) -> dict:
    """What the backend says of the model now loaded (the embedded engine: its GPU offload)."""
    _, models, _ = await services.chat.list_backend(backend)
    found = next((m for m in models if m.name == name), None)
    return dict(found.extra.get("running") or {}) if found else {}
