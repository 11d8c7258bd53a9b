"""A scripted engine for the tests: it honours the engine contract exactly."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Sequence

from tui.domain import ChatTurn, GenerationOptions, ModelInfo
from tui.engines.base import ChatEvent, Engine, EngineError, Finished, ModelNotFound, ReasoningPiece, TextPiece

Script = Callable[[Sequence[ChatTurn]], Sequence[str]]


class ScriptedEngine(Engine):
    """Answers with pieces chosen by a script, at a chosen pace, and can fail on cue. It has none
    of the optional abilities, so the contract's defaults are what it declares."""

    def __init__(
        self,
        *,
        name: str = "fake",
        models: Sequence[str] = ("fake-model",),
        script: Script | None = None,
        delay: float = 0.0,
        fail_after: int | None = None,
        error: EngineError | None = None,
        context_cap: int | None = None,
        reasoning: Sequence[str] = (),
        local: bool = True,
    ) -> None:
        """`local`: whether it stands for an engine on this machine (energy is measured for those)."""
        self.name = name
        self._context_cap = context_cap
        self._local = local
        self.model_names = list(models)
        self.script = script or echo_script
        self.delay = delay
        """Seconds to wait before each piece."""
        self.fail_after = fail_after
        """Raise `error` after this many pieces (None: never)."""
        self.error = error or EngineError("the fake engine failed on cue")
        self.reasoning = list(reasoning)
        """Reasoning pieces sent before each answer (a thinking model), unless think is "off"."""
        self.requests: list[tuple[str, list[ChatTurn], GenerationOptions]] = []
        """Every chat request received, for tests to inspect."""

    @property
    def context_cap(self) -> int | None:
        return self._context_cap

    @context_cap.setter
    def context_cap(self, value: int | None) -> None:
        self._context_cap = value

    @property
    def local(self) -> bool:
        return self._local

    async def list_models(self) -> list[ModelInfo]:
        return [ModelInfo(name=name, backend=self.name, context_length=4096) for name in self.model_names]

    async def chat(
        self, model: str, messages: Sequence[ChatTurn], options: GenerationOptions
    ) -> AsyncGenerator[ChatEvent, None]:
        if model not in self.model_names:
            raise ModelNotFound(f"model {model!r} not found")
        self.requests.append((model, list(messages), options))
        started = time.perf_counter()
        first = first_thought = None
        thoughts = self.reasoning if options.think != "off" else []
        for thought in thoughts:
            await asyncio.sleep(self.delay)
            first_thought = first_thought or time.perf_counter()
            yield ReasoningPiece(thought)
        pieces = list(self.script(messages))
        for count, piece in enumerate(pieces):
            if self.fail_after is not None and count >= self.fail_after:
                raise self.error
            if self.delay:
                await asyncio.sleep(self.delay)
            else:
                await asyncio.sleep(0)
            first = first or time.perf_counter()
            yield TextPiece(piece)
        ended = time.perf_counter()
        yield Finished(
            prompt_tokens=sum(len(turn.content.split()) for turn in messages),
            completion_tokens=len(pieces) + len(thoughts),
            ttft_s=(first - started) if first else None,
            gen_s=ended - (first or ended),
            reasoning_tokens=len(thoughts) if thoughts else None,
            reasoning_ttft_s=(first_thought - started) if first_thought else None,
        )


def echo_script(messages: Sequence[ChatTurn]) -> list[str]:
    """Answer 'You said: <last message>' word by word."""
    words = f"You said: {messages[-1].content}".split(" ")
    return [word if index == 0 else " " + word for index, word in enumerate(words)]


def fixed_script(*pieces: str) -> Script:
    """A script that always answers with `pieces`."""
    return lambda messages: pieces
