"""Every backend's models as one catalog: groups, fit estimates, state, favourites, fuzzy search."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from tui.config import Config
from tui.domain import ModelInfo
from tui.engines.base import Engine, ModelNotFound
from tui.fit.estimate import FitEstimate, Memory, estimate
from tui.fit.memory import MemorySnapshot
from tui.fit.offload import Offload
from tui.fit.units import gb
from tui.models.names import ModelChoice, resolve, split_name

MAX_FAVOURITES = 9


def label(model: ModelInfo) -> str:
    """A model's short name: its own label, else a file name without .gguf, else its name."""
    given = model.extra.get("label")
    if given:
        return str(given)
    name = model.name.rsplit("/", 1)[-1] if model.name.startswith("/") else model.name
    return name[:-5] if name.lower().endswith(".gguf") else name


def model_key(backend: str, name: str) -> str:
    """How a favourite is written in the config: "backend/name"."""
    return f"{backend}/{name}"


def context_text(tokens: int | None) -> str:
    if not tokens:
        return ""
    return f"{tokens // 1024}k" if tokens >= 1024 and tokens % 1024 == 0 else str(tokens)


def state_text(model: ModelInfo, now: float | None = None) -> str:
    """ "loaded · 3.0 GB VRAM · until 14:05" for a running model, "unusable" for a broken file."""
    if model.extra.get("error"):
        return "unusable"
    running = model.extra.get("running")
    if not running:
        return ""
    parts = ["loaded"]
    if running.get("gpu_layers"):  # The embedded engine says what it offloaded.
        vram = f" · {gb(running['size_vram'])}" if running.get("size_vram") else ""
        parts.append(f"GPU {running['gpu_layers']}/{running.get('layers') or '?'} layers{vram}")
    elif running.get("gpu_backend"):
        parts.append(str(running["gpu_backend"]))
    elif running.get("size_vram"):
        parts.append(f"{gb(running['size_vram'])} VRAM")
    until = running.get("expires_at")
    if until:
        now = time.time() if now is None else now
        parts.append("kept loaded" if until - now > 86400 else "until " + time.strftime("%H:%M", time.localtime(until)))
    return " · ".join(parts)


def fuzzy_score(query: str, text: str) -> float | None:
    """How well `query` matches `text` as a subsequence of each word (higher is better), or None."""
    text_l = text.lower()
    total = 0.0
    for word in query.lower().split():
        score, at, previous = 0.0, 0, -2
        for char in word:
            found = text_l.find(char, at)
            if found < 0:
                return None
            score += 1.0
            if found == previous + 1:
                score += 2.0  # Consecutive letters.
            if found == 0 or not text_l[found - 1].isalnum():
                score += 1.5  # Start of a word.
            score -= min(found - at, 10) * 0.1  # Gaps cost a little.
            previous, at = found, found + 1
        if word in text_l:
            score += 3.0
        total += score
    return total


@dataclass
class Catalog:
    """The models of every backend, the memory they would load into, and the user's favourites."""

    config: Config
    order: Sequence[str] = ()
    """Backend names in display order."""
    models: list[ModelInfo] = field(default_factory=list)
    offline: dict[str, str] = field(default_factory=dict)
    memory: MemorySnapshot | None = None
    loads_into: Mapping[str, str] = field(default_factory=dict)
    """Each backend's `Engine.loads_into`: "RAM", "VRAM" (else RAM) or "" (not on this machine)."""
    listed: set[str] = field(default_factory=set)
    """Backends that have answered (with models or with why they are offline)."""

    engines: Mapping[str, Engine] = field(default_factory=dict)
    """The engine of each backend, asked what it would load a model with (context, GPU layers)."""

    @classmethod
    def of(cls, config: Config, engines: Mapping[str, Engine]) -> Catalog:
        """An empty catalog for these engines: their order, and where each loads its models."""
        return cls(
            config,
            order=list(engines),
            loads_into={name: engine.loads_into for name, engine in engines.items()},
            engines=dict(engines),
        )

    def update(self, models: Iterable[ModelInfo], offline: dict[str, str], memory: MemorySnapshot | None) -> None:
        self.models, self.offline, self.memory = list(models), dict(offline), memory

    def set_backend(self, backend: str, models: Iterable[ModelInfo], problem: str | None) -> None:
        """Replace one backend's models (or mark it offline with `problem`)."""
        kept = [m for m in self.models if m.backend != backend] + list(models)
        self.models = [m for _, _, members in self.groups(kept) for m in members]
        self.offline.pop(backend, None)
        self.listed.add(backend)
        if problem is not None:
            self.offline[backend] = problem

    def groups(self, models: Sequence[ModelInfo] | None = None) -> list[tuple[str, str | None, list[ModelInfo]]]:
        """(backend, offline reason or None, its models sorted by label) in display order."""
        models = self.models if models is None else models
        names = list(dict.fromkeys([*self.order, *(m.backend for m in models), *self.offline]))
        result = []
        for backend in names:
            members = sorted((m for m in models if m.backend == backend), key=lambda m: label(m).lower())
            if members or backend in self.offline:
                result.append((backend, self.offline.get(backend), members))
        return result

    def find(self, backend: str, name: str) -> ModelInfo | None:
        return next((m for m in self.models if (m.backend, m.name) == (backend, name)), None)

    # Fit

    def context_for(self, model: ModelInfo) -> int:
        """Tokens of context the model would be loaded with: what its engine decides
        (`Engine.load_context`), else lchat's [engine] context_length, capped by the model's own."""
        cap = model.context_length or 1 << 30
        engine = self.engines.get(model.backend)
        wanted = engine.load_context(model) if engine is not None else None
        return min(wanted or self.config.engine.context_length, cap)

    def memory_for(self, model: ModelInfo) -> Memory | None:
        """Where the model would load: RAM or VRAM (else RAM) as its engine says (`loads_into`);
        None for remote servers, whose memory lchat cannot see."""
        if self.memory is None or model.extra.get("remote"):
            return None
        kind = self.loads_into.get(model.backend, "")
        if kind == "RAM":
            return _counting_its_own(self.memory.ram, model)
        if kind == "VRAM":
            return _counting_its_own(self.memory.gpu or self.memory.ram, model)
        return None

    def fit(self, model: ModelInfo) -> FitEstimate | Offload | None:
        """The estimate in layers where the engine splits a model between GPU and CPU, else in bytes."""
        if model.extra.get("error"):
            return None
        offload = self.offload(model)
        if offload is not None:
            return offload
        engine = self.engines.get(model.backend)
        swa_full = engine is not None and engine.full_swa_cache
        return estimate(model, self.context_for(model), self.memory_for(model), swa_full=swa_full)

    def offload(self, model: ModelInfo) -> Offload | None:
        """Layers the model's engine would put on the GPU (`Engine.offload_plan`); None where it
        does not split models between GPU and CPU, or without a GPU."""
        engine = self.engines.get(model.backend)
        if engine is None or self.memory is None or self.memory.gpu is None:
            return None
        return engine.offload_plan(model, self.context_for(model), _counting_its_own(self.memory.gpu, model))

    # Favourites

    @property
    def favourites(self) -> list[str]:
        return self.config.models.favourites

    def favourite_number(self, model: ModelInfo) -> int | None:
        key = model_key(model.backend, model.name)
        return self.favourites.index(key) + 1 if key in self.favourites else None

    def toggle_favourite(self, model: ModelInfo) -> int | None:
        """Add the model to the favourites (its number) or take it out (None)."""
        key = model_key(model.backend, model.name)
        if key in self.favourites:
            self.favourites.remove(key)
            return None
        if len(self.favourites) >= MAX_FAVOURITES:
            raise ValueError(f"there are already {MAX_FAVOURITES} favourites; remove one first (f on it)")
        self.favourites.append(key)
        return len(self.favourites)

    def favourite(self, number: int) -> tuple[str, str] | None:
        """(backend, name) of favourite `number` (1-based), or None when there is none."""
        if not 1 <= number <= len(self.favourites):
            return None
        key = self.favourites[number - 1]
        backend, name = split_name(key, [*self.order, *self.loads_into])
        if backend is None:  # A backend no longer configured: its name ends at the first "/".
            backend, _, name = key.partition("/")
        return backend, name

    # Search

    def search(self, query: str) -> list[ModelInfo]:
        """Usable models matching `query`, best first; favourites first when the query is empty.

        `BACKEND/NAME` searches that backend's models for NAME, as the CLI reads it; the model the
        CLI's resolver names (exactly, or by a unique part of its name) comes first."""
        usable = [m for m in self.models if not m.extra.get("error")]
        query = query.strip()
        if not query:

            def order(model: ModelInfo) -> tuple[int, str]:
                return (self.favourite_number(model) or MAX_FAVOURITES + 1, label(model).lower())

            return sorted(usable, key=order)
        backends = [*self.order, *(m.backend for m in usable)]
        try:
            named: ModelChoice | None = resolve(query, usable, backends=backends)
        except ModelNotFound:
            named = None
        backend, name = split_name(query, backends)
        pool = [m for m in usable if m.backend == backend] if backend is not None else usable
        scored = self._scored(name, pool) or (self._scored(query, usable) if backend is not None else [])
        found = [model for *_, model in sorted(scored, key=lambda item: item[:2])]
        first = [m for m in usable if named is not None and (m.backend, m.name) == (named.backend, named.name)]
        return first[:1] + [m for m in found if m not in first[:1]]

    @staticmethod
    def _scored(query: str, models: Sequence[ModelInfo]) -> list[tuple[float, str, ModelInfo]]:
        scored = []
        for model in models:
            score = fuzzy_score(query, f"{label(model)} {model.backend} {model.quantization}")
            if score is not None:
                scored.append((-score, label(model).lower(), model))
        return scored


def _counting_its_own(memory: Memory | None, model: ModelInfo) -> Memory | None:
    """`memory` with what a loaded model already holds of it counted as free: that model
    fits where it is, however little is left for anything else."""
    running = model.extra.get("running") or {}
    in_vram = running.get("size_vram") or 0
    held = in_vram if memory and memory.kind == "VRAM" else (running.get("size") or 0) - in_vram
    if memory is None or held <= 0:
        return memory
    return replace(memory, free=min(memory.free + held, memory.total or memory.free + held))
