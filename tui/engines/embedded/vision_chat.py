"""A turn with images on the embedded engine: the parent's side picks the projector and handler
(tui.engines.embedded.vision); the child's side answers through llama-cpp-python's vision chat handler.

llama-cpp-python is reached through tui.engines.embedded.llama_compat, whose functions import it: the
parent imports this module too. The handler renders the GGUF's own chat template itself, in the
child; `render_check` renders the same template with the same messages first, so the child runs
it in a confined fork (tui.engines.embedded.confined) and a template that runs away is refused before the
handler compiles it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

from tui.domain import ChatTurn, ModelInfo, turn_images
from tui.engines.base import BadRequest
from tui.engines.embedded import llama_compat
from tui.engines.embedded.child_messages import AnswerStats, VisionOption, VisionSampling, WireMessage
from tui.engines.embedded.vision import find_projector, handler_for, no_images_reason
from tui.engines.wire import openai_messages

if TYPE_CHECKING:
    from tui.engines.embedded.llama_compat import (
        ChatCompletionRequestMessage,
        CreateChatCompletionStreamResponse,
        Llama,
        MTMDChatHandler,
    )

NO_VISION_BUILD = (
    "this lchat build has no vision support (libmtmd): rebuild it with `make install`, which builds "
    "llama-cpp-python with LLAVA_BUILD on, to send images to GGUF models"
)


class NoVisionSupport(RuntimeError):
    """llama-cpp-python was built without libmtmd (`llama_cpp.mtmd_cpp` does not load)."""


# The parent's side


def vision_request(info: ModelInfo, turns: Sequence[ChatTurn]) -> tuple[list[WireMessage], VisionOption] | None:
    """For a conversation with images: its messages in the OpenAI parts format (images as data
    URLs, as llama-cpp-python's handlers take them) and the child's `vision` option (projector
    and handler name). None when no turn has an image; BadRequest when the model cannot see."""
    if not any(turn_images(turn) for turn in turns):
        return None
    projector = find_projector(Path(info.path or info.name))
    if projector is None:
        raise BadRequest(no_images_reason(Path(info.name).name, None) or "")
    return openai_messages(turns), {"projector": str(projector), "handler": handler_for(info.architecture)}


# The child's side


def load_handler(name: str, projector: str) -> MTMDChatHandler:
    """llama-cpp-python's chat handler `name` (MTMDChatHandler when it has none by that name)
    for the projector file; NoVisionSupport when the build lacks libmtmd."""
    if not llama_compat.has_libmtmd():
        raise NoVisionSupport(NO_VISION_BUILD)
    return llama_compat.vision_handler(name, projector)


def render_check(llm: Llama, handler: MTMDChatHandler, messages: list[WireMessage]) -> int:
    """Render the model's chat template as the handler will (images as its media marker); the
    prompt's length. Run it confined: the template comes from the GGUF file."""
    try:
        return len(llama_compat.render_vision_template(llm, handler, messages, "<__media__>"))
    except TypeError as error:  # A text-only template joins `content` as a string.
        raise ValueError(f"this model's chat template cannot take images ({error})") from None


def stream_answer(
    llm: Llama,
    handler: MTMDChatHandler,
    messages: list[WireMessage],
    sampling: VisionSampling,
    stats: AnswerStats,
    *,
    on_text: Callable[[str], None],
    check_cancel: Callable[[], None],
) -> None:
    """Answer through `create_chat_completion(stream=True)` with `handler`, passing each text
    piece to `on_text` and filling `stats` as the child's own path does (prompt and completion
    tokens from llama's token counter, prompt_s, stop_reason). `check_cancel` raises to stop."""
    llm.chat_handler = handler
    try:
        # JSON messages in, a stream out: llama-cpp-python types both more narrowly than it checks.
        chunks = cast(
            "Iterator[CreateChatCompletionStreamResponse]",
            llm.create_chat_completion(
                messages=cast("list[ChatCompletionRequestMessage]", messages), stream=True, **sampling
            ),
        )
        stats["stop_reason"] = "stop"
        for chunk in chunks:
            if "prompt_s" not in stats:  # The images and the prompt are evaluated by now.
                stats["prompt_s"] = time.perf_counter() - stats.pop("started")
                stats["prompt_tokens"] = llm.n_tokens
            choice = chunk["choices"][0]
            text = choice["delta"].get("content")
            if isinstance(text, str) and text:
                on_text(text)
            finish = choice.get("finish_reason")
            if finish:
                stats["stop_reason"] = finish
            stats["completion_tokens"] = max(llm.n_tokens - stats["prompt_tokens"], 0)
            check_cancel()
    finally:
        llm.chat_handler = None
        # The handler evaluated image embeddings the token list does not show: the text path
        # must not take that cache for its own prefix.
        llama_compat.reset(llm)
        llama_compat.clear_cache(llm)
