"""The engine contract: one async shape for every backend, and one family of errors."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from tui.domain import ChatTurn, GenerationOptions, ModelInfo, ToolCall
from tui.engines.manage import Details, Progress

if TYPE_CHECKING:
    from tui.fit.estimate import Memory
    from tui.fit.offload import Offload


@dataclass(frozen=True)
class TextPiece:
    """A piece of the answer, in order; pieces concatenate to the answer."""

    text: str


@dataclass(frozen=True)
class ReasoningPiece:
    """A piece of the model's reasoning; never part of the answer text."""

    text: str


@dataclass(frozen=True)
class ToolCallRequest:
    """The model asks for a tool call, complete (arguments parsed). The answer's round ends
    with its `Finished`; the caller runs the calls and asks again with the results."""

    call: ToolCall


@dataclass(frozen=True)
class Finished:
    """The last event of an answer: token counts and timings."""

    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None
    """Seconds from the request to the first piece."""
    gen_s: float
    """Seconds from the first piece to the last."""
    stop_reason: str = "stop"
    """"stop" (end of turn), "length" (max tokens) or another engine word."""
    cached_tokens: int = 0
    """Prompt tokens taken from the KV cache instead of evaluated."""
    prompt_s: float | None = None
    """Seconds the engine spent evaluating the prompt, where it reports it."""
    load_s: float | None = None
    """Seconds the engine spent loading the model for this answer, where it reports it."""
    reasoning_tokens: int | None = None
    """Of `completion_tokens`, how many were reasoning, where known or estimated."""
    reasoning_estimated: bool = False
    """`reasoning_tokens` is an estimate (the engine reported one total)."""
    reasoning_ttft_s: float | None = None
    """Seconds from the request to the first reasoning piece (`ttft_s`: the first answer piece)."""
    notice: str = ""
    """Something the user should be told about this answer, e.g. that the model ignored the think setting."""

    @property
    def tokens_per_s(self) -> float | None:
        return self.completion_tokens / self.gen_s if self.gen_s > 0 else None


ChatEvent = TextPiece | ReasoningPiece | ToolCallRequest | Finished


class EngineError(Exception):
    """An engine failure; str() is a message a user can read."""


class EngineUnavailable(EngineError):
    """The engine cannot be reached or started."""


class ModelNotFound(EngineError):
    """The named model does not exist for this engine."""


class ModelLoadError(EngineError):
    """The model exists but cannot be loaded (not a usable GGUF, too big...)."""


class EngineCrashed(EngineError):
    """The engine died in the middle of its work (a signal, an abort, OOM)."""


class OutOfGpuMemory(EngineCrashed):
    """The engine stopped because the GPU ran out of memory while it answered (llama.cpp's CUDA
    backend aborts the process); the next load puts fewer layers on the GPU."""


class BadRequest(EngineError):
    """The engine refused the request (prompt too long, bad option...)."""


class Unsupported(EngineError):
    """The backend does not have this ability (its `can_...` flag is False)."""


class Engine:
    """What every backend provides, and every optional ability with a safe default.

    `chat` returns an async iterator of `TextPiece` (and `ReasoningPiece`, `ToolCallRequest`)
    events followed by exactly one `Finished`. Cancelling the consuming task cancels
    generation. Failures raise `EngineError` subclasses, never library exceptions.

    A backend overrides the abilities it has (harlequin's adapter style), so callers ask
    `engine.can_pull` or `engine.supports_tools(model)` instead of testing its type or name.
    """

    name: str = "engine"

    # What every backend must provide.

    async def list_models(self) -> list[ModelInfo]:
        raise NotImplementedError

    def chat(
        self, model: str, messages: Sequence[ChatTurn], options: GenerationOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        raise NotImplementedError

    async def aclose(self) -> None:
        """Release clients and child processes; safe to call twice."""

    # Where it runs.

    @property
    def local(self) -> bool:
        """The models run on this machine: its power, memory and processes are theirs.
        False unless the backend says so, so nothing of this machine is claimed for a server."""
        return False

    @property
    def url(self) -> str:
        """The server's address, for a backend that talks to one ("" for none)."""
        return ""

    @property
    def child_pid(self) -> int | None:
        """The process the models run in, where the engine started one itself."""
        return None

    def vram_on(self, gpu: int) -> int | None:
        """Bytes of VRAM that process allocated on NVIDIA GPU `gpu`, by its own count; None: not known."""
        return None

    @property
    def loads_into(self) -> str:
        """Where a model is loaded on this machine: "RAM", "VRAM" (the GPU, else RAM), or ""
        (elsewhere, or unknown): what the catalog's fit estimate compares a model against."""
        return ""

    @property
    def context_cap(self) -> int | None:
        """Most context this engine loads a model with, whatever it was trained for (None: the
        model's own), so the chat service fits conversations into what is really loaded."""
        return None

    def load_context(self, model: ModelInfo) -> int | None:
        """Tokens of context `model` is (or would be) loaded with where the backend decides that
        itself, before the model's own limit caps it; None: lchat's [engine] context_length."""
        return None

    @property
    def build_flavour(self) -> str:
        """The GPU backend of the engine's own llama.cpp build ("cuda", "vulkan", "metal", "cpu");
        "" for a backend lchat did not build (a server)."""
        return ""

    def offload_plan(self, model: ModelInfo, n_ctx: int, vram: Memory | None) -> Offload | None:
        """The layers of `model` this engine would put on the GPU at `n_ctx` tokens with `vram`
        free, as its next load decides them; None where it does not split a model between the
        GPU and the CPU itself (a server, a CPU build)."""
        return None

    def load_details(self, model: ModelInfo) -> Details:
        """Rows on how `model` is loaded here (GPU offload, buffers, load options) for the
        details view; empty where the backend says nothing of it."""
        return []

    full_swa_cache: ClassVar[bool] = False
    """Sliding-window layers cache the whole context (llama.cpp's full-size SWA cache), so the fit
    estimate counts them in full; else they cache the window, as Ollama sizes it."""
    reports_loaded: ClassVar[bool] = False
    """The model list marks the loaded models (`extra["running"]`): no mark means none is loaded,
    rather than that the backend does not say."""
    model_processes: ClassVar[frozenset[str]] = frozenset()
    """Name fragments of processes on this machine that run this backend's models though lchat did
    not start them (Ollama's runners): the stats pane marks them as the model's."""

    # Managing models.

    can_describe: ClassVar[bool] = False
    """`details(model)` says more than the model list."""
    can_pull: ClassVar[bool] = False
    """`pull(model)` downloads a model by name."""
    can_delete: ClassVar[bool] = False
    """`delete(model)` removes a model."""
    can_unload: ClassVar[bool] = False
    """`unload(model)` frees a loaded model's memory now."""
    supports_lora: ClassVar[bool] = False
    """`GenerationOptions.lora` (a GGUF LoRA adapter) is applied."""

    async def details(self, model: str) -> Details:
        """Everything known of `model`, as (label, value) rows."""
        raise Unsupported(f"{self.name} cannot describe its models")

    def pull(self, model: str) -> AsyncGenerator[Progress, None]:
        """Download `model`; cancel by cancelling the consumer."""
        raise Unsupported(f"{self.name} cannot pull models")

    def delete_note(self, model: ModelInfo) -> str:
        """What deleting `model` removes, for the question asked first; raises EngineError
        when lchat must not delete it."""
        if not self.can_delete:
            raise Unsupported(f"lchat cannot delete models on {self.name}; remove it there")
        return "Its files are removed."

    async def delete(self, model: str) -> None:
        raise Unsupported(f"lchat cannot delete models on {self.name}; remove it there")

    async def unload(self, model: str) -> None:
        raise Unsupported(f"{self.name} has no unload; its models are loaded as they are used")

    # What a model can do (None: not known).

    def supports_thinking(self, model: str) -> bool | None:
        """Whether `model` reasons before answering; None when the backend cannot tell."""
        return None

    def think_levels(self, model: str) -> tuple[str, ...]:
        """The `GenerationOptions.think` values `model` honours beyond None ("off", "on",
        "low"...); empty when not known."""
        return ()

    def supports_tools(self, model: str) -> bool | None:
        """Whether `model` can call tools (`GenerationOptions.tools`); None when not known."""
        return None

    def supports_images(self, model: str) -> bool | None:
        """Whether `model` reads image attachments; None when not known."""
        return None
