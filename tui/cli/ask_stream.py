"""`lchat ask`: one question, the answer streamed to stdout, and both kept in the history."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Sequence
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Any, TextIO

from tui.chat.attachments import DEFAULT_MAX_BYTES, AttachmentRefused, ImageNotTaken, RawFile, attachment_from_bytes
from tui.chat.events import AnswerEnded, AnswerPiece, ReasoningUpdate, ToolNotice
from tui.domain import Attachment, Conversation, MessageStatus
from tui.domain.parts import ToolCallData, tool_call_of, tool_result_of
from tui.engines.base import EngineError
from tui.guard.safe_text import echo, terminal_safe
from tui.models.names import ModelChoice, Waiting
from tui.services import Services
from tui.tools.approval import ApprovalRequest, Approver, Decision, refuse_all
from tui.tools.loop import ToolCallShown, ToolResultShown

DIM, PLAIN = "\x1b[2m", "\x1b[0m"


async def ask(
    services: Services,
    prompt: str,
    *,
    model: str | None,
    as_json: bool,
    backend: str | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
    attachments: Sequence[Attachment] = (),
    files: Sequence[RawFile] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
    system: str | None = None,
    conversation_id: int | None = None,
    continue_latest: bool = False,
    think: str | None = None,
    show_reasoning: bool = True,
    tools: bool = False,
    allow: Sequence[str] = (),
    stdin: TextIO = sys.stdin,
) -> int:
    """Answer `prompt` (with `attachments`), in a new conversation or, with `conversation_id`
    or `continue_latest`, an existing one; return the process exit code. `model` is `NAME` or
    `BACKEND/NAME` (else the conversation's, else the configured default), on `backend` when given.
    `files` (read, bounded, not yet judged) become attachments once the model is known, so an
    image for a model that takes none is never decoded; a file refused for what it is exits 2.

    `think` sets the conversation's thinking ("off", "on" or a level). The reasoning goes to
    `err`, dimmed, when that is a terminal and `show_reasoning`; `--json` carries it too. With
    `tools`, the configured servers' tools are offered; a call runs if `allow` or the config
    allows it, or the user says so on a terminal.
    """
    # Looked up at each call, not at import: a caller (a test) may have replaced them since.
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    chat = services.chat
    if tools and services.tools is None:
        echo("lchat: --tools: no MCP server is configured ([mcp.servers.NAME], or lchat mcp import FILE)", file=err)
        return 1
    conversation = None
    if continue_latest or conversation_id is not None:
        conversation = _existing(services, conversation_id)
        if conversation is None:
            which = f"conversation {conversation_id}" if conversation_id is not None else "conversation to continue"
            echo(f"lchat: there is no {which} (see `lchat list`)", file=err)
            return 1
    try:
        models, offline = await chat.models.list_models()
        if model:
            choice: ModelChoice | Waiting | None = chat.models.find_model(
                models, model, backend=backend, offline=offline
            )
        else:  # Every backend has answered: the configured model is found, or named in the error.
            choice = chat.models.answer_model(models, conversation, offline=offline, backend=backend)
    except EngineError as error:
        echo(f"lchat: {error}", file=err)
        return 1
    if not isinstance(choice, ModelChoice):  # The reasons quote servers: made safe like every error shown.
        reasons = "; ".join(f"{name}: {why}" for name, why in offline.items())
        echo(f"lchat: no model found. Put a .gguf file in {services.paths.models_dir}. {reasons}", file=err)
        return 1
    try:  # Judged now the model is known: an image for a model that takes none is never decoded.
        blind = chat.models.blind_model(choice)
        attachments = [
            *attachments,
            *(attachment_from_bytes(f.name, f.data, max_bytes=max_bytes, blind_model=blind) for f in files),
        ]
    except AttachmentRefused as refused:  # A file unfit to send is bad input (2); a blind model, as below (1).
        print(f"lchat: {refused}", file=err)
        return 1 if isinstance(refused, ImageNotTaken) else 2
    try:  # Refused before a new conversation is made for it.
        chat.prompts.check_images_seen(choice, attachments)
    except EngineError as error:
        echo(f"lchat: {error}", file=err)
        return 1
    # Text for a terminal is made safe; text for a pipe or file stays exactly as generated.
    shown = terminal_safe if out.isatty() else str
    if conversation is None:
        conversation = chat.settings.new_conversation(choice)
    if system is not None or think is not None:
        settings = replace(conversation.settings, think=think) if think is not None else None
        conversation = chat.settings.change(conversation, settings, system_prompt=system)
    approver: Approver = refuse_all
    if tools and services.tools is not None:
        conversation = chat.settings.set_tools(conversation, list(services.tools.config.servers))
        services.tools.policy.allow = [*services.tools.policy.allow, *allow]
        if stdin.isatty() and err.isatty():  # Never asked on a pipe: refused, and the model told so.
            approver = terminal_approver(stdin, err)
    thoughts = _Thoughts(err if show_reasoning and not as_json and err.isatty() else None)
    ended: AnswerEnded | None = None
    calls: dict[str, _CallReport] = {}
    try:
        async with aclosing(
            chat.answers.send(conversation.id, prompt, choice, attachments=attachments, approver=approver)
        ) as updates:
            async for update in updates:
                if isinstance(update, ReasoningUpdate):
                    thoughts.add(update.text)
                elif isinstance(update, AnswerPiece) and not as_json:
                    thoughts.end()
                    out.write(shown(update.text))
                    out.flush()
                elif isinstance(update, ToolNotice):
                    echo(f"lchat: {update.text}", file=err)
                elif isinstance(update, ToolCallShown | ToolResultShown):
                    _note_call(update, calls, err, quiet=as_json)
                elif isinstance(update, AnswerEnded):
                    ended = update
    finally:
        thoughts.end()  # Interrupted mid-reasoning too: the terminal's style is put back.
    assert ended is not None
    message = ended.message
    if not as_json:
        out.write("\n")
    if message.status is MessageStatus.ERROR:
        echo(f"lchat: {message.error}", file=err)
        return 1
    if ended.stats and ended.stats.notice:
        echo(f"lchat: note: {ended.stats.notice}", file=err)
    if as_json:
        stats = ended.stats
        running = await _running(services, choice.backend, choice.name)
        print(
            json.dumps(
                {
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
                    **({"tool_calls": [call.to_json() for call in calls.values()]} if tools else {}),
                    "gpu_layers": running.get("gpu_layers"),
                    "gpu_backend": running.get("gpu_backend"),
                    # As llama.cpp logged the load: MiB per device and kind, and ggml's devices.
                    "buffers": running.get("buffers"),
                    "vram_by_device": running.get("vram_by_device"),
                    "devices": running.get("devices"),
                    # Why the load has fewer layers than asked (VRAM short, an earlier out-of-memory), and
                    # flash attention as the context got it ("auto" resolved).
                    "gpu_note": running.get("note") or None,
                    "flash_attn": running.get("flash_attn"),
                }
            ),
            file=out,
        )
    return 0


async def _running(services: Services, backend: str, name: str) -> dict:
    """What the backend says of the model now loaded (the embedded engine: its GPU offload)."""
    _, models, _ = await services.chat.models.list_backend(backend)
    found = next((m for m in models if m.name == name), None)
    return dict(found.extra.get("running") or {}) if found else {}


def _existing(services: Services, conversation_id: int | None) -> Conversation | None:
    """The conversation named, or with no id the latest one (not archived)."""
    if conversation_id is not None:
        return services.store.get_conversation(conversation_id)
    latest = services.store.list_conversation_page(limit=1)
    return latest[0] if latest else None


@dataclass
class _CallReport:
    """One tool call as --json reports it: the call as last stored, then its result."""

    call: ToolCallData
    result: str | None = None
    is_error: bool = False

    def to_json(self) -> dict[str, Any]:
        call = self.call
        shown: dict[str, Any] = {"id": call.id, "server": call.server, "tool": call.tool}
        shown.update(arguments=call.arguments, approval=call.approval, state=call.state)
        if self.result is not None:
            shown.update(result=self.result, is_error=self.is_error)
        return shown


def _note_call(
    update: ToolCallShown | ToolResultShown, calls: dict[str, _CallReport], err: TextIO, *, quiet: bool
) -> None:
    """Keep each call (and its result) for --json; say on stderr what ran or was refused."""
    if isinstance(update, ToolResultShown):
        result = tool_result_of(update.part)
        if result.id in calls:
            calls[result.id].result, calls[result.id].is_error = update.part.text, result.is_error
        return
    call = tool_call_of(update.part)
    if call.id in calls:
        calls[call.id].call = call
    else:
        calls[call.id] = _CallReport(call)
    if not quiet and call.state in ("refused", "done"):
        word = "ran" if call.state == "done" else "refused"
        echo(f"lchat: tool {call.server}.{call.tool} {word}", file=err)


def terminal_approver(stdin: TextIO, err: TextIO) -> Approver:
    """Asks on the terminal (the question on stderr, the answer from stdin): run once, always, or no.

    What was typed before the question showed is dropped first, and "always" is the whole word,
    so nothing typed ahead (a line, a stray "y") answers for the user."""

    async def approve(request: ApprovalRequest) -> Decision:
        arguments = json.dumps(request.arguments, ensure_ascii=False)
        _drop_typed_ahead(stdin)
        err.write(
            terminal_safe(
                f"\nlchat: the model wants to run {request.tool.qualified} with {arguments[:400]}"
                f"{'…' if len(arguments) > 400 else ''}\n"
            )
            + "run it? [y]es once / always (the word) in this chat / [N]o: "
        )
        err.flush()
        answer = (await asyncio.to_thread(stdin.readline)).strip().lower()
        return {"y": Decision.ONCE, "yes": Decision.ONCE, "always": Decision.ALWAYS}.get(answer, Decision.REFUSE)

    return approve


def _drop_typed_ahead(stdin: TextIO) -> None:
    """Discard what the terminal holds unread (keys typed while the answer streamed)."""
    try:
        import termios

        termios.tcflush(stdin.fileno(), termios.TCIFLUSH)
    except (ImportError, OSError, ValueError, AttributeError):
        pass  # Not a terminal (or not POSIX): nothing was typed ahead into it.


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
