"""A turn with images on the embedded engine: the parent's side picks the projector and handler
(tui.models.vision); the child's side answers through llama-cpp-python's vision chat handler.

llama_cpp is imported only inside the child-side functions: the parent imports this module too.
The handler renders the GGUF's own chat template itself, in the child; `render_check` renders the
same template with the same messages first, so the child runs it in a confined fork
(tui.engines.confined) and a template that runs away is refused before the handler compiles it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tui.domain import ChatTurn, ModelInfo, turn_images
from tui.engines.base import BadRequest
from tui.engines.wire import openai_messages
from tui.models.vision import find_projector, handler_for, no_images_reason

NO_VISION_BUILD = (
    "this lchat build has no vision support (libmtmd): rebuild it with `make install`, which builds "
    "llama-cpp-python with LLAVA_BUILD on, to send images to GGUF models"
)


class NoVisionSupport(RuntimeError):
    """llama-cpp-python was built without libmtmd (`llama_cpp.mtmd_cpp` does not load)."""


# The parent's side


def vision_request(info: ModelInfo, turns: Sequence[ChatTurn]) -> tuple[list[dict[str, Any]], dict[str, str]] | None:
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


def load_handler(name: str, projector: str) -> Any:
    """llama-cpp-python's chat handler `name` (MTMDChatHandler when it has none by that name)
    for the projector file; NoVisionSupport when the build lacks libmtmd."""
    try:
        import llama_cpp.mtmd_cpp  # noqa: F401  # A build without libmtmd raises FileNotFoundError here.
    except Exception:  # noqa: BLE001 - ImportError, OSError: either way no libmtmd
        raise NoVisionSupport(NO_VISION_BUILD) from None
    from llama_cpp import llama_chat_format

    handler = getattr(llama_chat_format, name, None) or llama_chat_format.MTMDChatHandler
    return handler(clip_model_path=projector, verbose=False)


def render_check(llm: Any, handler: Any, messages: list[dict[str, Any]]) -> int:
    """Render the model's chat template as the handler will (images as its media marker); the
    prompt's length. Run it confined: the template comes from the GGUF file."""
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[Jinja2ChatFormatter.IgnoreGenerationTags, jinja2.ext.loopcontrols],
    )
    environment.filters["tojson"] = Jinja2ChatFormatter.tojson
    template = environment.from_string(handler._get_chat_template(llm))
    marker = "<__media__>"
    try:
        return len(
            template.render(
                messages=handler._get_template_messages(messages, marker),
                add_generation_prompt=True,
                raise_exception=raise_exception,
                strftime_now=Jinja2ChatFormatter.strftime_now,
            )
        )
    except TypeError as error:  # A text-only template joins `content` as a string.
        raise ValueError(f"this model's chat template cannot take images ({error})") from None


def stream_answer(
    llm: Any,
    handler: Any,
    messages: list[dict[str, Any]],
    sampling: dict[str, Any],
    stats: dict[str, Any],
    *,
    on_text: Callable[[str], None],
    check_cancel: Callable[[], None],
) -> None:
    """Answer through `create_chat_completion(stream=True)` with `handler`, passing each text
    piece to `on_text` and filling `stats` as the child's own path does (prompt and completion
    tokens from llama's token counter, prompt_s, stop_reason). `check_cancel` raises to stop."""
    llm.chat_handler = handler
    try:
        chunks = llm.create_chat_completion(messages=messages, stream=True, **sampling)
        stats["stop_reason"] = "stop"
        for chunk in chunks:
            if "prompt_s" not in stats:  # The images and the prompt are evaluated by now.
                stats["prompt_s"] = time.perf_counter() - stats.pop("started")
                stats["prompt_tokens"] = llm.n_tokens
            choice = chunk["choices"][0]
            text = choice["delta"].get("content")
            if text:
                on_text(text)
            if choice.get("finish_reason"):
                stats["stop_reason"] = choice["finish_reason"]
            stats["completion_tokens"] = max(llm.n_tokens - stats["prompt_tokens"], 0)
            check_cancel()
    finally:
        llm.chat_handler = None
        # The handler evaluated image embeddings the token list does not show: the text path
        # must not take that cache for its own prefix.
        llm.reset()
        llm._ctx.kv_cache_clear()
