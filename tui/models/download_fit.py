"""The fit of a model before it is downloaded or pulled, from its size alone.

Before a download only the file's size is known (no layer count, no KV shape), so the estimate
is the share of the weights that fits on the GPU, else whether they fit in RAM:

    weights on GPU  = free VRAM - max(10% of VRAM, 512 MiB) - 256 MiB, over size x 1.05
    verdict         = fits on GPU | partly on GPU (~N% of layers) | fits in RAM | tight in RAM | won't fit

The KV cache comes on top; the models pane's estimate counts it once the file is here.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TypeVar

from tui.domain import ModelInfo
from tui.engines.base import EngineError
from tui.engines.manage import Progress
from tui.fit.estimate import OVERHEAD_FIXED, OVERHEAD_SHARE, estimate
from tui.fit.memory import MemorySnapshot
from tui.fit.offload import reserve
from tui.fit.units import gb

T = TypeVar("T")
FITS, PARTLY, WONT = 0, 1, 2


@dataclass(frozen=True)
class SizeFit:
    """A verdict on a model of `size` bytes, and how good it is (0 fits, 1 partly or tight, 2 won't)."""

    verdict: str
    rank: int
    size: int
    free: str
    """The memory it was weighed against, for people ("20.0 GB free VRAM")."""
    share: float = 1.0
    """How much of it fits: the share of its layers on the GPU, or free RAM over what it needs."""

    @property
    def fits(self) -> bool:
        return self.rank < WONT


def size_fit(size: int | None, memory: MemorySnapshot | None, *, gpu: bool) -> SizeFit | None:
    """The fit of `size` bytes of weights; `gpu`: the backend can put layers on this GPU."""
    if not size or memory is None:
        return None
    vram = memory.gpu if gpu else None
    if vram is not None:
        room = vram.free - reserve(vram) - OVERHEAD_FIXED
        share = room / (size * (1 + OVERHEAD_SHARE))
        free = f"{gb(vram.free)} free VRAM"
        if share >= 1:
            return SizeFit("fits on GPU", FITS, size, free)
        if share >= 0.05:
            return SizeFit(f"partly on GPU (~{share:.0%} of layers)", PARTLY, size, free, share)
    if memory.ram is None:
        return None
    ram = estimate(ModelInfo("", "", size_bytes=size), 0, memory.ram)
    assert ram is not None
    verdict = {"fits": "fits in RAM", "tight": "tight in RAM"}.get(ram.verdict, "won't fit")
    rank = {"fits": FITS, "tight": PARTLY}.get(ram.verdict, WONT)
    return SizeFit(verdict, rank, size, f"{gb(memory.ram.free)} free RAM", memory.ram.free / ram.need)


def best_first(
    items: Sequence[T], size: Callable[[T], int | None], memory: MemorySnapshot | None, *, gpu: bool
) -> list[tuple[T, SizeFit | None]]:
    """`items` with their fit: those that fit first, the largest (the highest quality
    quantization) leading; then those that partly fit or will not, the best fitting first;
    unknown sizes last."""

    def order(pair: tuple[T, SizeFit | None]) -> tuple[int, float]:
        fit = pair[1]
        if fit is None:
            return WONT + 1, 0.0
        return fit.rank, -fit.size if fit.rank == FITS else -fit.share

    return sorted(((item, size_fit(size(item), memory, gpu=gpu)) for item in items), key=order)


async def with_fit(
    steps: AsyncGenerator[Progress, None],
    judge: Callable[[int], SizeFit | None],
    go_on: Callable[[SizeFit], Awaitable[bool]],
) -> AsyncGenerator[Progress, None]:
    """A pull's progress with the fit as its status once the largest part's size is known;
    a part that will not fit asks `go_on` once, and a no stops the pull."""
    largest, fit, asked = 0, None, False
    async with aclosing(steps):  # A cancel stops the pull itself, not only this wrapper.
        async for step in steps:
            if step.total and step.total > largest:
                largest, fit = step.total, judge(step.total)
                if fit is not None and not fit.fits and not asked:
                    asked = True
                    if not await go_on(fit):
                        raise EngineError(f"stopped: {gb(fit.size)} will not fit ({fit.free})")
            # While bytes move the fit replaces Ollama's "pulling <digest>", which says little.
            yield Progress(fit.verdict if fit and step.total else step.status, step.completed, step.total)


def question(name: str, fit: SizeFit) -> str:
    """The question asked before getting a model that will not fit."""
    return f"{name} ({gb(fit.size)}) will not fit: {fit.free}. Get it anyway?"
