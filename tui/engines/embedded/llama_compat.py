"""The one home of llama-cpp-python internals lchat relies on.

Each is reached through a function here, so an upgrade that moves one breaks this module, and
`tests/test_llama_compat.py` says which name moved before an answer misbehaves. The internals:

- ``Llama._model`` (an ``_internals.LlamaModel``): its ``vocab`` pointer, for llama.cpp's token
  calls, and ``token_get_text``, for the BOS/EOS text a chat template is given (:func:`vocab`,
  :func:`token_text`).
- ``Llama._ctx`` (an ``_internals.LlamaContext``): ``kv_cache_seq_rm`` to keep a cached prefix,
  ``kv_cache_clear`` after a vision turn (:func:`keep_prefix`, :func:`clear_cache`); with them
  ``Llama.n_tokens``, which ``Llama.generate`` trusts as the length of what is cached.
- ``Llama._is_recurrent`` and ``Llama._is_hybrid``: a state that cannot be cut back (:func:`whole_state_only`).
- ``llama_chat_format.Jinja2ChatFormatter``, replaced while a model loads because ``Llama()`` looks it
  up in that module to compile every template of the file (:func:`templates_not_compiled`); its
  ``IgnoreGenerationTags``, ``tojson`` and ``strftime_now``, to render as a vision handler does.
- ``_internals.LlamaContext``, replaced while a model loads because ``Llama()`` calls it with the
  context's ``params``, whose ``flash_attn_type`` ``Llama(flash_attn=)`` sets only to on or off
  (:func:`flash_attention_auto`).
- ``llama_chat_format``'s vision handlers looked up by name, the ``mtmd_cpp`` module that is
  missing from a build without libmtmd, and ``MTMDChatHandler._get_chat_template`` and
  ``_get_template_messages`` (:func:`has_libmtmd`, :func:`vision_handler`, :func:`render_vision_template`).

llama_cpp is imported inside the functions only: the parent process imports this module too
(through tui.engines.embedded.child) and must never load llama.cpp itself.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Named here for the engine's other modules too, which never import llama_cpp.
    from llama_cpp import Llama as Llama
    from llama_cpp.llama_chat_format import ChatFormatterResponse as ChatFormatterResponse
    from llama_cpp.llama_chat_format import MTMDChatHandler as MTMDChatHandler
    from llama_cpp.llama_cpp import llama_vocab_p as llama_vocab_p
    from llama_cpp.llama_types import ChatCompletionRequestMessage as ChatCompletionRequestMessage
    from llama_cpp.llama_types import CreateChatCompletionStreamResponse as CreateChatCompletionStreamResponse

INTERNALS: dict[str, tuple[str, ...]] = {
    "llama_cpp.Llama (instances)": ("_model", "_ctx", "_is_recurrent", "_is_hybrid"),
    "llama_cpp._internals.LlamaModel (instances)": ("vocab", "token_get_text"),
    "llama_cpp._internals.LlamaContext (instances)": ("kv_cache_seq_rm", "kv_cache_clear"),
    "llama_cpp._internals": ("LlamaContext",),
    "llama_cpp.llama_chat_format": ("Jinja2ChatFormatter", "MTMDChatHandler"),
    "llama_cpp.llama_chat_format.Jinja2ChatFormatter": ("IgnoreGenerationTags", "tojson", "strftime_now"),
    "llama_cpp.llama_chat_format.MTMDChatHandler": ("_get_chat_template", "_get_template_messages"),
}
"""Every internal used through this module, by what owns it."""


class LlamaMoved(RuntimeError):
    """A llama-cpp-python internal lchat relies on is gone: this module needs updating."""


def _get(owner: object, name: str) -> Any:
    """`owner.name`, or LlamaMoved naming it; Any because what it returns is llama-cpp-python's to type."""
    try:
        return getattr(owner, name)
    except AttributeError:
        what = owner.__name__ if isinstance(owner, type | ModuleType) else type(owner).__name__
        raise LlamaMoved(
            f"llama-cpp-python {_version()}: {what}.{name} is gone; update tui/engines/embedded/llama_compat.py"
        ) from None


def _version() -> str:
    try:
        return importlib.metadata.version("llama_cpp_python")
    except importlib.metadata.PackageNotFoundError:
        return "(version unknown)"


# The loaded model


def vocab(llm: Llama) -> llama_vocab_p:
    """The model's vocabulary, as llama.cpp's token calls (llama_vocab_is_eog...) take it."""
    found: llama_vocab_p = _get(_get(llm, "_model"), "vocab")
    return found


def token_text(llm: Llama, token: int) -> str:
    """A token's text as the vocabulary spells it (special tokens included): "<|im_start|>"."""
    text: str = _get(_get(llm, "_model"), "token_get_text")(token)
    return text


def whole_state_only(llm: Llama) -> bool:
    """Whether the model's state cannot be cut back to a prefix (recurrent and hybrid models)."""
    return bool(_get(llm, "_is_recurrent") or _get(llm, "_is_hybrid"))


def keep_prefix(llm: Llama, tokens: int) -> int:
    """Keep the first `tokens` of the KV cache and tell `Llama.generate` so; when llama.cpp cannot
    cut the cache there, start afresh. How many tokens are kept."""
    if not _get(_get(llm, "_ctx"), "kv_cache_seq_rm")(-1, tokens, -1):
        reset(llm)
        tokens = 0
    llm.n_tokens = tokens
    return tokens


def reset(llm: Llama) -> None:
    """Forget the evaluated tokens (`Llama.reset`, public but unannotated)."""
    llm.reset()  # type: ignore[no-untyped-call]  # llama-cpp-python leaves it unannotated


def clear_cache(llm: Llama) -> None:
    """Empty the KV cache (after a vision turn evaluated images the token list does not show)."""
    _get(_get(llm, "_ctx"), "kv_cache_clear")()


# While a model loads


class _Uncompiled:
    """Stands in for Jinja2ChatFormatter while a model loads: Llama() compiles every chat template
    in the file for chat handlers lchat never uses, in this process and with no limit (Jinja folds
    `'x' * 10**9` into the compiled code). lchat formats prompts itself, confined."""

    def __init__(self, **_: object) -> None:
        pass

    def to_chat_handler(self) -> object:
        def unused(**_: object) -> None:
            raise NotImplementedError("lchat formats prompts itself (tui.engines.embedded.llama_compat.format_prompt)")

        return unused


@contextmanager
def templates_not_compiled() -> Iterator[None]:
    """Within: loading a model compiles none of its chat templates."""
    from llama_cpp import llama_chat_format

    real = _get(llama_chat_format, "Jinja2ChatFormatter")
    llama_chat_format.Jinja2ChatFormatter = _Uncompiled  # type: ignore[misc,assignment]  # the swap is the point
    try:
        yield
    finally:
        llama_chat_format.Jinja2ChatFormatter = real  # type: ignore[misc]  # put back


@contextmanager
def flash_attention_auto(enabled: bool) -> Iterator[None]:
    """Within, when `enabled`: a context made gets llama.cpp's LLAMA_FLASH_ATTN_TYPE_AUTO, which
    Llama(flash_attn=) cannot ask for (it maps only to on and off)."""
    if not enabled:
        yield
        return
    import llama_cpp
    from llama_cpp import _internals

    real = _get(_internals, "LlamaContext")

    def auto(**kwargs: Any) -> object:  # Llama's own keywords, passed through.
        kwargs["params"].flash_attn_type = llama_cpp.LLAMA_FLASH_ATTN_TYPE_AUTO
        made: object = real(**kwargs)
        return made

    _internals.LlamaContext = auto  # type: ignore[misc,assignment]  # the swap is the point
    try:
        yield
    finally:
        _internals.LlamaContext = real  # type: ignore[misc]  # put back


# Prompts


def format_prompt(
    template: str,
    *,
    eos_token: str,
    bos_token: str,
    messages: Sequence[Mapping[str, object]],
    tools: Sequence[Mapping[str, object]] | None,
    variables: Mapping[str, object],
) -> ChatFormatterResponse:
    """The chat template rendered as llama-cpp-python renders it (its sandbox, filters and
    extensions). It compiles the template: run it confined (tui.engines.embedded.confined)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    formatter = Jinja2ChatFormatter(template=template, eos_token=eos_token, bos_token=bos_token)
    return formatter(messages=messages, tools=tools, **variables)  # type: ignore[arg-type]  # TypedDicts there; plain JSON here


# Vision


def has_libmtmd() -> bool:
    """Whether this build has libmtmd (images); a build without it fails importing `mtmd_cpp`."""
    try:
        import llama_cpp.mtmd_cpp  # noqa: F401
    except Exception:  # noqa: BLE001 - ImportError, OSError (FileNotFoundError): either way no libmtmd
        return False
    return True


def vision_handler(name: str, projector: str) -> MTMDChatHandler:
    """llama-cpp-python's chat handler called `name` (MTMDChatHandler when it has none by that
    name) for the projector file. Needs libmtmd (:func:`has_libmtmd`)."""
    from llama_cpp import llama_chat_format

    handler: type[MTMDChatHandler] = getattr(llama_chat_format, name, None) or _get(
        llama_chat_format, "MTMDChatHandler"
    )
    return handler(clip_model_path=projector, verbose=False)


def render_vision_template(
    llm: Llama, handler: MTMDChatHandler, messages: Sequence[Mapping[str, object]], marker: str
) -> str:
    """The model's chat template rendered as `handler` renders it, images as `marker`. The
    template raises ValueError through `raise_exception`; run it confined."""
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def raise_exception(message: str) -> None:
        raise ValueError(message)

    environment = ImmutableSandboxedEnvironment(
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=[_get(Jinja2ChatFormatter, "IgnoreGenerationTags"), jinja2.ext.loopcontrols],
    )
    environment.filters["tojson"] = _get(Jinja2ChatFormatter, "tojson")
    template = environment.from_string(_get(handler, "_get_chat_template")(llm))
    return template.render(
        messages=_get(handler, "_get_template_messages")(messages, marker),
        add_generation_prompt=True,
        raise_exception=raise_exception,
        strftime_now=_get(Jinja2ChatFormatter, "strftime_now"),
    )
