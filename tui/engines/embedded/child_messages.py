"""What the embedded engine's parent and child send each other, typed (tui.engines.embedded.child
describes the messages). They travel pickled, so these are the shapes each side promises."""

from __future__ import annotations

from typing import Any, TypedDict

ToChild = tuple[object, ...]
"""("chat", req, path, n_ctx, messages, ChildOptions) | ("cancel", req) | ("quit",)."""
FromChild = tuple[str, int, *tuple[Any, ...]]
"""(kind, req, *rest), unpickled: what `rest` holds depends on the kind (embedded_child's docstring)."""

WireMessage = dict[str, Any]
"""One chat message as chat templates and llama-cpp-python take it (tui.engines.wire): JSON."""


class OffloadOptions(TypedDict, total=False):
    """How the child loads a model (tui.engines.embedded.offload_plan decides)."""

    gpu_layers: int
    """Layers on the GPU; -1 for all."""
    layers: int
    """The model's layer count when known (0: not), for halving on a retry."""
    k_type: str
    """The KV cache's K type: "f16", "q8_0" or "q4_0"."""
    v_type: str
    flash_attn: bool | str
    """True, False or "auto"."""


class VisionOption(TypedDict):
    """A turn with images: the projector file and llama-cpp-python's handler for the family."""

    projector: str
    handler: str


class ToolFunction(TypedDict):
    """A tool offered to the model (ToolSpec as a dict); the template gets it as a "function"."""

    name: str
    description: str
    parameters: dict[str, Any]
    """Its arguments' JSON Schema."""


class ChildOptions(TypedDict, total=False):
    """One request's options: GenerationOptions as a dict, and what the parent adds."""

    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    seed: int | None
    stop: list[str]
    lora: str | None
    think: str | None
    tools: list[ToolFunction]
    vision: VisionOption
    offload: OffloadOptions


class VisionSampling(TypedDict):
    """What a vision turn passes to `Llama.create_chat_completion` besides the messages."""

    temperature: float
    top_p: float
    max_tokens: int | None
    stop: list[str]
    seed: int


class AnswerStats(TypedDict, total=False):
    """The figures of one answer, sent with "done"."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    load_s: float | None
    started: float
    """perf_counter when the model was ready; replaced by prompt_s at the first token."""
    prompt_s: float
    stop_reason: str
    reasoning_tokens: int
    notice: str
